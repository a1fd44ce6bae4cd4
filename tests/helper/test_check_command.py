"""`vmotion-helper check`: the preflight verdict against what the simulator really holds."""

from __future__ import annotations

import json
from typing import Any, Callable

import pytest

from helper.errors import ExitCode
from simulator.vcenter.vcsim import VcsimEndpoint
from tests.helper.conftest import call_helper
from tests.helper.readback import Readback

pytestmark = pytest.mark.vcsim
VM = "DC0_C0_RP0_VM0"
CLUSTER_HOSTS = ["DC0_C0_H0", "DC0_C0_H1", "DC0_C0_H2"]


def check_json(endpoint: VcsimEndpoint) -> tuple[int, dict[str, Any]]:
    run = call_helper(endpoint, "check", VM, "--json")
    assert run.code != ExitCode.INTERNAL, run.stderr  # in this process, a bug shows as exit 70, not a traceback
    return run.code, json.loads(run.stdout)


def statuses(report: dict[str, Any]) -> dict[str, str]:
    return {v["item"]: v["status"] for v in report["verdicts"]}


def test_default_inventory_fails_on_the_flag_and_the_hosts_at_zero(fresh_vcsim: VcsimEndpoint) -> None:
    code, report = check_json(fresh_vcsim)
    assert code == 1 and report["works"] is False
    assert statuses(report)["vmOpNotificationToAppEnabled"] == "fail"
    assert report["effective_timeout"] == 0
    assert (report["api_version"], report["hardware_version"], report["tools_version"]) == ("8.0.1.0", 20, "12.3.5")


def test_configured_through_the_helper_it_passes_with_min_of_host_and_vm(
    fresh_vcsim: VcsimEndpoint, readback: Callable[..., Readback]
) -> None:
    assert call_helper(fresh_vcsim, "cluster", "DC0_C0", "--timeout", "120").code == 0
    assert call_helper(fresh_vcsim, "vm", VM, "--enable", "--timeout", "60").code == 0
    code, report = check_json(fresh_vcsim)
    assert code == 0 and report["works"] is True
    assert report["current_host"] == readback(fresh_vcsim).current_host(VM)
    assert report["effective_timeout"] == 60
    assert [h["host"] for h in report["hosts"]] == CLUSTER_HOSTS
    assert {h["effective_timeout"] for h in report["hosts"]} == {60}
    assert set(statuses(report).values()) == {"ok"}

    text = call_helper(fresh_vcsim, "check", VM)
    assert text.code == 0 and "notifications would work" in text.stdout


def test_vm_timeout_zero_or_unset_leaves_the_host_value(
    fresh_vcsim: VcsimEndpoint, readback: Callable[..., Readback]
) -> None:
    check = readback(fresh_vcsim)
    for host in CLUSTER_HOSTS:
        check.set_host(host, 90)
    check.set_vm(VM, enabled=True, timeout=0)
    code, report = check_json(fresh_vcsim)
    assert code == 0 and report["effective_timeout"] == 90 and report["vmOpNotificationTimeout"] == 0
    assert statuses(report)["vmOpNotificationTimeout"] == "warn"
    check.set_vm(VM, timeout=-1)
    code, report = check_json(fresh_vcsim)
    assert code == 0 and report["effective_timeout"] == 90 and report["vmOpNotificationTimeout"] is None


def test_a_host_at_zero_warns_elsewhere_and_fails_where_the_vm_runs(
    fresh_vcsim: VcsimEndpoint, readback: Callable[..., Readback]
) -> None:
    check = readback(fresh_vcsim)
    current = check.current_host(VM)
    other = next(h for h in CLUSTER_HOSTS if h != current)
    assert call_helper(fresh_vcsim, "cluster", "DC0_C0", "--timeout", "120").code == 0
    assert call_helper(fresh_vcsim, "vm", VM, "--enable").code == 0

    assert call_helper(fresh_vcsim, "host", other, "--timeout", "0").code == 0
    code, report = check_json(fresh_vcsim)
    assert code == 0 and statuses(report)[f"host {other}"] == "warn"
    assert report["effective_timeout"] == 120

    assert call_helper(fresh_vcsim, "host", current, "--timeout", "0").code == 0
    code, report = check_json(fresh_vcsim)
    assert code == 1 and statuses(report)[f"host {current}"] == "fail"
    text = call_helper(fresh_vcsim, "check", VM)
    assert text.code == 1 and "would NOT work" in text.stdout


def test_standalone_host_vm_is_judged_on_its_own_host(fresh_vcsim: VcsimEndpoint) -> None:
    assert call_helper(fresh_vcsim, "host", "DC0_H0", "--timeout", "30").code == 0
    assert call_helper(fresh_vcsim, "vm", "DC0_H0_VM0", "--enable").code == 0
    run = call_helper(fresh_vcsim, "check", "DC0_H0_VM0", "--json")
    report = json.loads(run.stdout)
    assert run.code == 0 and [h["host"] for h in report["hosts"]] == ["DC0_H0"]
    assert report["effective_timeout"] == 30


def test_old_hardware_and_missing_tools(vcsim_factory: Callable[..., VcsimEndpoint]) -> None:
    endpoint = vcsim_factory("-hw-version", "vmx-19", "-tools-version", "0", "-host-timeout", "120")
    assert call_helper(endpoint, "vm", VM, "--enable").code == 0
    code, report = check_json(endpoint)
    assert code == 1
    assert statuses(report)["hardware_version"] == "fail"
    assert statuses(report)["tools_version"] == "warn"  # not reported: cannot tell, so it warns
