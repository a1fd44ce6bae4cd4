"""Importing what people have, through ``vmotion-sim replay``: the format is detected, bad input is a one-line
error or a warning, and a token in the input is never printed.

Most imports call vmotion-sim's main in this process, its output read at the file descriptors (``capfd``: what
any logger writes is seen too); two run as a process, for what only a process shows.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import List

import pytest

from simulator.incident.scenario import load
from tests.incident.test_cli import sim_here

TOKEN = "52964f1a-6c7e-b373-b588-545b39581e1a"
OP = 6279202125432507727
START = (f'{{"version":"1.0.0", "result": true, "eventType": "start",  "opType": "host-migration", '
         f'"eventGenTimeInSec": 1767322445, "notificationTimeoutInSec": 8, "destNotificationTimeoutInSec": 8, '
         f'"notificationTypes": ["sla-miss"],  "operationId": {OP} }}')

# Shaped like log-formats.md's examples (the guest's local time, no zone; here 1 h ahead of UTC).
POC_LOG = f"""\
2026-01-02 03:54:04,100 [INFO] monitor: register application: poc
2026-01-02 03:54:04,101 [DEBUG] vmtoolsd: invoke command: ['vmtoolsd', '--cmd', 'vm-operation-notification.register {{"appName": "poc", "notificationTypes": ["sla-miss"]}}']
2026-01-02 03:54:04,150 [DEBUG] vmtoolsd: rc: 0
2026-01-02 03:54:04,150 [DEBUG] vmtoolsd: stdout: {{"version":"1.0.0", "result": true, "guaranteed": true, "uniqueToken": "{TOKEN}", "notificationTimeoutInSec": 8 }}
2026-01-02 03:54:06,101 [DEBUG] vmtoolsd: invoke command: ['vmtoolsd', '--cmd', 'vm-operation-notification.check-for-event {{"uniqueToken": "{TOKEN}"}}']
2026-01-02 03:54:06,150 [DEBUG] vmtoolsd: rc: 0
2026-01-02 03:54:06,150 [DEBUG] vmtoolsd: stdout: {START}
2026-01-02 03:54:06,200 [INFO] monitor: application is notified that vmotion has been requested and should be quiesced in 8 seconds. invoke command to quiesce
2026-01-02 03:54:06,201 [DEBUG] invoke_command: command for quiesce/unquiesce: ['sleep 11']
2026-01-02 03:54:17,205 [DEBUG] invoke_command: return code: 0
2026-01-02 03:54:17,205 [INFO] monitor: command to quiesce has been completed with return code: 0
2026-01-02 03:54:17,205 [INFO] monitor: acknowledge notification
2026-01-02 03:54:17,206 [DEBUG] vmtoolsd: invoke command: ['vmtoolsd', '--cmd', 'vm-operation-notification.ack-event {{"uniqueToken": "{TOKEN}", "operationId": {OP}}}']
2026-01-02 03:54:17,250 [DEBUG] vmtoolsd: rc: 0
2026-01-02 03:54:17,250 [DEBUG] vmtoolsd: stdout: {{"version":"1.0.0", "result": false, "errorMessage": "vm-operation-notification.ack-event: Invalid input: operation is no longer waiting, please see schema for detail and examples" }}
2026-01-02 03:54:17,251 [INFO] monitor: interrupted
"""

VMNOTIFICATION_LOGS = {
    "vmnotification_service.log": f"""\
2026-01-02 03:54:04,000 - root - INFO - starting
2026-01-02 03:54:04,100 - vmnotification_service - DEBUG - run_rpc: Running cmd : vmtoolsd --cmd 'vm-operation-notification.register {{"appName": "svc", "notificationTypes": ["sla-miss"]}}'
2026-01-02 03:54:05,100 - vmnotification_service - DEBUG - run_rpc: Running cmd : vmtoolsd --cmd 'vm-operation-notification.check-for-event {{"uniqueToken": "{TOKEN}"}}'
2026-01-02 03:54:06,301 - vmnotification_service - DEBUG - check_for_events: vmotion notification with operationId: '{OP}'
2026-01-02 03:54:17,310 - vmnotification_service - DEBUG - run_rpc: Running cmd : vmtoolsd --cmd 'vm-operation-notification.ack-event {{"uniqueToken": "{TOKEN}", "operationId": {OP}}}'
2026-01-02 03:54:17,360 - vmnotification_service - CRITICAL - run_rpc: vm-operation-notification.ack-event: Invalid input: too late, please see schema for detail and examples
2026-01-02 03:54:17,400 - vmnotification_service - INFO - run: Cleaning up
""",
    "vmotion.log": f"""\
2026-01-02 03:54:06,300 - vmotion - DEBUG - vmotion start event: {{'version': '1.0.0', 'result': True, 'eventType': 'start', 'opType': 'host-migration', 'eventGenTimeInSec': 1767322445, 'notificationTimeoutInSec': 8, 'destNotificationTimeoutInSec': 8, 'notificationTypes': ['sla-miss'], 'operationId': {OP}}}
2026-01-02 03:54:06,305 - vmotion - DEBUG - pre-vmotion command starting: '/opt/app/quiesce'
2026-01-02 03:54:17,300 - vmotion - DEBUG - pre-vmotion command complete.
2026-01-02 03:54:17,305 - vmotion - DEBUG - acknowledging vmotion operation.
""",
}


def replay(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "simulator", "replay", *args], capture_output=True, text=True,
                          timeout=60, check=False)


def replay_here(capfd: pytest.CaptureFixture[str], *args: str) -> subprocess.CompletedProcess[str]:
    return sim_here(capfd, "replay", *args)


def write(path: Path, text: str) -> Path:
    path.write_text(text)
    return path


def test_the_proof_of_concepts_log_shows_a_late_ack_and_a_forced_migration(tmp_path: Path) -> None:
    done = replay(str(write(tmp_path / "handle_notifications.log", POC_LOG)), "--json", "--save",
                  str(tmp_path / "incident.json"))
    assert done.returncode == 0, done.stderr
    incident = json.loads(done.stdout)["incident"]
    assert incident["format"] == "poc"
    assert incident["settings"]["notification_timeout"] == 8
    (op,) = incident["operations"]
    assert (op["operation_id"], op["deadline"]) == (OP, pytest.approx(op["requested"] + 8))
    assert op["acks"] == [{"t": pytest.approx(13.1, abs=0.01), "ok": False, "before_deadline": False}]
    assert incident["hooks"][0]["hook"] == "quiesce" and incident["hooks"][0]["seconds"] == pytest.approx(11, abs=0.01)
    assert incident["outcome"] == ["app-left-quiesced", "forced-migration", "leaked-registration", "missed-end"]
    scenario = load(tmp_path / "incident.json")
    assert scenario.actions[0]["do"] == "vmotion" and scenario.hooks["quiesce"][0]["seconds"] == pytest.approx(11, abs=0.01)
    assert TOKEN not in done.stdout + done.stderr + (tmp_path / "incident.json").read_text()


def test_the_vmnotification_daemons_logs_are_read_together(tmp_path: Path, capfd: pytest.CaptureFixture[str]) -> None:
    paths = [str(write(tmp_path / name, text)) for name, text in VMNOTIFICATION_LOGS.items()]
    done = replay_here(capfd, *paths, "--json")
    assert done.returncode == 0, done.stderr
    incident = json.loads(done.stdout)["incident"]
    assert incident["format"] == "vmnotification"
    (op,) = incident["operations"]
    assert op["timeout"] == 8 and op["acks"][0]["ok"] is False and op["forced"]
    assert incident["hooks"][0]["seconds"] == pytest.approx(11, abs=0.01)
    assert "forced-migration" in incident["outcome"]
    assert TOKEN not in done.stdout + done.stderr
    alone = replay_here(capfd, paths[0], "--json")
    assert alone.returncode == 0 and json.loads(alone.stdout)["incident"]["format"] == "vmnotification"


@pytest.mark.parametrize("content", [
    b"Dec  1 10:00:00 host sshd[1]: Accepted publickey for root\n",
    b"\x00\x01\x02\xff\xfe binary",
    b"",
    b'[{"seq": 1, "time": 1700000000.0, "kind": "rpc", "request": "vm-operation-notification.list", ',
    b'{"format": "vmotion-incident-scenario"}\n',
    b'{"time": 1, "nested": ' + b"[" * 100_000 + b"\n",  # JSON lines nested past the parser's recursion limit
])
def test_input_that_cannot_be_imported_is_a_one_line_error_naming_the_formats(
    tmp_path: Path, capfd: pytest.CaptureFixture[str], content: bytes
) -> None:
    source = tmp_path / "input.log"
    source.write_bytes(content + TOKEN.encode())
    done = replay_here(capfd, str(source))
    assert done.returncode == 4
    assert done.stderr.count("\n") == 1 and "Traceback" not in done.stderr
    assert "understood" in done.stderr or "truncated" in done.stderr
    assert TOKEN not in done.stderr + done.stdout


def test_input_that_cannot_be_imported_ends_the_process_with_one_line_and_exit_4(tmp_path: Path) -> None:
    source = tmp_path / "input.log"
    source.write_bytes(b"\x00\x01\x02\xff\xfe binary" + TOKEN.encode())
    done = replay(str(source))
    assert (done.returncode, done.stdout) == (4, "")
    assert done.stderr.count("\n") == 1 and "understood" in done.stderr and TOKEN not in done.stderr


def test_lines_from_other_programs_and_binary_junk_are_skipped_with_a_warning(
    tmp_path: Path, capfd: pytest.CaptureFixture[str]
) -> None:
    lines: List[str] = POC_LOG.splitlines()
    lines.insert(3, f"Dec  1 10:00:00 host kernel: something else {TOKEN}")
    data = "\n".join(lines).encode() + b"\n\x00\xff\xfejunk\n"
    source = tmp_path / "handle_notifications.log"
    source.write_bytes(data)
    done = replay_here(capfd, str(source))
    assert done.returncode == 0, done.stderr
    assert "warning: handle_notifications.log: skipped 2 line(s)" in done.stdout
    assert "forced-migration" in done.stdout and TOKEN not in done.stdout + done.stderr


def test_a_clock_that_jumps_back_is_smoothed_with_a_warning_and_zones_are_honoured(
    tmp_path: Path, capfd: pytest.CaptureFixture[str]
) -> None:
    def line(when: str, message: str) -> str:
        return json.dumps({"time": when, "level": "info", "logger": "vmotion_handler", "message": message})

    log = "\n".join([
        line("2026-01-02T02:54:00.000Z", "registered app 'a'; notificationTimeoutInSec=8; polling every 1 s"),
        line("2026-01-02T03:54:06.000+01:00", f"start: operation {OP} (host-migration), notificationTimeoutInSec=8, "
             "eventGenTimeInSec=1767322445; quiesce deadline in 5.0 s"),
        # NTP steps the clock back 6 minutes: the next lines were written right after the previous one.
        line("2026-01-02T02:48:06.500Z", f"acked start {OP}: ackStatus=ack_received"),
        line("2026-01-02T02:48:07.500Z", "unregistered app 'a'"),
    ]) + "\n"
    done = replay_here(capfd, str(write(tmp_path / "handler.json", log)), "--json")
    assert done.returncode == 0, done.stderr
    incident = json.loads(done.stdout)["incident"]
    assert any("clock went back" in w for w in incident["warnings"])
    (op,) = incident["operations"]
    assert op["fetched"] == 6.0 and op["acks"] == [{"t": 6.0, "ok": True, "before_deadline": True}]
    assert incident["duration"] == 7.0 and incident["outcome"] == ["missed-end"]
