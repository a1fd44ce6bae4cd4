"""The regression gate on real runs: the bundled handler, by its own command line, checked once to save the
baseline, then twice at once against it: unchanged, and with its quiesce command wrapped to be slower."""

from __future__ import annotations

import concurrent.futures
import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any, Dict, List

import pytest

SCENARIO = "acks_before_the_timeout"  # quiesce 0.5 s of an 8 s timeout: room to get slower without being forced
SLOWER = '#!/bin/sh\nsleep "$QUIESCE_DELAY_S"\nexec "$@"\n'
SLOWER_BY_S = 2.0


def bundled(quiesce: str = "{quiesce}") -> List[str]:
    return ["{handler}", "--name", "{name}", "--interval", "0.2", "--quiesce", quiesce, "--unquiesce", "{unquiesce}",
            "--state-file", "{state_file}"]


def check(directory: Path, *args: str, delay: float = 0) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "simulator", "check", "-k", SCENARIO, *args], capture_output=True, text=True,
        cwd=directory, timeout=120, stdin=subprocess.DEVNULL, env={**os.environ, "QUIESCE_DELAY_S": str(delay)},
    )


@pytest.fixture(scope="module")
def gate(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The directory of the runs, with the wrapper that makes the quiesce slower."""
    directory = tmp_path_factory.mktemp("gate")
    (directory / "slower-quiesce").write_text(SLOWER)
    (directory / "slower-quiesce").chmod(0o755)
    return directory


@pytest.fixture(scope="module")
def saved(gate: Path) -> subprocess.CompletedProcess[str]:
    """The run that saves the baseline: the bundled handler by its own command line, as a table."""
    return check(gate, "--save-baseline", "baseline.json", "--", *bundled())


@pytest.fixture(scope="module")
def baseline(saved: subprocess.CompletedProcess[str], gate: Path) -> Path:
    """One baseline, saved by the first run; each gated run reads it (and only reads it)."""
    assert saved.returncode == 0, saved.stdout + saved.stderr
    data = json.loads((gate / "baseline.json").read_text())
    [(name, timings)] = data["scenarios"].items()
    assert name.startswith("A vMotion acknowledged in time: ") and timings["start_to_ack_s"] >= 0.5
    return gate / "baseline.json"


@pytest.fixture(scope="module")
def gated(baseline: Path, gate: Path) -> Dict[str, subprocess.CompletedProcess[str]]:
    """The two runs gated on the baseline, at once: each mostly waits on the scenario's real seconds."""
    runs = {
        "slower": (["--json", "--baseline", str(baseline), "--", *bundled(f"{gate / 'slower-quiesce'} {{quiesce}}")],
                   SLOWER_BY_S),
        "unchanged": (["--json", "--baseline", str(baseline), "--", *bundled()],
                      0.0),
    }
    with concurrent.futures.ThreadPoolExecutor(len(runs)) as pool:
        futures = {name: pool.submit(check, gate, *args, delay=delay) for name, (args, delay) in runs.items()}
        return {name: future.result() for name, future in futures.items()}


def only_scenario(done: subprocess.CompletedProcess[str]) -> Dict[str, Any]:
    [scenario] = json.loads(done.stdout)["scenarios"]
    return dict(scenario)


def test_check_of_the_bundled_handler_by_its_own_command_line_prints_a_table(
    saved: subprocess.CompletedProcess[str],
) -> None:
    assert saved.returncode == 0, saved.stdout + saved.stderr
    lines = saved.stdout.splitlines()
    assert lines[0].split() == ["scenario", "verdict", "why", "timings"]
    assert "passed" in lines[1] and "start to ack" in lines[1]
    assert lines[-1] == "1 passed, 0 failed"


def test_a_quiesce_that_got_slower_fails_the_gate_and_says_by_how_much(
    gated: Dict[str, subprocess.CompletedProcess[str]], baseline: Path,
) -> None:
    done = gated["slower"]
    assert done.returncode == 1, done.stdout + done.stderr
    scenario = only_scenario(done)
    assert scenario["verdict"] == "failed"
    assert scenario["reason"].startswith("slower than the baseline: start to ack ")
    before = json.loads(baseline.read_text())["scenarios"]
    [expected] = before.values()
    assert f"vs baseline {expected['start_to_ack_s']:.2f} s (+" in scenario["reason"]


def test_an_unchanged_handler_passes_the_gate(gated: Dict[str, subprocess.CompletedProcess[str]]) -> None:
    done = gated["unchanged"]
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
