"""Planning: only what differs is sent, nothing at all when nothing differs (pure; no server)."""

from __future__ import annotations

from helper.changes import VmChange, VmSettings, plan_host_change, plan_vm_change


def test_unset_server_values_read_as_false_and_unset() -> None:
    assert VmSettings.from_server(None, None) == VmSettings(enabled=False, timeout=None)
    assert VmSettings.from_server(False, -1) == VmSettings(enabled=False, timeout=None)
    assert VmSettings.from_server(True, 0) == VmSettings(enabled=True, timeout=0)


def test_nothing_requested_or_everything_equal_plans_nothing() -> None:
    current = VmSettings(enabled=True, timeout=0)
    assert plan_vm_change(current, None, None).is_empty
    assert plan_vm_change(current, True, 0).is_empty
    assert plan_vm_change(VmSettings(False, None), False, -1).is_empty  # already off and unset


def test_zero_is_a_value_not_a_missing_argument() -> None:
    change = plan_vm_change(VmSettings(enabled=True, timeout=120), None, 0)
    assert change == VmChange(enabled=None, timeout=0)
    assert change.applied_to(VmSettings(True, 120)) == VmSettings(True, 0)


def test_only_the_differing_field_is_planned() -> None:
    assert plan_vm_change(VmSettings(True, 60), True, 90) == VmChange(enabled=None, timeout=90)
    assert plan_vm_change(VmSettings(False, 90), True, 90) == VmChange(enabled=True, timeout=None)


def test_unset_sends_minus_one_and_reads_back_unset() -> None:
    change = plan_vm_change(VmSettings(True, 60), None, -1)
    assert change == VmChange(timeout=-1)
    assert change.applied_to(VmSettings(True, 60)) == VmSettings(True, None)


def test_host_change_only_when_different_unless_forced() -> None:
    assert plan_host_change(120, 120) is None
    assert plan_host_change(120, 0) == 0
    assert plan_host_change(None, 0) == 0  # absent option: write the explicit 0
    assert plan_host_change(1800, 1800, force=True) == 1800
