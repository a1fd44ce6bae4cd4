"""A client for the control server, with the same methods as ``Simulator``."""

from __future__ import annotations

import json
import os
import socket
import struct
from pathlib import Path
from typing import Any, Dict, List, Optional, Union

from simulator.inprocess import SimulatorError
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
        r = self.request("rpc", command=command)
        return RpcResult(r["stdout"], r["stderr"], r["exit_code"])

    def vmotion(self, outcome: str = "success", migration_seconds: Optional[float] = None) -> int:
        return int(self.request("vmotion", outcome=outcome, migration_seconds=migration_seconds)["operation_id"])

    def set_config(self, **changes: Any) -> None:
        self.request("set", **changes)

    def set_knobs(self, **changes: Any) -> Dict[str, Any]:
        return dict(self.request("knobs", **changes)["knobs"])

    def set_faults(self, **faults: Any) -> Dict[str, Any]:
        return dict(self.request("faults", **faults)["faults"])

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

    def status(self) -> Dict[str, Any]:
        return dict(self.request("status")["status"])

    def journal(self) -> List[Dict[str, Any]]:
        return list(self.request("journal")["journal"])

    def operation(self, operation_id: int) -> Dict[str, Any]:
        for op in self.status()["operations"]:
            if op["operation_id"] == operation_id:
                return dict(op)
        raise SimulatorError(f"no operation {operation_id}")

    def ping(self) -> bool:
        try:
            self.request("ping")
        except SimulatorError:
            return False
        return True
