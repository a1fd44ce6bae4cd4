"""`vmotion-helper vm` against the vCenter simulator, every change read back over a separate connection."""

from __future__ import annotations

import json
from typing import Callable

import pytest

from simulator.vcenter.vcsim import VcsimEndpoint
from tests.helper.conftest import call_helper
from tests.helper.readback import Readback

pytestmark = pytest.mark.vcsim
VM = "DC0_C0_RP0_VM0"


def test_enable_and_timeout_zero_round_trip(fresh_vcsim: VcsimEndpoint, readback: Callable[..., Readback]) -> None:
    check = readback(fresh_vcsim)
    assert check.vm_fields(VM) == (False, -1)  # the unset values a real vCenter reports

    run = call_helper(fresh_vcsim, "vm", VM, "--enable", "--timeout", "0")
    assert run.code == 0, run
    assert check.vm_fields(VM) == (True, 0)  # 0 is stored, not ignored (PoC bug 2)
    assert "vmOpNotificationTimeout: unset -> 0" in run.stdout
    assert run.stdout.rstrip().endswith("changed")


def test_change_unset_and_disable_each_read_back(fresh_vcsim: VcsimEndpoint, readback: Callable[..., Readback]) -> None:
    check = readback(fresh_vcsim)
    assert call_helper(fresh_vcsim, "vm", VM, "--enable", "--timeout", "120").code == 0
    assert check.vm_fields(VM) == (True, 120)
    assert call_helper(fresh_vcsim, "vm", VM, "--timeout", "45").code == 0
    assert check.vm_fields(VM) == (True, 45)
    assert call_helper(fresh_vcsim, "vm", VM, "--timeout", "unset").code == 0
    assert check.vm_fields(VM) == (True, -1)
    assert call_helper(fresh_vcsim, "vm", VM, "--disable").code == 0
    assert check.vm_fields(VM) == (False, -1)
    assert check.vm_fields("DC0_C0_RP0_VM1") == (False, -1)  # only the named VM changed


def test_show_reads_back_both_fields(fresh_vcsim: VcsimEndpoint, readback: Callable[..., Readback]) -> None:
    readback(fresh_vcsim).set_vm(VM, enabled=True, timeout=75)  # set behind the helper's back
    run = call_helper(fresh_vcsim, "vm", VM, "--json")
    assert run.code == 0, run
    report = json.loads(run.stdout)
    expected = {"vmOpNotificationToAppEnabled": True, "vmOpNotificationTimeout": 75}
    assert report["before"] == report["after"] == expected
    assert report["changed"] is False and report["change"] == {}
    text = call_helper(fresh_vcsim, "vm", VM)
    assert "vmOpNotificationTimeout: 75" in text.stdout  # the PoC could not show it
    assert "no change needed" not in text.stdout  # nothing was asked for


def test_same_values_again_start_no_task(fresh_vcsim: VcsimEndpoint, readback: Callable[..., Readback]) -> None:
    check = readback(fresh_vcsim)
    assert call_helper(fresh_vcsim, "vm", VM, "--enable", "--timeout", "0").code == 0
    tasks = check.reconfigure_tasks(VM)
    assert tasks == 1

    again = call_helper(fresh_vcsim, "vm", VM, "--enable", "--timeout", "0", "--json")
    assert again.code == 0, again
    report = json.loads(again.stdout)
    assert report["changed"] is False and report["change"] == {}
    assert check.reconfigure_tasks(VM) == tasks  # no ReconfigVM_Task reached the server
    assert "no change needed" in call_helper(fresh_vcsim, "vm", VM, "--enable").stdout
    assert check.reconfigure_tasks(VM) == tasks


def test_only_the_differing_field_is_sent(fresh_vcsim: VcsimEndpoint, readback: Callable[..., Readback]) -> None:
    check = readback(fresh_vcsim)
    check.set_vm(VM, enabled=True, timeout=30)
    report = json.loads(call_helper(fresh_vcsim, "vm", VM, "--enable", "--timeout", "90", "--json").stdout)
    assert report["change"] == {"vmOpNotificationTimeout": 90}
    assert check.vm_fields(VM) == (True, 90)


def test_dry_run_shows_the_change_and_makes_none(fresh_vcsim: VcsimEndpoint, readback: Callable[..., Readback]) -> None:
    check = readback(fresh_vcsim)
    run = call_helper(fresh_vcsim, "vm", VM, "--enable", "--timeout", "30", "--dry-run", "--json")
    assert run.code == 0, run
    report = json.loads(run.stdout)
    assert report["dry_run"] is True and report["changed"] is False
    assert report["change"] == {"vmOpNotificationToAppEnabled": True, "vmOpNotificationTimeout": 30}
    assert report["after"] == {"vmOpNotificationToAppEnabled": True, "vmOpNotificationTimeout": 30}
    assert check.vm_fields(VM) == (False, -1)
    assert check.reconfigure_tasks(VM) == 0
    text = call_helper(fresh_vcsim, "vm", VM, "--disable", "--timeout", "5", "--dry-run")
    assert "dry run" in text.stdout and check.vm_fields(VM) == (False, -1)
