"""A client for the control server, with the same methods as ``Simulator`` (both satisfy ``SimulatorAPI``)."""

from __future__ import annotations

import json
import os
import socket
import struct
from pathlib import Path
from typing import Any, Dict, List, Optional, Union

from simulator.faults import Faults
from simulator.inprocess import SimulatorError
from simulator.journal_entry import Entry, JournalEntry
from simulator.model.knobs import Knobs
from simulator.readside import OperationStatus, Status
from simulator.rpc import RpcResult


class SimulatorUnreachable(SimulatorError):
    """Nothing answers on the socket."""


class ForeignSimulator(SimulatorError):
    """The socket is served by another user: whoever bound it first would receive our RPCs and tokens."""


def check_peer(conn: socket.socket, path: str) -> None:
    """Refuse a server run by another user (root excepted, who can read everything anyway). Linux only:
    elsewhere the socket's private directory is the protection."""
    peercred = getattr(socket, "SO_PEERCRED", None)
    if peercred is None:
        return
    _pid, uid, _gid = struct.unpack("3i", conn.getsockopt(socket.SOL_SOCKET, peercred, struct.calcsize("3i")))
    if uid not in (os.getuid(), 0):
        raise ForeignSimulator(
            f"the socket {path} is served by uid {uid}, not by you (uid {os.getuid()}): refusing to talk to it"
        )


class SimulatorClient:
    def __init__(self, path: Union[str, Path], timeout: float = 30.0) -> None:
        self.path = str(path)
        self.timeout = timeout

    def request(self, op: str, **args: Any) -> Dict[str, Any]:
        payload = json.dumps({"op": op, **args}).encode() + b"\n"
        try:
            with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as conn:
                conn.settimeout(self.timeout)
                conn.connect(self.path)
                check_peer(conn, self.path)
                conn.sendall(payload)
                reply = conn.makefile("rb").readline()
        except OSError as err:
            raise SimulatorUnreachable(f"no simulator answers on {self.path}: {err.strerror or err}") from None
        if not reply:
            raise SimulatorUnreachable(f"the simulator on {self.path} closed the connection")
        answer: Dict[str, Any] = json.loads(reply)
        if not answer.get("ok"):
            raise SimulatorError(str(answer.get("error", "refused")))
        return answer

    def call(self, command: str) -> RpcResult:
        r = self.request("call", command=command)
        return RpcResult(r["stdout"], r["stderr"], r["exit_code"])

    def vmotion(self, outcome: str = "success", migration_seconds: Optional[float] = None) -> int:
        return int(self.request("vmotion", outcome=outcome, migration_seconds=migration_seconds)["operation_id"])

    def set(self, **changes: Any) -> None:
        self.request("set", **changes)

    def knobs(self, **changes: Any) -> Knobs:
        return Knobs.from_json(self.request("knobs", **changes)["knobs"])

    def fault(self, **faults: Any) -> Faults:
        return Faults(**self.request("fault", **faults)["faults"])

    def advance(self, seconds: float) -> float:
        return float(self.request("advance", seconds=seconds)["time"])

    def reboot(self) -> None:
        self.request("reboot")

    def reset(self) -> None:
        self.request("reset")

    def record_probe(self, name: str, phase: str, env: Optional[Dict[str, str]] = None, **details: Any) -> None:
        self.request("probe", name=name, phase=phase, env=env or {}, **details)

    def now(self) -> float:
        return float(self.request("time")["time"])

    def status(self) -> Status:
        return Status.from_dict(self.request("status")["status"])

    def journal(self) -> List[Entry]:
        entries = self.request("journal")["journal"]
        if not isinstance(entries, list):
            raise SimulatorError("the simulator's journal reply is not a list")
        try:
            return [JournalEntry.from_dict(e) for e in entries]
        except ValueError as bad:
            raise SimulatorError(f"the simulator sent a journal entry this client cannot read: {bad}") from None

    def operation(self, operation_id: int) -> OperationStatus:
        found = self.status().operation(operation_id)
        if found is None:
            raise SimulatorError(f"no operation {operation_id}")
        return found

    def ping(self) -> bool:
        try:
            self.request("ping")
        except SimulatorError:
            return False
        return True
