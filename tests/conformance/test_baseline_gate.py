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


@pytest.fixture
def baseline(tmp_path: Path) -> Path:
    (tmp_path / "slower-quiesce").write_text(SLOWER)
    (tmp_path / "slower-quiesce").chmod(0o755)
    saved = check(tmp_path, 0, "--save-baseline", "baseline.json")
    assert saved.returncode == 0, saved.stdout + saved.stderr
    data = json.loads((tmp_path / "baseline.json").read_text())
    [(name, timings)] = data["scenarios"].items()
    assert name.startswith("A vMotion acknowledged in time: ") and timings["start_to_ack_s"] >= 1.0
    return tmp_path / "baseline.json"


def only_scenario(done: subprocess.CompletedProcess[str]) -> Dict[str, Any]:
    [scenario] = json.loads(done.stdout)["scenarios"]
    return dict(scenario)


def test_a_quiesce_that_got_slower_fails_the_gate_and_says_by_how_much(baseline: Path, tmp_path: Path) -> None:
    done = check(tmp_path, 2.0, "--baseline", str(baseline))
    assert done.returncode == 1, done.stdout + done.stderr
    scenario = only_scenario(done)
    assert scenario["verdict"] == "failed"
    assert scenario["reason"].startswith("slower than the baseline: start to ack ")
    before = json.loads(baseline.read_text())["scenarios"]
    [expected] = before.values()
    assert f"vs baseline {expected['start_to_ack_s']:.2f} s (+" in scenario["reason"]


def test_an_unchanged_handler_passes_the_gate(baseline: Path, tmp_path: Path) -> None:
    done = check(tmp_path, 0, "--baseline", str(baseline), "--tolerance", "60")
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
