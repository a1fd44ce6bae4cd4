"""The `check` verdicts (pure; the facts are built here, the same rules run against vcsim elsewhere)."""

from __future__ import annotations

from dataclasses import replace

from helper.preflight import HostFacts, VmFacts, preflight

GOOD = VmFacts(
    name="app01",
    api_version=(8, 0, 1, 0),
    hardware_version=20,
    tools_version=(12, 2, 0),
    enabled=True,
    vm_timeout=None,
    current_host="esx1",
    hosts=[HostFacts("esx1", 120), HostFacts("esx2", 90)],
)


def statuses(facts: VmFacts) -> dict[str, str]:
    return {v.item: v.status for v in preflight(facts).verdicts}


def test_a_well_configured_vm_works_with_the_current_hosts_value() -> None:
    result = preflight(GOOD)
    assert result.works
    assert result.effective_timeout == 120
    assert result.effective_by_host == {"esx1": 120, "esx2": 90}
    assert set(statuses(GOOD).values()) == {"ok"}


def test_vm_timeout_lowers_the_effective_timeout_on_every_host() -> None:
    result = preflight(replace(GOOD, vm_timeout=60))
    assert result.effective_timeout == 60
    assert result.effective_by_host == {"esx1": 60, "esx2": 60}


def test_current_host_at_zero_fails_another_host_at_zero_warns() -> None:
    at_zero_here = replace(GOOD, hosts=[HostFacts("esx1", 0), HostFacts("esx2", 90)])
    assert not preflight(at_zero_here).works
    assert statuses(at_zero_here)["host esx1"] == "fail"

    at_zero_elsewhere = replace(GOOD, hosts=[HostFacts("esx1", 120), HostFacts("esx2", None)])
    assert preflight(at_zero_elsewhere).works
    assert statuses(at_zero_elsewhere)["host esx2"] == "warn"


def test_each_requirement_fails_on_its_own() -> None:
    for broken, item in [
        (replace(GOOD, api_version=(7, 0, 3, 0)), "api_version"),
        (replace(GOOD, api_version=(6, 5, 0, 0)), "api_version"),
        (replace(GOOD, hardware_version=19), "hardware_version"),
        (replace(GOOD, tools_version=(10, 3, 5)), "tools_version"),
        (replace(GOOD, enabled=False), "vmOpNotificationToAppEnabled"),
        (replace(GOOD, enabled=None), "vmOpNotificationToAppEnabled"),
    ]:
        assert not preflight(broken).works, item
        assert statuses(broken)[item] == "fail"


def test_unknowns_warn_but_do_not_fail() -> None:
    facts = replace(GOOD, hardware_version=None, tools_version=None)
    assert preflight(facts).works
    assert statuses(facts)["hardware_version"] == "warn"
    assert statuses(facts)["tools_version"] == "warn"


def test_vm_timeout_zero_warns_and_the_host_value_applies() -> None:
    facts = replace(GOOD, vm_timeout=0)
    assert statuses(facts)["vmOpNotificationTimeout"] == "warn"
    assert preflight(facts).effective_timeout == 120


def test_a_host_showing_1800_is_flagged_as_possibly_the_displayed_default() -> None:
    facts = replace(GOOD, hosts=[HostFacts("esx1", 1800)])
    assert statuses(facts)["host esx1"] == "warn"
    assert preflight(facts).works


def test_vm_on_no_host_fails_only_if_no_host_would_notify() -> None:
    nowhere = replace(GOOD, current_host=None)
    assert preflight(nowhere).works and preflight(nowhere).effective_timeout is None
    all_zero = replace(nowhere, hosts=[HostFacts("esx1", 0), HostFacts("esx2", 0)])
    assert not preflight(all_zero).works
    assert not preflight(replace(GOOD, current_host=None, hosts=[])).works


def test_vm_timeout_unreadable_below_8_0_0_1_is_not_reported_as_unset() -> None:
    facts = replace(GOOD, api_version=(7, 0, 3, 0))
    assert statuses(facts)["vmOpNotificationTimeout"] == "warn"
    assert "not readable" in {v.item: v.detail for v in preflight(facts).verdicts}["vmOpNotificationTimeout"]
