"""The control socket under abuse (issue 10, C1 C2 C5): every bad request gets one error reply, and the server
answers the next request on the same connection."""

from __future__ import annotations

import json
import socket
from pathlib import Path
from typing import Any, Dict, Iterator

import pytest

from simulator import ManualClock, Simulator
from simulator.harness.journal import Journal
from simulator.transport.server import MAX_LINE, SimulatorServer
from tests.simulator.guest import Guest


@pytest.fixture
def sim() -> Simulator:
    return Simulator(ManualClock(1_666_994_660.0), seed=1)


@pytest.fixture
def conn(sim: Simulator, tmp_path: Path) -> Iterator[socket.socket]:
    with SimulatorServer(sim, tmp_path / "sim.sock") as server, socket.socket(socket.AF_UNIX) as c:
        c.settimeout(30)
        c.connect(str(server.path))
        yield c


def replies(conn: socket.socket, payload: bytes, count: int) -> list[Dict[str, Any]]:
    conn.sendall(payload)
    reader = conn.makefile("rb")
    return [json.loads(reader.readline()) for _ in range(count)]


def ask(conn: socket.socket, request: Dict[str, Any]) -> Dict[str, Any]:
    return replies(conn, json.dumps(request).encode() + b"\n", 1)[0]


def test_an_oversize_line_is_refused_whole_and_the_next_request_is_answered(
    sim: Simulator, conn: socket.socket
) -> None:
    Guest(sim).register()
    # A crafted line: padding past the limit, then a valid request that must not run.
    line = b'{"op": "ping", "pad": "' + b"x" * MAX_LINE + b'"}{"op": "reboot"}\n'
    conn.sendall(line)
    first, second = replies(conn, b'{"op": "ping"}\n', 2)
    assert first["ok"] is False and "longer than" in first["error"]
    assert second == {"ok": True}
    assert len(sim.status()["registrations"]) == 1  # no reboot ran


@pytest.mark.parametrize(
    "request_line",
    [
        b'{"op": "ping", "x": ' + b"[" * 100_000 + b"]" * 100_000 + b"}\n",
        b'{"op": "advance", "seconds": ' + b"9" * 400 + b"}\n",
        b'{"op": "vmotion", "migration_seconds": ' + b"9" * 400 + b"}\n",
        b'{"op": "vmotion", "migration_seconds": 1e300}\n',
        b'{"op": "faults", "latency": 1e300}\n',
        b'{"op": "advance", "seconds": 1e300}\n',
    ],
    ids=["deep-json", "advance-400-digits", "migration-400-digits", "migration-1e300", "latency-1e300",
         "advance-1e300"],
)
def test_unreasonable_numbers_and_nesting_get_one_error_reply(
    sim: Simulator, conn: socket.socket, request_line: bytes
) -> None:
    refused, pong = replies(conn, request_line + b'{"op": "ping"}\n', 2)
    assert refused["ok"] is False and refused["error"]
    assert pong == {"ok": True}
    assert sim.status()["operations"] == []


def test_a_guest_rpc_nested_too_deep_gets_invalid_input_and_is_journaled(sim: Simulator, conn: socket.socket) -> None:
    command = "vm-operation-notification.register " + "[" * 50_000
    reply = ask(conn, {"op": "rpc", "command": command})
    assert reply["ok"] is True
    assert "register: Invalid input: Malformed JSON" in reply["stdout"] + reply["stderr"]
    assert [e.verb for e in Journal(sim.journal()).rpcs()] == ["register"]


@pytest.mark.parametrize("field", ["time", "seq", "kind"])
def test_a_probe_cannot_overwrite_the_journal_entry_s_own_fields(
    sim: Simulator, conn: socket.socket, field: str
) -> None:
    refused = ask(conn, {"op": "probe", "name": "quiesce", "phase": "started", field: "later"})
    assert refused["ok"] is False and field in refused["error"]
    assert ask(conn, {"op": "journal"})["ok"] is True


@pytest.mark.parametrize(
    "fields", [{"name": 5, "phase": "started"}, {"name": "q", "phase": "started", "env": {"A": 1}}]
)
def test_probe_fields_of_the_wrong_type_are_refused(conn: socket.socket, fields: Dict[str, Any]) -> None:
    assert ask(conn, {"op": "probe", **fields})["ok"] is False
    assert ask(conn, {"op": "journal"})["ok"] is True
