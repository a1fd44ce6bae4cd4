"""The handler's state machine: phases, legal transitions as data, the state file's checks, what is due now."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from pathlib import Path
from typing import Any, Dict, List

import pytest

from handler.state import (
    FIRST_PHASE,
    TRANSITIONS,
    FileStateStore,
    HandlerState,
    IllegalTransition,
    OperationRecord,
    Phase,
    StateError,
    ends_overdue,
    quiesce_time_left,
    replanned_deadline,
)
from simulator.harness.wait import wait_until
from simulator.processes import stop_process

OLD_OPERATIONS: List[Dict[str, Any]] = [
    {"operation_id": 7, "phase": "not-acked", "event_gen_time": 1_700_000_000, "notification_timeout": 120,
     "deadline": 1_700_000_118.0},
    {"operation_id": 8, "phase": "acked", "event_gen_time": 1_700_000_500, "notification_timeout": 120,
     "deadline": 1_700_000_618},
]
OLD_STATE: Dict[str, Any] = {  # as the first release wrote it: no clock_skew, phases as bare strings
    "version": 1, "app_name": "demo", "token": "5290abcd",
    "operations": OLD_OPERATIONS,
}


def _op(phase: Phase = Phase.QUIESCING, **kw: float) -> OperationRecord:
    fields = dict(operation_id=1, phase=phase, event_gen_time=1000, notification_timeout=120, deadline=1118.0)
    fields.update(kw)
    return OperationRecord(**fields)  # type: ignore[arg-type]


def test_every_phase_is_in_the_table_and_reachable_from_the_first() -> None:
    assert set(TRANSITIONS) == set(Phase)
    seen, todo = {FIRST_PHASE}, [FIRST_PHASE]
    while todo:
        for nxt in TRANSITIONS[todo.pop()] - seen:
            seen.add(nxt)
            todo.append(nxt)
    assert seen == set(Phase)
    # Every phase can end in an unquiesce: the application is never left quiesced by the machine itself.
    assert all(Phase.UNQUIESCING in TRANSITIONS[p] for p in Phase)


@pytest.mark.parametrize(("start", "path"), [
    (Phase.QUIESCING, [Phase.QUIESCED, Phase.ACKED, Phase.UNQUIESCING, Phase.UNQUIESCING]),
    (Phase.QUIESCING, [Phase.NOT_ACKED, Phase.UNQUIESCING]),
    (Phase.QUIESCING, [Phase.UNQUIESCING]),
])
def test_legal_paths_are_accepted(start: Phase, path: list[Phase]) -> None:
    op = _op(start)
    for phase in path:
        op.phase = phase
    assert op.phase is path[-1]


@pytest.mark.parametrize(("start", "bad"), [
    (Phase.ACKED, Phase.QUIESCING), (Phase.QUIESCING, Phase.ACKED), (Phase.UNQUIESCING, Phase.ACKED),
    (Phase.NOT_ACKED, Phase.ACKED), (Phase.QUIESCED, Phase.NOT_ACKED),
])
def test_every_change_is_checked_against_the_table(start: Phase, bad: Phase) -> None:
    op = _op(start)
    with pytest.raises(IllegalTransition, match=f"{start.value} -> {bad.value}"):
        op.phase = bad
    assert op.phase is start


def test_a_state_file_of_the_first_release_still_loads_and_is_written_back_the_same(tmp_path: Path) -> None:
    path = tmp_path / "state.json"
    path.write_text(json.dumps(OLD_STATE))
    store = FileStateStore(str(path))
    state = store.load()
    assert [op.phase for op in state.operations] == [Phase.NOT_ACKED, Phase.ACKED]
    assert state.operations[0].hard_deadline == 1_700_000_120.0
    store.save(state)
    assert json.loads(path.read_text()) == dict(OLD_STATE, operations=[
        OLD_OPERATIONS[0], dict(OLD_OPERATIONS[1], deadline=1_700_000_618.0)])


BAD_STATES = {
    "unknown phase": '{"version": 1, "operations": [{"operation_id": 1, "phase": "paused", "event_gen_time": 1,'
                     ' "notification_timeout": 1, "deadline": 1}]}',
    "huge number": '{"version": 1, "operations": [{"operation_id": 1, "phase": "acked", "event_gen_time": 1e400,'
                   ' "notification_timeout": 1, "deadline": 1}]}',
    "Infinity": '{"version": 1, "operations": [{"operation_id": 1, "phase": "acked", "event_gen_time": 1,'
                ' "notification_timeout": 1, "deadline": Infinity}]}',
    "deep nesting": "[" * 100_000,
    "operation id out of range": '{"operations": [{"operation_id": -1, "phase": "acked", "event_gen_time": 1,'
                                 ' "notification_timeout": 1, "deadline": 1}]}',
    "token not a string": '{"token": 5}',
    "not an object": "[]",
    "recorded twice": json.dumps({"operations": [OLD_OPERATIONS[0]] * 2}),
    "not UTF-8": b'{"token": "\xff"}'.decode("latin-1"),
}


@pytest.mark.parametrize("content", BAD_STATES.values(), ids=BAD_STATES.keys())
def test_anything_a_handler_could_not_have_written_is_a_damaged_state_file(tmp_path: Path, content: str) -> None:
    path = tmp_path / "state.json"
    path.write_bytes(content.encode("latin-1") if "\xff" in content else content.encode())
    with pytest.raises(StateError, match="is not a handler state"):
        FileStateStore(str(path)).load()


@pytest.mark.skipif(sys.platform == "win32", reason="POSIX signals")
@pytest.mark.parametrize("name", ["huge number", "Infinity", "deep nesting", "unknown phase"])
def test_the_daemon_moves_a_damaged_state_file_aside_and_starts_fresh(tmp_path: Path, name: str) -> None:
    state = tmp_path / "state" / "state.json"
    state.parent.mkdir(mode=0o700)
    state.write_text(BAD_STATES[name])
    log = tmp_path / "handler.log"
    proc = subprocess.Popen(
        [sys.executable, "-m", "handler", "--state-file", str(state), "--vmtoolsd", str(tmp_path / "no-vmtoolsd"),
         "--name", "t", "--log-format", "json", "--log-file", str(log)],
        stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, cwd=tmp_path,
    )
    try:
        corrupt = Path(f"{state}.corrupt")
        # The file is moved aside early in start-up; SIGTERM is the daemon's to handle once it runs (before that,
        # with nothing registered yet, the signal's default action would end it, rightly, but not with exit 0).
        started = wait_until(lambda: log.exists() and "starting as app" in log.read_text(), 20,
                             give_up=lambda: proc.poll() is not None)
        assert started and corrupt.read_text() == BAD_STATES[name]
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=20) == 0
    finally:
        stop_process(proc)
    assert proc.stderr is not None
    err = proc.stderr.read().decode()
    proc.stderr.close()
    assert "Traceback" not in err
    assert "moved it to" in err
    assert os.path.exists(corrupt)


def test_what_is_due_now_is_a_function_of_the_state_and_the_time() -> None:
    quiescing = _op(Phase.QUIESCING, operation_id=1)
    acked = _op(Phase.ACKED, operation_id=2)
    state = HandlerState(operations=[quiescing, acked])
    assert quiesce_time_left(quiescing, 1100.0) == 18.0
    assert quiesce_time_left(quiescing, 1118.0) <= 0  # overdue: kill it
    # A shrunk timeout moves the deadline earlier; a grown one keeps the planned deadline.
    assert replanned_deadline(quiescing, 60, safety_margin=2) == 1058.0
    assert replanned_deadline(quiescing, 600, safety_margin=2) is None
    assert replanned_deadline(acked, 60, safety_margin=2) is None  # nothing left to re-plan
    # Lost ends: only operations no hook is running for, once end_timeout past the hypervisor's deadline.
    assert ends_overdue(state, 1120.0 + 3599, end_timeout=3600) == []
    assert ends_overdue(state, 1120.0 + 3600, end_timeout=3600) == [acked]
    assert ends_overdue(state, 1e12, end_timeout=0) == []  # 0: wait for ever
