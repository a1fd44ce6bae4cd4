"""SIGKILL of a real handler process in the windows that lose something, and what the restart recovers.

Each test reproduces one finding of the red-team pass against a simulated VM and the fake vmtoolsd:
the token on a command line (S1), a vmtoolsd reply lost with a killed handler (H4), an orphaned quiesce that
finishes after the restart unquiesced (H3), a hook grandchild that escaped with setsid (H11).
"""

from __future__ import annotations

import json
import re
import signal
import sys
from pathlib import Path
from typing import List

import pytest

from simulator.harness.launcher import HandlerProcess
from simulator.processes import process_alive
from tests.handler.rig import Rig, wait_for

pytestmark = pytest.mark.skipif(sys.platform == "win32", reason="Unix socket simulator and POSIX signals")


def _alive(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat", "rb") as fh:
            return fh.read().rsplit(b")", 1)[1].split()[0] != b"Z"
    except OSError:
        return False


def _kill(proc: HandlerProcess) -> None:
    proc.send_signal(signal.SIGKILL)
    proc.wait(timeout=10)


def _slow_next_call(rig: Rig, seconds: float = 0.5) -> None:
    rig.client.fault(latency=seconds, remaining=1)


def _slow_call_in_flight(rig: Rig) -> bool:
    # The server counts the fault down when the call arrives and sleeps before answering it.
    return bool(rig.client.status()["faults"]["latency"] == 0)


def _lines(rig: Rig, *head: str) -> List[List[str]]:
    return [line for line in rig.hook_lines() if line[: len(head)] == list(head)]


def test_no_token_ever_appears_on_a_command_line(rig: Rig) -> None:
    rig.serve(host_timeout=6, migration_seconds=0.3)
    spy, argv_log = rig.tmp / "vmtoolsd-spy", rig.tmp / "argv.log"
    # Every argv the handler gives vmtoolsd, as /proc/PID/cmdline shows it to any local user.
    spy.write_text(f'#!/bin/sh\necho "$0 $*" >> {argv_log}\nexec {rig.bin / "vmtoolsd"} "$@"\n')
    spy.chmod(0o755)
    handler = rig.handler(0.2, vmtoolsd=spy)
    wait_for("registration", lambda: rig.registrations() == 1 and rig.state.exists())
    token = str(json.loads(rig.state.read_text())["token"])
    assert re.fullmatch(r"[0-9a-f]{8}(-[0-9a-f]{4}){3}-[0-9a-f]{12}", token)  # the real one, not a redaction
    op_id = rig.client.vmotion()
    wait_for("the unquiesce", lambda: _lines(rig, "unquiesce", str(op_id), "end"))
    handler.send_signal(signal.SIGTERM)
    assert handler.wait(timeout=10) == 0
    calls = argv_log.read_text().splitlines()
    assert len(calls) >= 5  # register, polls, ack, unregister: the spy saw them all
    assert [c for c in calls if token in c] == []
    assert all(" --cmdfile " in c for c in calls)
    assert not list(rig.state.parent.glob("*.rpc-cmd"))  # each request file removed after its call


def test_a_register_reply_that_outlives_the_killed_handler_is_adopted_not_leaked(rig: Rig) -> None:
    rig.serve(host_timeout=8, migration_seconds=0.3)
    _slow_next_call(rig)
    first = rig.handler()
    wait_for("the register call in flight", lambda: _slow_call_in_flight(rig))
    _kill(first)
    wait_for("the orphaned vmtoolsd to register", lambda: rig.registrations() == 1)

    second = rig.handler()
    wait_for("the restart to poll", lambda: len(rig.rpcs("check-for-event")) >= 2)
    op_id = rig.client.vmotion()
    wait_for("the ack", lambda: rig.client.operation(op_id)["acked"])
    assert len(rig.rpcs("register")) == 1  # the reply was recovered: no second register hit the limit
    assert rig.client.operation(op_id)["forced"] is False
    second.send_signal(signal.SIGTERM)
    assert second.wait(timeout=10) == 0
    assert rig.registrations() == 0


def test_a_register_that_answers_after_the_call_limit_is_adopted_not_leaked(rig: Rig) -> None:
    """A register past --rpc-timeout may still register: killed, its reply (the token's only copy) would be lost
    and every later register refused until the VM reboots. It is waited for once more, and its reply taken."""
    rig.serve(host_timeout=8, migration_seconds=0.3)
    _slow_next_call(rig, 1.0)
    handler = rig.handler(0.2, "--rpc-timeout", "0.6")
    wait_for("registration", lambda: rig.registrations() == 1 and rig.state.exists())
    op_id = rig.client.vmotion()
    wait_for("the ack", lambda: rig.client.operation(op_id)["acked"])
    assert len(rig.rpcs("register")) == 1  # the late reply was taken: no second register hit the one-app limit
    handler.send_signal(signal.SIGTERM)
    assert handler.wait(timeout=10) == 0
    assert rig.registrations() == 0


def test_a_start_fetched_by_the_call_in_flight_when_the_handler_was_killed_is_acted_on(rig: Rig) -> None:
    rig.serve(host_timeout=8, migration_seconds=0.3)
    first = rig.handler()
    wait_for("registration", lambda: rig.registrations() == 1 and rig.state.exists())
    _slow_next_call(rig)
    op_id = rig.client.vmotion()  # fetched by the slow poll, which answers after half a second
    wait_for("the poll in flight", lambda: _slow_call_in_flight(rig))
    _kill(first)
    wait_for("the orphaned poll to fetch the start",
             lambda: any('"start"' in str(r["stdout"]) for r in rig.rpcs("check-for-event")))

    second = rig.handler()
    wait_for("the ack", lambda: rig.client.operation(op_id)["acked"])
    assert rig.client.operation(op_id)["forced"] is False
    assert _lines(rig, "quiesce", str(op_id), "start")
    wait_for("the unquiesce at the end", lambda: _lines(rig, "unquiesce", str(op_id), "end"))
    second.send_signal(signal.SIGTERM)
    assert second.wait(timeout=10) == 0


def test_an_end_fetched_by_the_call_in_flight_when_the_handler_was_killed_unquiesces(rig: Rig) -> None:
    rig.serve(host_timeout=8, migration_seconds=0.3)
    first = rig.handler()
    wait_for("registration", lambda: rig.registrations() == 1)
    op_id = rig.client.vmotion()
    wait_for("the ack", lambda: rig.client.operation(op_id)["acked"])
    _slow_next_call(rig, 0.8)  # the end comes while this poll waits, and it is what the poll fetches
    wait_for("the poll in flight", lambda: _slow_call_in_flight(rig))
    _kill(first)
    wait_for("the orphaned poll to fetch the end",
             lambda: any('"end"' in str(r["stdout"]) for r in rig.rpcs("check-for-event")))

    second = rig.handler()
    # Without the recovered reply the end is gone: the application would stay quiesced until end_timeout.
    wait_for("the unquiesce at the end", lambda: _lines(rig, "unquiesce", str(op_id), "end"))
    second.send_signal(signal.SIGTERM)
    assert second.wait(timeout=10) == 0
    assert rig.registrations() == 0


SETSID_HOOK = """#!/bin/sh
echo "$VMOTION_HOOK $VMOTION_OPERATION_ID ${VMOTION_REASON:-} ${VMOTION_OP_STATUS:-} $$ start" >> "$HOOK_LOG"
if [ "$VMOTION_HOOK" = quiesce ]; then
  setsid sleep 60 &                       # a grandchild that leaves the hook's session
  echo "$!" > "$HOOK_LOG.escaped"
  sleep "${QUIESCE_SECONDS:-0.2}"
fi
echo "$VMOTION_HOOK $VMOTION_OPERATION_ID ${VMOTION_REASON:-} ${VMOTION_OP_STATUS:-} $$ done" >> "$HOOK_LOG"
"""


def test_the_quiesce_of_a_killed_handler_is_stopped_before_the_restart_acks_and_unquiesces(rig: Rig) -> None:
    rig.serve(host_timeout=10, migration_seconds=0.3)
    rig.hook.write_text(SETSID_HOOK)
    first = rig.handler(quiesce_seconds=4)
    wait_for("registration", lambda: rig.registrations() == 1)
    op_id = rig.client.vmotion()
    wait_for("the quiesce", lambda: _lines(rig, "quiesce", str(op_id)) and Path(f"{rig.hook_log}.escaped").exists())
    quiesce_pid = int(_lines(rig, "quiesce", str(op_id))[0][-2])
    escaped = int(Path(f"{rig.hook_log}.escaped").read_text())
    _kill(first)
    assert _alive(quiesce_pid) and _alive(escaped)  # without systemd, nothing else stops them

    second = rig.handler(quiesce_seconds=4)
    wait_for("the unquiesce at the end", lambda: _lines(rig, "unquiesce", str(op_id), "end"))
    # The orphaned quiesce must not finish after the unquiesce: it was stopped before the ack.
    assert not _alive(quiesce_pid)
    assert not process_alive(escaped) and not _alive(escaped)
    assert [line for line in _lines(rig, "quiesce", str(op_id)) if line[-1] == "done"] == []
    second.send_signal(signal.SIGTERM)
    assert second.wait(timeout=10) == 0


def test_a_hook_grandchild_that_called_setsid_dies_with_the_hook_at_its_deadline(rig: Rig) -> None:
    # The deadline: eventGenTimeInSec (whole seconds) + 3 s - the rig's 1-s safety margin, 1 to 2 s after the start.
    rig.serve(host_timeout=3, migration_seconds=0.3)
    rig.hook.write_text(SETSID_HOOK)
    handler = rig.handler(quiesce_seconds=30)
    wait_for("registration", lambda: rig.registrations() == 1)
    op_id = rig.client.vmotion()
    wait_for("the unquiesce", lambda: _lines(rig, "unquiesce", str(op_id), "end"))  # the quiesce killed first
    escaped = int(Path(f"{rig.hook_log}.escaped").read_text())
    assert not _alive(escaped)
    handler.send_signal(signal.SIGTERM)
    assert handler.wait(timeout=10) == 0
