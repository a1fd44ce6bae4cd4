"""`vmotion-sim run`: a verdict in words or JSON, and a one-line error for a scenario that cannot be used."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any, Dict

import pytest

SLOW_QUIESCE: Dict[str, Any] = {
    "format": "vmotion-incident-scenario", "version": 1, "name": "slow quiesce",
    "settings": {"host_timeout": 10}, "actions": [{"at": 5, "do": "vmotion", "migration_seconds": 3}],
    "hooks": {"quiesce": [{"seconds": 20}]}, "duration": 40, "expect": ["quiesce-killed"],
}


def sim(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "simulator", *args], capture_output=True, text=True, timeout=60,
                          check=False)


def scenario_file(tmp_path: Path, **changes: Any) -> Path:
    path = tmp_path / "scenario.json"
    path.write_text(json.dumps({**SLOW_QUIESCE, **changes}))
    return path


def test_a_scenario_that_reproduces_says_so_and_exits_0(tmp_path: Path) -> None:
    done = sim("run", "--json", str(scenario_file(tmp_path)))
    verdict = json.loads(done.stdout)
    assert done.returncode == 0 and verdict["reproduced"] and verdict["observed"] == ["quiesce-killed"]
    text = sim("run", str(scenario_file(tmp_path)))
    assert "REPRODUCED: expected quiesce-killed" in text.stdout


def test_a_scenario_that_does_not_reproduce_exits_5(tmp_path: Path) -> None:
    done = sim("run", str(scenario_file(tmp_path, expect=["forced-migration"])))
    assert done.returncode == 5 and "NOT REPRODUCED: expected forced-migration; observed quiesce-killed" in done.stdout


@pytest.mark.parametrize(("changes", "message"), [
    ({"version": 3}, "scenario version 3 is not understood"),
    ({"actions": [{"at": 1, "do": "explode"}]}, 'action 1: needs "do"'),
    ({"actions": [{"at": -1, "do": "vmotion"}]}, "action 1 at: a number >= 0"),
    ({"expect": ["on-fire"]}, "expect: a list of outcomes"),
    ({"knobs": {"error_envelope": "smoke"}}, "knobs: error_envelope must be one of"),
    ({"handler": {"on_quiesce_failure": "shrug"}}, "handler: on_quiesce_failure must be one of"),
    ({"extra": 1}, "unknown keys: extra"),
    ({"handler": {"interval": "soon"}}, "handler interval: a number"),
    ({"settings": {"host_timeout": "long"}}, "settings host_timeout: a number"),
])
def test_an_invalid_scenario_is_a_one_line_error(tmp_path: Path, changes: Dict[str, Any], message: str) -> None:
    done = sim("run", str(scenario_file(tmp_path, **changes)))
    assert done.returncode == 4 and done.stderr.count("\n") == 1 and message in done.stderr, done.stderr


def test_a_file_that_is_not_a_scenario_is_a_one_line_error(tmp_path: Path) -> None:
    path = tmp_path / "junk.json"
    path.write_bytes(b"\x00\xffnot json")
    done = sim("run", str(path))
    assert done.returncode == 4 and done.stderr.count("\n") == 1 and "Traceback" not in done.stderr


def test_a_handler_command_that_cannot_start_is_a_one_line_error(tmp_path: Path) -> None:
    done = sim("run", str(scenario_file(tmp_path, duration=1)), "--", str(tmp_path / "missing"), "{quiesce}")
    assert done.returncode == 4 and done.stderr.count("\n") == 1 and "cannot start the handler" in done.stderr
