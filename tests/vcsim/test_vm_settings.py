"""The two VM settings of vSphere 8 notifications, through pyvmomi against the simulator (protocol.md 8.1)."""

from __future__ import annotations

from typing import Any

import pytest
from pyVim.task import WaitForTask
from pyVmomi import vim, vmodl

from simulator.vcenter.vcsim import VcsimEndpoint
from tests.vcsim.vsphere import Connect, vm_named

pytestmark = pytest.mark.vcsim

VM = "DC0_C0_RP0_VM0"


def reconfigure(vm: Any, **fields: Any) -> None:
    WaitForTask(vm.ReconfigVM_Task(vim.vm.ConfigSpec(**fields)))


def read_back(connect: Connect, endpoint: VcsimEndpoint) -> tuple[Any, Any]:
    """Both values as a separate session sees them (not the session that changed them)."""
    config = vm_named(connect(endpoint), VM).config
    return config.vmOpNotificationToAppEnabled, config.vmOpNotificationTimeout


def test_api_version_is_new_enough_for_both_fields(vcsim: VcsimEndpoint, connect: Connect) -> None:
    about = connect(vcsim).content.about
    assert about.apiVersion == "8.0.1.0"
    assert about.apiType == "VirtualCenter"


def test_never_set_reads_false_and_minus_one_as_vcenter_reports(fresh_vcsim: VcsimEndpoint, connect: Connect) -> None:
    assert read_back(connect, fresh_vcsim) == (False, -1)


@pytest.mark.parametrize("enabled", [True, False])
def test_enabled_flag_round_trips(fresh_vcsim: VcsimEndpoint, connect: Connect, enabled: bool) -> None:
    vm = vm_named(connect(fresh_vcsim), VM)
    reconfigure(vm, vmOpNotificationToAppEnabled=not enabled)
    reconfigure(vm, vmOpNotificationToAppEnabled=enabled)
    assert read_back(connect, fresh_vcsim) == (enabled, -1)


@pytest.mark.parametrize("timeout", [0, 60, 120])
def test_timeout_round_trips_and_zero_is_a_value(fresh_vcsim: VcsimEndpoint, connect: Connect, timeout: int) -> None:
    vm = vm_named(connect(fresh_vcsim), VM)
    reconfigure(vm, vmOpNotificationToAppEnabled=True, vmOpNotificationTimeout=timeout)
    assert read_back(connect, fresh_vcsim) == (True, timeout)


def test_zero_replaces_an_earlier_timeout(fresh_vcsim: VcsimEndpoint, connect: Connect) -> None:
    vm = vm_named(connect(fresh_vcsim), VM)
    reconfigure(vm, vmOpNotificationTimeout=60)
    reconfigure(vm, vmOpNotificationTimeout=0)
    assert read_back(connect, fresh_vcsim) == (False, 0)


def test_a_spec_without_the_fields_leaves_them_alone(fresh_vcsim: VcsimEndpoint, connect: Connect) -> None:
    vm = vm_named(connect(fresh_vcsim), VM)
    # VMware's own script sets the two in separate reconfigures (protocol.md 8.1).
    reconfigure(vm, vmOpNotificationToAppEnabled=True)
    reconfigure(vm, vmOpNotificationTimeout=90)
    reconfigure(vm, annotation="unrelated change")
    assert read_back(connect, fresh_vcsim) == (True, 90)


def test_other_vms_are_not_touched(fresh_vcsim: VcsimEndpoint, connect: Connect) -> None:
    si = connect(fresh_vcsim)
    reconfigure(vm_named(si, VM), vmOpNotificationToAppEnabled=True, vmOpNotificationTimeout=30)
    other = vm_named(connect(fresh_vcsim), "DC0_C0_RP0_VM1").config
    assert (other.vmOpNotificationToAppEnabled, other.vmOpNotificationTimeout) == (False, -1)


def test_negative_timeout_other_than_unset_is_refused(fresh_vcsim: VcsimEndpoint, connect: Connect) -> None:
    vm = vm_named(connect(fresh_vcsim), VM)
    with pytest.raises(vmodl.fault.InvalidArgument) as raised:
        reconfigure(vm, vmOpNotificationToAppEnabled=True, vmOpNotificationTimeout=-5)
    assert raised.value.invalidProperty == "vmOpNotificationTimeout"
    # Checked before anything changed: the flag in the same spec was not applied either.
    assert read_back(connect, fresh_vcsim) == (False, -1)


def test_an_older_api_version_drops_the_timeout_like_pyvmomi_does_with_vcenter(
    vcsim_factory: Any, connect: Connect
) -> None:
    # Issue 4, fact 1: with 7.0.3.0 negotiated pyvmomi sends the flag but silently drops the timeout.
    old = vcsim_factory("-api-version", "7.0.3.0")
    si = connect(old)
    assert si.content.about.apiVersion == "7.0.3.0"
    reconfigure(vm_named(si, VM), vmOpNotificationToAppEnabled=True, vmOpNotificationTimeout=60)
    assert read_back(connect, old) == (True, -1)


def test_vms_report_what_a_preflight_check_looks_for(vcsim: VcsimEndpoint, connect: Connect) -> None:
    vm = vm_named(connect(vcsim), VM)
    assert vm.config.version == "vmx-20"
    assert vm.guest.toolsVersion == "12389"  # 12.3.5, i.e. >= 11.0
    assert vm.guest.toolsRunningStatus == "guestToolsRunning"
