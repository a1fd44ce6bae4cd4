"""`vmotion-sim run`: a verdict in words or JSON, and a one-line error for a scenario that cannot be used.

The runs on virtual time call the command's main in this process (what its console script runs), as many as
they need; a few run it as a process, for what only a process shows (its exit status, nothing but one line).
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any, Dict

import pytest

from simulator.cli import main

SLOW_QUIESCE: Dict[str, Any] = {
    "format": "vmotion-incident-scenario", "version": 1, "name": "slow quiesce",
    "settings": {"host_timeout": 10}, "actions": [{"at": 5, "do": "vmotion", "migration_seconds": 3}],
    "hooks": {"quiesce": [{"seconds": 20}]}, "duration": 40, "expect": ["quiesce-killed"],
}


def sim(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "simulator", *args], capture_output=True, text=True, timeout=60,
                          check=False)


def sim_here(capsys: pytest.CaptureFixture[str], *args: str) -> subprocess.CompletedProcess[str]:
    """``vmotion-sim ARGS`` in this process: its exit status and output (``capsys``, or ``capfd`` to see what a
    logger writes too), as ``sim`` gives them."""
    try:
        code = main(list(args))
    except SystemExit as exited:  # argparse's own usage errors
        code = int(exited.code or 0)
    out, err = capsys.readouterr()
    return subprocess.CompletedProcess(list(args), code, out, err)


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
    # version 2's keys: refused in a version 1 file, checked in a version 2 one
    ({"actions": [{"at": 1, "do": "kill"}]}, 'action 1: needs "do": one of vmotion, set, reboot'),
    ({"expect": ["invariant:sigterm-clean"]}, "expect: a list of outcomes"),
    ({"command": "./h"}, "unknown keys: command"),
    ({"version": 2, "actions": [{"at": 1, "do": "fault", "garble": 3}]}, "action 1 (fault): garble is true"),
    ({"version": 2, "actions": [{"at": 1, "do": "fault", "garble": True, "count": 0}]}, "count is a whole number"),
    ({"version": 2, "actions": [{"at": 1, "do": "hook", "hook": "eat"}]}, "action 1 (hook): hook is one of"),
    ({"version": 2, "expect": ["invariant:on-fire"]}, "invariant:NAME with NAME among"),
    ({"version": 2, "speed": 0}, "speed: between 0.01 and 1000"),
    ({"version": 2, "begin": "later"}, "begin: one of start, registered"),
])
def test_an_invalid_scenario_is_a_one_line_error(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], changes: Dict[str, Any], message: str
) -> None:
    done = sim_here(capsys, "run", str(scenario_file(tmp_path, **changes)))
    assert done.returncode == 4 and done.stderr.count("\n") == 1 and message in done.stderr, done.stderr


def test_version_2_faults_and_hook_behaviours_act_on_virtual_time(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """A hook action changes the quiesce from then on; a fault action breaks the channel for its count of calls."""
    fast_then_slow = {"version": 2, "hooks": {"quiesce": [{"seconds": 1}]}, "expect": ["quiesce-killed"],
                      "actions": [{"at": 2, "do": "hook", "hook": "quiesce", "seconds": 20, "exit_code": 0},
                                  {"at": 5, "do": "vmotion", "migration_seconds": 3}]}
    done = sim_here(capsys, "run", "--json", str(scenario_file(tmp_path, **fast_then_slow)))
    assert done.returncode == 0, done.stdout + done.stderr
    vmotion = {"at": 2, "do": "vmotion", "migration_seconds": 3}
    channel_down = [{"at": 1, "do": "fault", "channel_down": True, "count": 1000}, {"at": 25, "do": "fault"}]
    faulted = {"version": 2, "hooks": {"quiesce": [{"seconds": 1}]}, "duration": 40}
    observed = [json.loads(sim_here(capsys, "run", "--json", str(scenario_file(tmp_path, **faulted, actions=actions))).stdout)
                ["observed"] for actions in ([vmotion], [vmotion, *channel_down])]
    assert observed[0] == [] and "forced-migration" in observed[1], observed
    as_v1 = sim_here(capsys, "run", "--json", str(scenario_file(tmp_path, **{**fast_then_slow, "version": 1})))
    assert as_v1.returncode == 4 and "needs \"do\"" in as_v1.stderr


def test_a_file_that_is_not_a_scenario_is_a_one_line_error(tmp_path: Path) -> None:
    path = tmp_path / "junk.json"
    path.write_bytes(b"\x00\xffnot json")
    done = sim("run", str(path))
    assert done.returncode == 4 and done.stderr.count("\n") == 1 and "Traceback" not in done.stderr


def test_a_handler_command_that_cannot_start_is_a_one_line_error(tmp_path: Path) -> None:
    done = sim("run", str(scenario_file(tmp_path, duration=1)), "--", str(tmp_path / "missing"), "{quiesce}")
    assert done.returncode == 4 and done.stderr.count("\n") == 1 and "cannot start the handler" in done.stderr


def test_on_virtual_time_the_bundled_core_is_killed_restarted_and_terminated(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Killed mid-quiesce it leaves the application quiesced; restarted on its state (after a kill, or while it
    runs) it recovers and unquiesces; terminated it stops the quiesce, unquiesces and unregisters (the soak's
    sigterm-clean holds)."""
    def observed(*actions: Dict[str, Any], expect: Any = ()) -> Any:
        changes = {"version": 2, "settings": {"host_timeout": 10, "migration_seconds": 3}, "duration": 40,
                   "hooks": {"quiesce": [{"seconds": 3}]}, "expect": list(expect),
                   "actions": [{"at": 5, "do": "vmotion"}, *actions]}
        done = sim_here(capsys, "run", "--json", str(scenario_file(tmp_path, **changes)))
        assert done.returncode in (0, 5), done.stderr
        return json.loads(done.stdout)["observed"]

    assert "app-left-quiesced" in observed({"at": 6, "do": "kill"})
    assert observed({"at": 6, "do": "kill"}, {"at": 6, "do": "restart"}) == []
    # a restart of a running handler replaces it, as on real time: the new core recovers and unquiesces
    assert observed({"at": 6, "do": "restart"}) == []
    # the stop ends the quiesce early (quiesce-killed) and the migration after it is not watched (missed-end)
    assert observed({"at": 6, "do": "terminate"}, expect=["invariant:sigterm-clean"]) == ["missed-end", "quiesce-killed"]
