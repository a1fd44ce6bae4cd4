"""vmotion-handler as a real process against a simulated VM (served in-process: tests/handler/rig.py) through the
fake vmtoolsd.

Short real timeouts (a few seconds); every process started here is stopped by its pid.
"""

from __future__ import annotations

import json
import os
import signal
import sys
from pathlib import Path
from typing import List

import pytest

from simulator.harness.launcher import HandlerProcess
from tests.handler.rig import Rig, wait_for

pytestmark = pytest.mark.skipif(sys.platform == "win32", reason="Unix socket simulator and POSIX signals")

def _json_logs(proc: HandlerProcess) -> List[dict[str, object]]:
    return [json.loads(line) for line in proc.log().splitlines() if line.startswith("{")]


def test_full_cycle_then_sigterm_while_idle(rig: Rig) -> None:
    rig.serve(host_timeout=6, migration_seconds=0.3)
    handler = rig.handler(quiesce_seconds=0.2)
    wait_for("registration", lambda: rig.registrations() == 1)
    # The token exists only once the register reply is in, so the state file follows it by a moment.
    wait_for("the state file", lambda: os.path.exists(rig.state))
    assert os.stat(rig.state).st_mode & 0o777 == 0o600
    token = json.loads(rig.state.read_text())["token"]  # the journal holds a placeholder, the state file the token
    op_id = rig.client.vmotion()
    wait_for("unquiesce", lambda: ["unquiesce", str(op_id), "end", "success"] in
             [line[:4] for line in rig.hook_lines() if line[-1] == "done"])
    op = rig.client.status()["operations"][0]
    assert op["acked"] is True and op["forced"] is False

    handler.send_signal(signal.SIGTERM)
    assert handler.wait(timeout=10) == 0
    assert rig.registrations() == 0
    assert len(rig.rpcs("unregister")) == 1
    assert not rig.state.exists()
    logs = _json_logs(handler)
    assert all(token not in json.dumps(entry) for entry in logs)
    assert any("acked start" in str(e["message"]) for e in logs)
    assert 'vmotion_handler_acks_total{result="ok"} 1' in rig.metrics.read_text()


def test_sigterm_while_quiescing_kills_the_hook_unquiesces_and_unregisters(rig: Rig) -> None:
    rig.serve(host_timeout=20, migration_seconds=0.5)
    handler = rig.handler(quiesce_seconds=30)
    wait_for("registration", lambda: rig.registrations() == 1)
    op_id = rig.client.vmotion()
    wait_for("quiesce to start", lambda: any(line[0] == "quiesce" for line in rig.hook_lines()))
    quiesce_pid = int(rig.hook_lines()[0][-2])
    handler.send_signal(signal.SIGTERM)
    assert handler.wait(timeout=10) == 0
    with pytest.raises(ProcessLookupError):
        os.kill(quiesce_pid, 0)  # killed, not orphaned (and reaped)
    runs = [line[:3] for line in rig.hook_lines()]
    assert ["unquiesce", str(op_id), "shutdown"] in runs
    assert ["quiesce", str(op_id), "start"] in runs and len([r for r in runs if r[0] == "quiesce"]) == 1
    assert rig.client.status()["operations"][0]["acked"] is True  # the vMotion is not left waiting
    assert rig.registrations() == 0


def test_sigkill_then_restart_leaks_no_registration_and_unquiesces(rig: Rig) -> None:
    rig.serve(host_timeout=8, migration_seconds=0.5)
    first = rig.handler(quiesce_seconds=0.5)
    wait_for("registration", lambda: rig.registrations() == 1)
    op_id = rig.client.vmotion()
    wait_for("quiesce to start", lambda: any(line[0] == "quiesce" for line in rig.hook_lines()))
    first.send_signal(signal.SIGKILL)
    first.wait(timeout=10)
    state = json.loads(rig.state.read_text())
    assert state["operations"][0]["operation_id"] == op_id and state["operations"][0]["phase"] == "quiescing"

    second = rig.handler(quiesce_seconds=0.5)
    wait_for("unquiesce after the end", lambda: any(
        line[:3] == ["unquiesce", str(op_id), "end"] and line[-1] == "done" for line in rig.hook_lines()),
        timeout=30)
    assert len(rig.rpcs("register")) == 1  # the previous registration was reused
    assert rig.registrations() == 1
    op = rig.client.status()["operations"][0]
    assert op["acked"] is True and op["forced"] is False
    second.send_signal(signal.SIGTERM)
    assert second.wait(timeout=10) == 0
    assert rig.registrations() == 0


def test_the_cmdfile_transport_works_against_the_fake_vmtoolsd(rig: Rig) -> None:
    from handler.protocol import interpret, parse_register, register_request
    from handler.transport import VmtoolsdTransport

    rig.serve(host_timeout=6, migration_seconds=0.5)
    # A vmtoolsd that notes the request file's path and mode while the file exists, then does its job.
    spy, seen = rig.tmp / "vmtoolsd-spy", rig.tmp / "seen"
    spy.write_text(f'#!/bin/sh\nstat -c "%n %a" "$2" > {seen}\nexec {rig.bin / "vmtoolsd"} "$@"\n')
    spy.chmod(0o755)
    outcome = VmtoolsdTransport(str(spy))(register_request("via-file"))
    assert parse_register(interpret(outcome.stdout, outcome.stderr, outcome.exit_code)).notification_timeout == 6
    assert rig.client.status()["registrations"][0]["app_name"] == "via-file"
    path, mode = seen.read_text().split()
    assert mode == "600"  # the request may hold a token
    assert not os.path.exists(path)  # and it is gone after the call


def test_a_dry_run_leaves_the_real_daemons_registration_state_and_application_alone(rig: Rig) -> None:
    rig.serve(host_timeout=20, migration_seconds=0.5)
    # What a real daemon left: a live registration and an acked operation, in the default state file.
    reply = rig.client.call('vm-operation-notification.register {"appName": "e2e", "notificationTypes": ["sla-miss"]}')
    token = json.loads(reply.stdout)["uniqueToken"]
    rig.state.parent.mkdir(parents=True)
    record = {"operation_id": 42, "phase": "acked", "event_gen_time": 1, "notification_timeout": 20, "deadline": 19}
    rig.state.write_text(json.dumps({"version": 1, "app_name": "e2e", "token": token, "operations": [record]}))
    before = rig.state.read_text()

    dry = rig.handler(0.2, "--dry-run")
    wait_for("the dry run to talk to the hypervisor",
             lambda: len(rig.rpcs("register")) > 1 or rig.rpcs("check-for-event") or rig.rpcs("unregister"))
    dry.send_signal(signal.SIGTERM)
    assert dry.wait(timeout=10) == 0
    assert rig.hook_lines() == []  # no unquiesce of an application it never quiesced
    assert rig.rpcs("check-for-event") == []  # no event taken from the real daemon's queue
    assert rig.registrations() == 1 and rig.rpcs("unregister") == []
    assert rig.state.read_text() == before


def test_a_damaged_state_file_is_kept_aside_and_the_handler_still_protects_the_app(rig: Rig) -> None:
    rig.serve(host_timeout=8, migration_seconds=0.5)
    rig.state.parent.mkdir(parents=True)
    rig.state.write_text('{"version": 1, "token": "5290')  # torn write
    handler = rig.handler(quiesce_seconds=0.2)
    wait_for("registration", lambda: rig.registrations() == 1)
    assert Path(f"{rig.state}.corrupt").read_text() == '{"version": 1, "token": "5290'
    op_id = rig.client.vmotion()
    wait_for("the ack", lambda: rig.client.operation(op_id)["acked"])
    handler.send_signal(signal.SIGTERM)
    assert handler.wait(timeout=10) == 0
    assert "moved it to" in handler.log()
