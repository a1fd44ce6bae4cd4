"""The regression gate on real runs: the bundled handler, its quiesce command wrapped so that it can be made
slower between two runs, checked against the baseline the first run saved."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any, Dict

import pytest

SCENARIO = "acks_before_the_timeout"  # quiesce 1 s of an 8 s timeout: room to get slower without being forced
SLOWER = '#!/bin/sh\nsleep "$QUIESCE_DELAY_S"\nexec "$@"\n'


def check(tmp_path: Path, delay: float, *gate: str) -> subprocess.CompletedProcess[str]:
    slower = tmp_path / "slower-quiesce"
    command = ["{handler}", "--name", "{name}", "--interval", "0.2", "--quiesce", f"{slower} {{quiesce}}",
               "--unquiesce", "{unquiesce}", "--state-file", "{state_file}"]
    return subprocess.run(
        [sys.executable, "-m", "simulator", "check", "-k", SCENARIO, "--json", *gate, "--", *command],
        capture_output=True, text=True, cwd=tmp_path, timeout=120, stdin=subprocess.DEVNULL,
        env={**os.environ, "QUIESCE_DELAY_S": str(delay)},
    )


@pytest.fixture(scope="module")
def gate(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The directory of the gated runs, with the wrapper that makes the quiesce slower."""
    directory = tmp_path_factory.mktemp("gate")
    (directory / "slower-quiesce").write_text(SLOWER)
    (directory / "slower-quiesce").chmod(0o755)
    return directory


@pytest.fixture(scope="module")
def baseline(gate: Path) -> Path:
    """One baseline, saved by the first run; each test gates a run of its own on it (and only reads it)."""
    saved = check(gate, 0, "--save-baseline", "baseline.json")
    assert saved.returncode == 0, saved.stdout + saved.stderr
    data = json.loads((gate / "baseline.json").read_text())
    [(name, timings)] = data["scenarios"].items()
    assert name.startswith("A vMotion acknowledged in time: ") and timings["start_to_ack_s"] >= 1.0
    return gate / "baseline.json"


def only_scenario(done: subprocess.CompletedProcess[str]) -> Dict[str, Any]:
    [scenario] = json.loads(done.stdout)["scenarios"]
    return dict(scenario)


def test_a_quiesce_that_got_slower_fails_the_gate_and_says_by_how_much(baseline: Path, gate: Path) -> None:
    done = check(gate, 2.0, "--baseline", str(baseline))
    assert done.returncode == 1, done.stdout + done.stderr
    scenario = only_scenario(done)
    assert scenario["verdict"] == "failed"
    assert scenario["reason"].startswith("slower than the baseline: start to ack ")
    before = json.loads(baseline.read_text())["scenarios"]
    [expected] = before.values()
    assert f"vs baseline {expected['start_to_ack_s']:.2f} s (+" in scenario["reason"]


def test_an_unchanged_handler_passes_the_gate(baseline: Path, gate: Path) -> None:
    done = check(gate, 0, "--baseline", str(baseline), "--tolerance", "60")
    assert done.returncode == 0, done.stdout + done.stderr
    assert only_scenario(done)["verdict"] == "passed"


@pytest.mark.parametrize(("content", "message"), [
    ("[]", "is not a baseline saved by --save-baseline"), ("{", "is not JSON"),
])
def test_a_baseline_that_is_not_one_is_bad_usage(tmp_path: Path, content: str, message: str) -> None:
    (tmp_path / "b.json").write_text(content)
    done = subprocess.run([sys.executable, "-m", "simulator", "check", "--baseline", "b.json"], capture_output=True,
                          text=True, cwd=tmp_path, timeout=60, stdin=subprocess.DEVNULL)
    assert done.returncode == 2 and done.stderr.startswith("vmotion-sim check: ") and message in done.stderr
    assert len(done.stderr.splitlines()) == 1
