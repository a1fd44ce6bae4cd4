"""The pytest fixtures and `vmotion-sim check` at speed: the same option, the same limits."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from simulator.harness import HandlerLauncher, SimulatedVM, wait_until
from simulator.speed import EXIT_UNAVAILABLE, SpeedUnavailable


# x10, not x20: the probe reports its finish through a process of its own, and 1 s on the clock must hold that
# report's wall time on a loaded machine (at x20 it is 50 ms, and a loaded 2-core machine has missed it).
# A migration of 1 s: how long it runs is no part of the claim (the default 15 s is 1.5 s of wall time at x10).
@pytest.mark.vmotion_speed(10)
@pytest.mark.vmotion_sim(migration_seconds=1)
def test_the_fixtures_run_the_bundled_handler_through_a_120_s_timeout_at_speed(
    _speed_tools: None, vmotion_sim: SimulatedVM, vmotion_handler: HandlerLauncher
) -> None:
    sim = vmotion_sim.simulator
    assert sim.status()["effective_timeout"] == 120
    # 10 s on the simulator's clock, 1 s of wall time: on the real clock it would take 100 s of the simulator's.
    vmotion_handler.behave("quiesce", seconds=10)
    handler = vmotion_handler()
    assert wait_until(lambda: sim.status()["registrations"], 30), handler.log()
    op = sim.vmotion()
    assert wait_until(lambda: sim.operation(op)["phase"] == "done", 60), handler.log()
    done = sim.operation(op)
    assert done["acked"] and not done["forced"]
    started = vmotion_sim.probes("quiesce", "started")[0]["time"]
    finished = vmotion_sim.probes("quiesce", "finished")[0]["time"]
    assert 10.0 <= finished - started < 11.0  # the probe's sleep ran on the same clock as the simulator
    assert wait_until(lambda: vmotion_sim.probes("unquiesce", "finished"), 30)


@pytest.fixture
def static_launcher(static_program: Path, vmotion_sim: SimulatedVM) -> HandlerLauncher:
    return HandlerLauncher(str(static_program), vmotion_sim)


@pytest.mark.vmotion_speed(20)
def test_the_launcher_refuses_a_static_program_at_speed(_speed_tools: None, static_launcher: HandlerLauncher) -> None:
    try:
        with pytest.raises(SpeedUnavailable, match="statically linked"):
            static_launcher()
    finally:
        static_launcher.close()


def test_check_at_speed_refuses_a_static_program_with_exit_4(_speed_tools: None, static_program: Path) -> None:
    done = subprocess.run(
        [sys.executable, "-m", "simulator", "check", "--speed", "20", "--", str(static_program)],
        capture_output=True, text=True,
    )
    assert done.returncode == EXIT_UNAVAILABLE
    assert "statically linked" in done.stderr and done.stderr.count("\n") == 1


# x5, not x10: the scenario's 8-second timeout must hold a poll, a quiesce hook and an ack (each a process start)
# on a loaded machine; at x10 that is 0.8 s of wall time, and a loaded 2-core machine has missed it.
def test_check_runs_a_conformance_scenario_at_speed(_speed_tools: None) -> None:
    done = subprocess.run(
        [sys.executable, "-m", "simulator", "check", "--speed", "5", "--json", "-k", "acks_before_the_timeout"],
        capture_output=True, text=True, timeout=300,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    scenarios = json.loads(done.stdout)["scenarios"]
    assert scenarios and all(s["verdict"] == "passed" for s in scenarios)


@pytest.mark.parametrize("bad", ["0", "-3", "abc", "5000"])
def test_serve_refuses_a_bad_speed_with_exit_2(bad: str) -> None:
    done = subprocess.run([sys.executable, "-m", "simulator", "serve", "--speed", bad], capture_output=True,
                          text=True, timeout=60)
    assert done.returncode == 2 and done.stderr.count("\n") == 1 and "Traceback" not in done.stderr
