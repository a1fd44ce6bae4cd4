"""Shrinking keeps the failure and makes the scenario smaller: on virtual time against the bundled handler's
core, and through ``vmotion-sim shrink -- CMD`` against a known-broken handler on real time."""

from __future__ import annotations

import collections
import json
import subprocess
import sys
from pathlib import Path
from typing import Any, Counter, Dict

from simulator.incident.scenario import Scenario, from_dict, load
from simulator.incident.shrink import shrink
from simulator.incident.virtual import run_virtual

BROKEN = Path(__file__).parents[1] / "conformance" / "broken_handler.py"


def doc(**fields: Any) -> Dict[str, Any]:
    return {"format": "vmotion-incident-scenario", "version": 1, "name": "noisy", **fields}


def test_a_failing_scenario_shrinks_to_its_cause_on_virtual_time() -> None:
    # A quiesce that fails under the no-ack policy forces the migration; everything else is noise.
    source = from_dict(doc(
        settings={"host_timeout": 10, "migration_seconds": 20}, handler={"on_quiesce_failure": "no-ack"},
        actions=[{"at": 2, "do": "set", "host_timeout": 12}, {"at": 5, "do": "vmotion", "migration_seconds": 20},
                 {"at": 60, "do": "vmotion", "migration_seconds": 8}, {"at": 90, "do": "set", "host_timeout": 9}],
        hooks={"quiesce": [{"seconds": 6, "exit_code": 1}, {"seconds": 3, "exit_code": 0}],
               "unquiesce": [{"seconds": 4, "exit_code": 0}]},
        duration=120, expect=["forced-migration"]))
    result = shrink(source, run_virtual)
    small = result.scenario
    assert "forced-migration" in run_virtual(small).outcome
    assert len(small.actions) == 1 and small.actions[0]["do"] == "vmotion"
    (quiesce,) = small.hooks["quiesce"]
    assert quiesce["exit_code"] == 1 and quiesce["seconds"] < 6
    assert small.size() < source.size() and small.duration < source.duration


def test_a_budget_of_runs_stops_the_shrinking_with_the_smallest_failing_scenario_so_far() -> None:
    source = from_dict(doc(
        settings={"host_timeout": 10, "migration_seconds": 20}, handler={"on_quiesce_failure": "no-ack"},
        actions=[{"at": 2, "do": "set", "host_timeout": 12}, {"at": 5, "do": "vmotion", "migration_seconds": 20},
                 {"at": 60, "do": "vmotion", "migration_seconds": 8}, {"at": 90, "do": "set", "host_timeout": 9}],
        hooks={"quiesce": [{"seconds": 6, "exit_code": 1}]}, duration=120, expect=["forced-migration"]))
    runs = []

    def counted(scenario: Scenario) -> Any:
        runs.append(scenario)
        return run_virtual(scenario)

    unbounded = shrink(source, run_virtual)
    bounded = shrink(source, counted, max_trials=4)
    assert len(runs) == bounded.trials <= 4 < unbounded.trials
    assert "forced-migration" in run_virtual(bounded.scenario).outcome
    assert unbounded.scenario.size() <= bounded.scenario.size() < source.size()
    assert shrink(source, run_virtual, max_trials=1).scenario.size() == source.size()  # only the first run


def test_vmotion_sim_shrink_against_a_known_broken_handler_keeps_its_failure(tmp_path: Path) -> None:
    source = tmp_path / "broken.json"
    # Short (each trial is a real run of its duration), yet with a noise action for delta debugging to remove: a
    # start fetched and never acked is a forced migration whether the timeout changes or not. 0.8 s leaves the
    # handler (polling every 0.2 s, a process per call) time to fetch the start on a loaded machine.
    source.write_text(json.dumps(doc(
        settings={"host_timeout": 1, "migration_seconds": 0.3},
        actions=[{"at": 0, "do": "vmotion"}, {"at": 0.7, "do": "set", "host_timeout": 2}],
        duration=0.8, expect=["forced-migration"])))
    command = [sys.executable, str(BROKEN), "--flaw", "never-acks", "--quiesce", "{quiesce}", "--unquiesce",
               "{unquiesce}"]
    done = subprocess.run([sys.executable, "-m", "simulator", "shrink", "--json", str(source), "--", *command],
                          capture_output=True, text=True, timeout=400, check=False)
    assert done.returncode == 0, done.stderr
    summary = json.loads(done.stdout)
    shrunk: Scenario = load(Path(summary["saved"]))
    assert "forced-migration" in shrunk.expect
    assert shrunk.size() < load(source).size() and len(shrunk.actions) == 1


def test_shrinking_keeps_a_broken_invariant_as_it_keeps_an_outcome() -> None:
    """A soak reproducer expects invariant:NAME; the shrunk scenario still breaks it (here: a runner that breaks
    sigterm-clean whenever a kill is not followed by a restart, over the bundled core's virtual run)."""
    def run(scenario: Scenario) -> Any:
        incident = run_virtual(scenario)
        lives = [a["do"] for a in scenario.actions if a["do"] in ("kill", "restart")]
        if lives and lives[-1] == "kill":
            incident.invariants = ["invariant:sigterm-clean"]
        return incident

    source = from_dict({**doc(
        settings={"host_timeout": 10}, duration=60, expect=["invariant:sigterm-clean"],
        actions=[{"at": 2, "do": "vmotion"}, {"at": 5, "do": "kill"}, {"at": 6, "do": "restart"},
                 {"at": 20, "do": "reboot"}, {"at": 30, "do": "kill"}, {"at": 40, "do": "set", "host_timeout": 4}]),
        "version": 2})
    result = shrink(source, run)
    assert [a["do"] for a in result.scenario.actions] == ["kill"]
    assert "invariant:sigterm-clean" in result.scenario.expect and result.failure == ["invariant:sigterm-clean"]


def test_a_candidate_that_failed_by_luck_is_not_kept() -> None:
    """On real time a short run can fail by luck (a poll just in time) and not the next time: the shrunk scenario
    is run once more, and where that run no longer fails, the shrinker steps back to one that does."""
    source = from_dict(doc(
        settings={"host_timeout": 10}, handler={"on_quiesce_failure": "no-ack"},
        actions=[{"at": 5, "do": "vmotion"}, {"at": 90, "do": "set", "host_timeout": 9}],
        hooks={"quiesce": [{"seconds": 6, "exit_code": 1}]}, duration=120, expect=["forced-migration"]))
    runs: Counter[float] = collections.Counter()

    def lucky_once(scenario: Scenario) -> Any:
        runs[scenario.duration] += 1
        if scenario.duration < 40 and runs[scenario.duration] > 1:  # short runs fail the first time only
            return run_virtual(from_dict(doc(duration=scenario.duration)))
        return run_virtual(scenario)

    result = shrink(source, lucky_once)
    assert 40 <= result.scenario.duration < source.duration
    assert "forced-migration" in result.scenario.expect
    assert "forced-migration" in lucky_once(result.scenario).outcome
