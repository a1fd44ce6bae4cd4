"""A real ``vmotion-sim serve`` process with its fake vmtoolsd shims, for the figures that need processes."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path
from typing import List, Optional

from simulator.processes import stop_process
from simulator.transport.client import SimulatorClient
from simulator.transport.shim import write_shims

REGISTER = 'vm-operation-notification.register {"appName": "bench", "notificationTypes": ["sla-miss"]}'


def check_for_event(token: str) -> str:
    return "vm-operation-notification.check-for-event " + json.dumps({"uniqueToken": token})


class SimServer:
    """``vmotion-sim serve`` on a socket in ``directory``; stopped by its pid on ``stop``."""

    def __init__(self, directory: Path, *serve_args: str) -> None:
        self.directory = directory
        self.socket = directory / "sim.sock"
        self.process: Optional[subprocess.Popen[bytes]] = None
        self.serve_args: List[str] = list(serve_args)
        self.client = SimulatorClient(self.socket)
        self.vmtoolsd = directory / "bin" / "vmtoolsd"

    def start(self) -> SimServer:
        self.process = subprocess.Popen(
            [sys.executable, "-m", "simulator", "--socket", str(self.socket), "serve", *self.serve_args],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
        )
        deadline = time.monotonic() + 20
        while not self.client.ping():
            if self.process.poll() is not None:
                err = self.process.stderr.read().decode() if self.process.stderr else ""
                raise RuntimeError(f"vmotion-sim serve exited: {err.strip()}")
            if time.monotonic() > deadline:
                self.stop()
                raise RuntimeError("vmotion-sim serve did not answer within 20 s")
            time.sleep(0.02)
        write_shims(self.directory / "bin", self.socket)
        return self

    def register(self) -> str:
        """Register an app directly over the socket; returns its token."""
        reply = self.client.call(REGISTER)
        token: str = json.loads(reply.stdout)["uniqueToken"]
        return token

    def stop(self) -> None:
        proc = self.process
        if proc is None:
            return
        stop_process(proc)
        if proc.stderr is not None:
            proc.stderr.close()
        self.process = None

    def __enter__(self) -> SimServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
