"""Real hook processes: argv without a shell, the event in the environment, the whole group killed."""

from __future__ import annotations

import json
import os
import sys
import time
from pathlib import Path

import pytest

from handler.hooks import SubprocessHookRunner

pytestmark = pytest.mark.skipif(sys.platform == "win32", reason="POSIX process groups")


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    # A zombie still answers kill(0); it is dead for our purposes.
    try:
        with open(f"/proc/{pid}/stat") as fh:
            return fh.read().split(") ", 1)[1][0] != "Z"
    except FileNotFoundError:
        return False


def test_no_shell_by_default_so_event_data_is_never_interpolated(tmp_path: Path) -> None:
    out = tmp_path / "out"
    lines: list[str] = []
    runner = SubprocessHookRunner(sink=lambda hook, line: lines.append(f"{hook}:{line}"))
    script = tmp_path / "hook.py"
    script.write_text(f'import os, sys\nopen({str(out)!r}, "w").write(repr(sys.argv[1:]) + '
                      'os.environ["VMOTION_OPERATION_ID"])\n')
    proc = runner.start("quiesce", f"{sys.executable} {script} '$VMOTION_OPERATION_ID' ';touch x'",
                        {"VMOTION_OPERATION_ID": "6279072957175440971"})
    result = proc.wait(10)
    assert result is not None and result.ok
    assert out.read_text() == "['$VMOTION_OPERATION_ID', ';touch x']6279072957175440971"
    assert not (tmp_path / "x").exists()


def test_shell_is_an_explicit_opt_in(tmp_path: Path) -> None:
    lines: list[str] = []
    runner = SubprocessHookRunner(shell=True, sink=lambda hook, line: lines.append(line))
    proc = runner.start("quiesce", 'echo "op=$VMOTION_OPERATION_ID"; exit 3', {"VMOTION_OPERATION_ID": "7"})
    result = proc.wait(10)
    assert result is not None and result.exit_code == 3 and not result.ok
    deadline = time.monotonic() + 2
    while not lines and time.monotonic() < deadline:
        time.sleep(0.01)
    assert lines == ["op=7"]


def test_kill_takes_the_whole_process_group(tmp_path: Path) -> None:
    pidfile = tmp_path / "grandchild.pid"
    runner = SubprocessHookRunner(shell=True, kill_grace=0.5)
    # The hook starts a grandchild that ignores SIGTERM, then waits on it.
    proc = runner.start("quiesce", f"sh -c 'trap \"\" TERM; echo $$ > {pidfile}; sleep 30' & wait", {})
    deadline = time.monotonic() + 5
    while not (pidfile.exists() and pidfile.read_text().strip()) and time.monotonic() < deadline:
        time.sleep(0.01)
    grandchild = int(pidfile.read_text())
    assert proc.wait(0.1) is None
    result = proc.kill()
    assert result.killed and not result.ok
    deadline = time.monotonic() + 5
    while _alive(grandchild) and time.monotonic() < deadline:
        time.sleep(0.01)
    assert not _alive(grandchild)


def test_a_command_that_cannot_start_is_a_failed_hook() -> None:
    runner = SubprocessHookRunner()
    result = runner.start("quiesce", "/nonexistent/quiesce --now", {}).wait(1)
    assert result is not None and not result.ok and result.error is not None
    result = runner.start("quiesce", "unbalanced 'quote", {}).wait(1)
    assert result is not None and result.error is not None and "cannot parse" in result.error
    result = runner.start("quiesce", "/bin/true", {"VMOTION_APP_NAME": "from a config file\x00"}).wait(1)
    assert result is not None and not result.ok and result.error is not None and "null" in result.error


def _wait_for_pid(path: Path) -> int:
    deadline = time.monotonic() + 5
    while not (path.exists() and path.read_text().strip()) and time.monotonic() < deadline:
        time.sleep(0.01)
    return int(path.read_text())


def test_kill_also_takes_a_grandchild_that_left_the_group_with_setsid(tmp_path: Path) -> None:
    pidfile = tmp_path / "escaped.pid"
    runner = SubprocessHookRunner(shell=True, kill_grace=0.2)
    proc = runner.start("quiesce", f"setsid sleep 30 & echo $! > {pidfile}; sleep 30", {})
    escaped = _wait_for_pid(pidfile)
    assert os.getpgid(escaped) != os.getpgid(os.getpid()) and _alive(escaped)
    assert proc.kill().killed
    assert not _alive(escaped)


def test_the_hook_of_a_killed_run_is_stopped_by_the_next_one_tree_and_all(tmp_path: Path) -> None:
    pidfile, record = tmp_path / "escaped.pid", tmp_path / "state.json.hook"
    first = SubprocessHookRunner(shell=True, kill_grace=0.2, record=str(record))
    first.start("quiesce", f"setsid sleep 30 & echo $! > {pidfile}; exec sleep 30", {})
    escaped = _wait_for_pid(pidfile)
    leader = json.loads(record.read_text())["pid"]
    assert record.stat().st_mode & 0o777 == 0o600
    # The run that started it is gone (SIGKILL): a new runner, on the same record, finds both processes.
    assert SubprocessHookRunner(kill_grace=0.2, record=str(record)).stop_leftovers() == "quiesce"
    assert not _alive(leader) and not _alive(escaped)
    assert not record.exists()
    assert SubprocessHookRunner(record=str(record)).stop_leftovers() is None  # nothing left, nothing done


def test_a_leftover_record_whose_pid_was_reused_stops_nothing(tmp_path: Path) -> None:
    record = tmp_path / "state.json.hook"
    # The recorded pid is alive (this very test process) but started at another time: not the hook.
    record.write_text(json.dumps({"kind": "quiesce", "pid": os.getpid(), "started": "1", "marker": "x" * 16,
                                  "group": True}))
    assert SubprocessHookRunner(record=str(record)).stop_leftovers() is None
    assert _alive(os.getpid())
