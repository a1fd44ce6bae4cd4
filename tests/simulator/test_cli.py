"""`vmotion-sim` as a user runs it: one-line errors, distinct exit codes, and the control verbs."""

from __future__ import annotations

import argparse
import json
import socket
import subprocess
import sys
from pathlib import Path
from typing import Iterator, List

import pytest

from simulator.cli import build_parser
from simulator.harness.journal import Journal
from simulator.harness.vm import SimulatedVM
from simulator.harness.wait import wait_until
from simulator.inprocess import SimulatorError
from simulator.journal_entry import JournalEntry
from simulator.transport.client import SimulatorClient, SimulatorUnreachable
from tests.simulator.unchanged import assert_unchanged, serve_unchanged


def sim_cli(*argv: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "simulator", *argv], capture_output=True, text=True, timeout=60)


@pytest.fixture
def served(tmp_path: Path) -> Iterator[SimulatedVM]:
    proc = SimulatedVM.as_process(tmp_path, "--clock", "manual", "--host-timeout", "120")
    with proc:
        yield proc


@pytest.fixture(scope="module")
def served_unchanged(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SimulatedVM]:
    yield from serve_unchanged(tmp_path_factory.mktemp("served"), "--clock", "manual", "--host-timeout", "120")


def one_line_error(result: subprocess.CompletedProcess[str], code: int) -> str:
    assert result.returncode == code, result
    assert "Traceback" not in result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    return lines[0]


def test_no_simulator_exit_3(tmp_path: Path) -> None:
    line = one_line_error(sim_cli("--socket", str(tmp_path / "none.sock"), "status"), 3)
    assert "no simulator answers" in line


USAGE_ERRORS = [
    (["advance", "soon"], "vmotion-sim: argument seconds: 'soon' is not a number of seconds"),
    (["set"], "vmotion-sim: set: name at least one of --host-timeout, --vm-timeout, --dest-host-timeout, --enable"),
    (["set", "--host-timeout", "-3"], "vmotion-sim: argument --host-timeout: seconds must be >= 0"),
    (["advance", "nan"], "vmotion-sim: argument seconds: 'nan' is not a finite number of seconds"),
    (["vmotion", "--migration-seconds", "inf"],
     "vmotion-sim: argument --migration-seconds: 'inf' is not a finite number of seconds"),
    (["serve", "--knob", "nonsense=1"], "vmotion-sim: unknown knob 'nonsense' (known: accepted_notification_types, "),
    (["serve", "--knob", "error_envelope=carrier-pigeon"],
     "vmotion-sim: error_envelope must be one of json-stdout, json-stderr, text-stderr"),
    (["frobnicate"], "vmotion-sim: argument COMMAND: invalid choice: 'frobnicate' (choose from "),
]


@pytest.mark.parametrize(("argv", "message"), USAGE_ERRORS, ids=[" ".join(a) for a, _ in USAGE_ERRORS])
def test_usage_errors_exit_2_and_say_what_is_wrong(
    served_unchanged: SimulatedVM, argv: List[str], message: str
) -> None:
    assert one_line_error(sim_cli("--socket", str(served_unchanged.socket), *argv), 2).startswith(message)
    assert_unchanged(served_unchanged)


def test_refusals_exit_1(served: SimulatedVM) -> None:
    sock = str(served.socket)
    assert sim_cli("--socket", sock, "vmotion").returncode == 0
    sim_cli("--socket", sock, "call", 'vm-operation-notification.register {"appName": "a", "notificationTypes": ["sla-miss"]}')
    assert "still in flight" in one_line_error(sim_cli("--socket", sock, "vmotion"), 1)


def test_serving_twice_on_one_socket_is_refused(served_unchanged: SimulatedVM) -> None:
    line = one_line_error(sim_cli("--socket", str(served_unchanged.socket), "serve"), 1)
    assert "already serves" in line
    assert_unchanged(served_unchanged)


def test_a_cycle_driven_from_the_command_line(served: SimulatedVM) -> None:
    sock = str(served.socket)
    register = sim_cli(
        "--socket", sock, "call", 'vm-operation-notification.register {"appName": "cli", "notificationTypes": ["sla-miss"]}'
    )
    assert register.returncode == 0 and '"result": true' in register.stdout
    op_id = int(sim_cli("--socket", sock, "vmotion", "--migration-seconds", "5").stdout)
    assert sim_cli("--socket", sock, "advance", "130").returncode == 0
    status = json.loads(sim_cli("--socket", sock, "status", "--json").stdout)
    (op,) = status["operations"]
    assert (op["operation_id"], op["phase"], op["forced"]) == (op_id, "done", True)
    assert status["registrations"][0]["queued"] == ["start", "end"]
    journal = json.loads(sim_cli("--socket", sock, "journal", "--json").stdout)
    assert [e.verb for e in Journal(JournalEntry.from_dict(e) for e in journal).rpcs()] == ["register"]
    timeline = sim_cli("--socket", sock, "journal").stdout
    assert "timeout: migration forced" in timeline
    assert sim_cli("--socket", sock, "set", "--vm-timeout", "30").returncode == 0
    assert json.loads(sim_cli("--socket", sock, "status", "--json").stdout)["effective_timeout"] == 30


def test_faults_from_the_command_line(served: SimulatedVM) -> None:
    sock = str(served.socket)
    assert sim_cli("--socket", sock, "fault", "--channel-down", "--count", "1").returncode == 0
    down = sim_cli("--socket", sock, "call", "vm-operation-notification.list")
    assert (down.returncode, down.stderr) == (1, "Unable to send command to VMware hypervisor.\n")
    assert sim_cli("--socket", sock, "call", "vm-operation-notification.list").returncode == 0


def test_knobs_are_listed_with_their_reasons() -> None:
    out = sim_cli("knobs").stdout
    assert "error_envelope = 'json-stdout'" in out
    assert "max_apps = 1" in out
    assert "S2" in out  # each reason cites its source


def test_knobs_can_be_set_at_run_time(served: SimulatedVM) -> None:
    result = sim_cli("--socket", str(served.socket), "knobs", "max_apps=2", "purge_stale_starts=true")
    assert result.returncode == 0
    knobs = json.loads(result.stdout)
    assert (knobs["max_apps"], knobs["purge_stale_starts"]) == (2, True)


def test_vm_timeout_minus_one_unsets_it(served: SimulatedVM) -> None:
    sock = str(served.socket)
    assert sim_cli("--socket", sock, "set", "--vm-timeout", "30").returncode == 0
    result = sim_cli("--socket", sock, "set", "--vm-timeout", "-1")
    assert result.returncode == 0, result.stderr
    status = json.loads(sim_cli("--socket", sock, "status", "--json").stdout)
    assert (status["config"]["vm_timeout"], status["effective_timeout"]) == (None, 120)


@pytest.mark.parametrize(
    ("op", "args", "why"),
    [
        ("rpc", {"command": 123}, '"command" must be a string'),
        ("faults", {"latency": "x"}, "latency must be a number of seconds from 0 to 1000000000"),
        ("knobs", {"max_apps": "x"}, "knob max_apps has the wrong type: 'x'"),
        ("set", {"enabled": "false"}, "enabled must be true or false"),
    ],
)
def test_a_malformed_control_request_gets_a_reply_saying_why(
    served_unchanged: SimulatedVM, op: str, args: dict[str, object], why: str
) -> None:
    client = SimulatorClient(served_unchanged.socket)
    with pytest.raises(SimulatorError) as refused:
        client.request(op, **args)
    assert not isinstance(refused.value, SimulatorUnreachable)  # an answer, not a dropped connection
    assert str(refused.value) == why
    status = client.status()  # and nothing was changed by it
    assert (status["faults"]["latency"], status["knobs"]["max_apps"], status["config"]["enabled"]) == (0.0, 1, True)
    assert client.call("vm-operation-notification.list").exit_code == 0
    assert_unchanged(served_unchanged)


def test_a_client_that_leaves_before_its_reply_costs_no_traceback(served: SimulatedVM) -> None:
    for _ in range(3):
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as conn:
            conn.connect(str(served.socket))
            conn.sendall(b'{"op": "rpc", "command": "vm-operation-notification.list"}\n')
    client = SimulatorClient(served.socket)
    # each request is still carried out
    assert wait_until(lambda: len(Journal(client.journal()).rpcs()) >= 3, 10), "the requests were not carried out"
    served.close()
    assert "Traceback" not in served.errors


def test_socket_is_accepted_before_and_after_every_verb() -> None:
    parser = build_parser()
    verbs = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction)).choices
    required = {"advance": ["1"], "call": ["x"], "shim": ["d"], "probe": ["quiesce", "started"], "replay": ["f"],
                "run": ["f"], "compare": ["f"], "shrink": ["f"],
                "report": ["j", "-o", "page.html"]}
    for verb in verbs:
        rest = required.get(verb, [])
        before = parser.parse_args(["--socket", "/s/before", verb, *rest])
        after = parser.parse_args([verb, "--socket", "/s/after", *rest])
        neither = parser.parse_args([verb, *rest])
        assert (before.socket, after.socket, neither.socket) == ("/s/before", "/s/after", None), verb


def test_socket_after_the_verb_reaches_that_simulator(served_unchanged: SimulatedVM) -> None:
    done = sim_cli("status", "--json", "--socket", str(served_unchanged.socket))
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["effective_timeout"] == 120


def test_a_manual_clock_start_time_is_bounded(tmp_path: Path) -> None:
    done = subprocess.run(
        [sys.executable, "-m", "simulator", "--socket", str(tmp_path / "s.sock"), "serve", "--clock", "manual",
         "--start-time", "1e300"],
        capture_output=True, text=True, timeout=30,
    )
    assert done.returncode == 2 and "start-time" in done.stderr and "Traceback" not in done.stderr


@pytest.mark.parametrize(
    "argv",
    [["advance", "9" * 400], ["vmotion", "--migration-seconds", "1e300"], ["fault", "--latency", "1e300"],
     ["serve", "--idle-timeout", "0"], ["serve", "--max-connections", "0"]],
)
def test_unbounded_numbers_are_usage_errors(served_unchanged: SimulatedVM, argv: list[str]) -> None:
    done = subprocess.run([sys.executable, "-m", "simulator", "--socket", str(served_unchanged.socket), *argv],
                          capture_output=True, text=True, timeout=30)
    assert done.returncode == 2 and "Traceback" not in done.stderr and len(done.stderr.splitlines()) == 1
    assert SimulatorClient(served_unchanged.socket).ping()
    assert_unchanged(served_unchanged)
