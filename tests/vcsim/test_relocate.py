"""RelocateVM_Task moves a VM between hosts, as the end-to-end vMotion story needs."""

from __future__ import annotations

import pytest
from pyVim.task import WaitForTask
from pyVmomi import vim, vmodl

from simulator.vcenter.vcsim import VcsimEndpoint
from tests.vcsim.vsphere import Connect, host_named, vm_named

pytestmark = pytest.mark.vcsim


def test_relocate_to_another_host_moves_the_vm(fresh_vcsim: VcsimEndpoint, connect: Connect) -> None:
    si = connect(fresh_vcsim)
    vm = vm_named(si, "DC0_C0_RP0_VM0")
    source = vm.runtime.host
    destination = next(h for h in source.parent.host if h != source)

    WaitForTask(vm.RelocateVM_Task(vim.vm.RelocateSpec(host=destination)))

    seen = connect(fresh_vcsim)  # read back through a separate session
    moved = vm_named(seen, "DC0_C0_RP0_VM0")
    assert moved.runtime.host.name == destination.name
    assert moved.summary.runtime.host.name == destination.name
    assert "DC0_C0_RP0_VM0" in [v.name for v in host_named(seen, destination.name).vm]
    assert "DC0_C0_RP0_VM0" not in [v.name for v in host_named(seen, source.name).vm]


def test_relocate_back_and_forth(fresh_vcsim: VcsimEndpoint, connect: Connect) -> None:
    si = connect(fresh_vcsim)
    vm = vm_named(si, "DC0_C0_RP0_VM1")
    hosts = sorted(vm.runtime.host.parent.host, key=lambda h: h.name)
    for host in [*hosts, hosts[0]]:
        WaitForTask(vm.RelocateVM_Task(vim.vm.RelocateSpec(host=host)))
        assert vm_named(connect(fresh_vcsim), "DC0_C0_RP0_VM1").runtime.host.name == host.name
    owners = [h.name for h in hosts if "DC0_C0_RP0_VM1" in [v.name for v in h.vm]]
    assert owners == [hosts[0].name]


def test_relocate_to_a_host_that_does_not_exist_changes_nothing(fresh_vcsim: VcsimEndpoint, connect: Connect) -> None:
    si = connect(fresh_vcsim)
    vm = vm_named(si, "DC0_C0_RP0_VM0")
    before = vm.runtime.host.name
    ghost = vim.HostSystem("host-does-not-exist", si._stub)
    with pytest.raises(vmodl.fault.InvalidArgument):
        WaitForTask(vm.RelocateVM_Task(vim.vm.RelocateSpec(host=ghost)))
    assert vm_named(connect(fresh_vcsim), "DC0_C0_RP0_VM0").runtime.host.name == before
