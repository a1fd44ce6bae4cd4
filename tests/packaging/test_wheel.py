"""The built wheel, installed with its ``[check]`` extra into a fresh virtual environment outside the checkout,
used from a directory that holds packages of its own named ``handler`` and ``simulator``: ours run, not theirs.

This is also the suite's one full conformance run of the bundled handler (``vmotion-sim check``, every scenario).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Dict, List

import pytest

from tests.packaging.conftest import make_their_packages, run, user_env

REPO = Path(__file__).resolve().parents[2]
CONFORMANCE_SCENARIOS = 10
CYCLE_TIMINGS = {"start_to_ack_s", "quiesce_s", "ack_after_quiesce_s", "end_to_unquiesce_s"}
# Two scenarios that stop the handler while idle, and how many vMotions each one's journal holds.
IDLE_SCENARIOS = {"Killed with SIGKILL while idle, then restarted, it still handles the next vMotion": 1,
                  "SIGTERM while idle": 0}
THEIR_TEST = '''
import pytest

from simulator.harness import wait_until


@pytest.mark.vmotion_sim(host_timeout=10, migration_seconds=1)
def test_the_bundled_handler_registers_and_stops_cleanly(vmotion_sim, vmotion_handler):
    handler = vmotion_handler()
    assert wait_until(lambda: vmotion_sim.simulator.status()["registrations"], timeout=15), handler.log()
    assert vmotion_sim.simulator.status()["effective_timeout"] == 10  # the marker's settings
    assert handler.stop() == 0, handler.log()
    assert vmotion_sim.simulator.status()["registrations"] == []
'''


@pytest.fixture
def their_project(tmp_path: Path) -> Path:
    return make_their_packages(tmp_path)


def test_the_wheel_carries_the_license_and_the_scenarios(venv: Path) -> None:
    [site] = (venv / "lib").glob("python*/site-packages")
    [dist_info] = site.glob("vmotion_notification_harness-*.dist-info")
    licence = next(dist_info.rglob("LICENSE")).read_text()
    assert "Apache License" in licence and "Version 2.0" in licence
    assert len(list((site / "simulator" / "harness" / "scenarios").glob("*.feature"))) >= 8
    assert not (site / "features").exists() and not (site / "tests").exists()


def test_vmotion_sim_check_passes_the_bundled_handler_on_every_scenario(full_check: Path) -> None:
    results: Dict[str, Any] = json.loads((full_check / "results.json").read_text())
    assert (results["format"], results["format_version"]) == ("vmotion-check", 1)
    assert results["summary"] == {"passed": CONFORMANCE_SCENARIOS, "failed": 0, "warnings": []}
    scenarios: List[Dict[str, Any]] = results["scenarios"]
    assert len(scenarios) == CONFORMANCE_SCENARIOS
    for v in scenarios:
        assert v["verdict"] == "passed" and v["reason"] == "" and v["mistakes"] == []
        timings = v["timings"]
        # Every scenario is timed; one with a vMotion also times the steps it saw, within the scenario's time.
        assert "total_s" in timings and set(timings) <= {"total_s", "margin_s", *CYCLE_TIMINGS}, v
        cycle = sum(timings.get(name, 0.0) for name in ("start_to_ack_s", "end_to_unquiesce_s"))
        assert timings["total_s"] >= cycle, v
    acked = next(v for v in scenarios if "acks before the timeout" in v["name"])
    timings = acked["timings"]
    # The scenario: quiesce 0.5 s, timeout 8 s, migration 0.2 s.
    assert 8 > timings["start_to_ack_s"] >= timings["quiesce_s"] + timings["ack_after_quiesce_s"]
    assert timings["quiesce_s"] >= 0.5
    assert timings["total_s"] >= timings["start_to_ack_s"] + 0.2 + timings["end_to_unquiesce_s"]
    [op] = acked["operations"]
    assert op["forced"] is False and 0 < op["margin_s"] < 8 - timings["quiesce_s"]


def test_check_reports_every_verdict_when_pytest_runs_under_xdist(full_check: Path) -> None:
    """The full check runs with PYTEST_ADDOPTS="-n 4": the verdicts come from the workers, not from the controller.
    (It was a check of its own, of two scenarios, in tests/conformance: those scenarios ran twice.)"""
    scenarios = json.loads((full_check / "results.json").read_text())["scenarios"]
    # xdist lost no timing, and no journal: each scenario's operations come from its own.
    assert all(v["verdict"] == "passed" and v["timings"]["total_s"] > 0 for v in scenarios), scenarios
    operations = {v["name"].split(": ", 1)[1]: len(v["operations"]) for v in scenarios}
    assert {name: operations.get(name) for name in IDLE_SCENARIOS} == IDLE_SCENARIOS


def test_the_fixtures_run_our_handler_not_the_one_in_the_current_directory(venv: Path, their_project: Path) -> None:
    (their_project / "test_theirs.py").write_text(THEIR_TEST)
    done = run([str(venv / "bin" / "pytest"), "-q", "-p", "no:cacheprovider", "test_theirs.py"], their_project,
                user_env(venv))
    assert done.returncode == 0, done.stdout + done.stderr
    assert "1 passed" in done.stdout


def test_the_systemd_unit_and_the_example_hook_are_reachable_without_a_checkout(venv: Path, tmp_path: Path) -> None:
    unit = run([str(venv / "bin" / "vmotion-handler"), "--print-systemd-unit"], tmp_path, user_env(venv))
    assert unit.returncode == 0 and "[Service]" in unit.stdout and "RestartPreventExitStatus=2" in unit.stdout
    hook = run([str(venv / "bin" / "vmotion-handler"), "--print-example-hook"], tmp_path, user_env(venv))
    assert hook.returncode == 0 and hook.stdout.startswith("#!/bin/sh") and "VMOTION_OPERATION_ID" in hook.stdout
