"""`vmotion-helper host` and `cluster` against the vCenter simulator, read back over a separate connection."""

from __future__ import annotations

import json
from typing import Callable

import pytest

from simulator.vcenter.vcsim import VcsimEndpoint
from tests.helper.conftest import call_helper
from tests.helper.readback import Readback, long_type

pytestmark = pytest.mark.vcsim
HOST = "DC0_C0_H0"
CLUSTER_HOSTS = ["DC0_C0_H0", "DC0_C0_H1", "DC0_C0_H2"]


def test_host_round_trip_including_zero(fresh_vcsim: VcsimEndpoint, readback: Callable[..., Readback]) -> None:
    check = readback(fresh_vcsim)
    run = call_helper(fresh_vcsim, "host", HOST, "--timeout", "120")
    assert run.code == 0, run
    assert check.host_timeout(HOST) == 120
    # The simulator accepts only an xsd:long, as ESXi does: the value came back typed as one.
    assert isinstance(check.host_timeout(HOST), long_type)
    assert "VmOpNotificationToApp.Timeout: 0 -> 120" in run.stdout

    assert call_helper(fresh_vcsim, "host", HOST, "--timeout", "0").code == 0
    assert check.host_timeout(HOST) == 0
    assert check.host_timeout("DC0_C0_H1") == 0 and check.host_timeout("DC0_H0") == 0


def test_host_show_and_idempotent_set(fresh_vcsim: VcsimEndpoint, readback: Callable[..., Readback]) -> None:
    readback(fresh_vcsim).set_host(HOST, 300)
    shown = json.loads(call_helper(fresh_vcsim, "host", HOST, "--json").stdout)
    assert shown["before"] == shown["after"] == 300 and shown["change"] is None

    again = call_helper(fresh_vcsim, "host", HOST, "--timeout", "300", "--json")
    assert again.code == 0, again
    assert json.loads(again.stdout)["changed"] is False
    assert "no change needed" in call_helper(fresh_vcsim, "host", HOST, "--timeout", "300").stdout

    forced = json.loads(call_helper(fresh_vcsim, "host", HOST, "--timeout", "300", "--force", "--json").stdout)
    assert forced["changed"] is True and forced["after"] == 300


def test_host_dry_run(fresh_vcsim: VcsimEndpoint, readback: Callable[..., Readback]) -> None:
    run = call_helper(fresh_vcsim, "host", HOST, "--timeout", "60", "--dry-run", "--json")
    assert run.code == 0, run
    report = json.loads(run.stdout)
    assert (report["before"], report["after"], report["change"], report["changed"]) == (0, 60, 60, False)
    assert readback(fresh_vcsim).host_timeout(HOST) == 0


def test_cluster_sets_every_host_of_the_cluster_only(
    fresh_vcsim: VcsimEndpoint, readback: Callable[..., Readback]
) -> None:
    check = readback(fresh_vcsim)
    check.set_host("DC0_C0_H1", 75)  # already right: must not be counted as changed
    run = call_helper(fresh_vcsim, "cluster", "DC0_C0", "--timeout", "75", "--json")
    assert run.code == 0, run
    report = json.loads(run.stdout)
    assert [h["host"] for h in report["hosts"]] == CLUSTER_HOSTS
    assert [h["changed"] for h in report["hosts"]] == [True, False, True]
    assert [check.host_timeout(h) for h in CLUSTER_HOSTS] == [75, 75, 75]
    assert check.host_timeout("DC0_H0") == 0  # the standalone host is not in the cluster

    assert call_helper(fresh_vcsim, "cluster", "DC0_C0", "--timeout", "0").code == 0
    assert [check.host_timeout(h) for h in CLUSTER_HOSTS] == [0, 0, 0]


def test_cluster_show_idempotent_and_dry_run(fresh_vcsim: VcsimEndpoint, readback: Callable[..., Readback]) -> None:
    check = readback(fresh_vcsim)
    shown = call_helper(fresh_vcsim, "cluster", "DC0_C0")
    assert shown.code == 0 and all(f"{h}: 0" in shown.stdout for h in CLUSTER_HOSTS), shown

    dry = json.loads(call_helper(fresh_vcsim, "cluster", "DC0_C0", "--timeout", "90", "--dry-run", "--json").stdout)
    assert [h["after"] for h in dry["hosts"]] == [90, 90, 90] and dry["changed"] is False
    assert [check.host_timeout(h) for h in CLUSTER_HOSTS] == [0, 0, 0]

    assert call_helper(fresh_vcsim, "cluster", "DC0_C0", "--timeout", "90").code == 0
    again = json.loads(call_helper(fresh_vcsim, "cluster", "DC0_C0", "--timeout", "90", "--json").stdout)
    assert again["changed"] is False and not any(h["changed"] for h in again["hosts"])
