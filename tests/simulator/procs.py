"""Start `vmotion-sim serve` as a real process for tests, and stop it by its pid."""

from __future__ import annotations

import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

from simulator.processes import stop_process
from simulator.transport.client import SimulatorClient
from simulator.transport.shim import write_shims


@dataclass
class SimProcess:
    process: subprocess.Popen[bytes]
    socket: Path
    bin_dir: Path

    def stop(self) -> None:
        stop_process(self.process)


def start_sim(directory: Path, *serve_args: str) -> SimProcess:
    sock = directory / "sim.sock"
    process = subprocess.Popen(
        [sys.executable, "-m", "simulator", "--socket", str(sock), "serve", *serve_args],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    client = SimulatorClient(sock)
    deadline = time.monotonic() + 20
    while not client.ping():
        if process.poll() is not None:
            raise RuntimeError(f"vmotion-sim serve exited: {process.stderr.read().decode() if process.stderr else ''}")
        if time.monotonic() > deadline:
            process.kill()
            raise RuntimeError("vmotion-sim serve did not start")
        time.sleep(0.02)
    bin_dir = directory / "bin"
    write_shims(bin_dir, sock)
    return SimProcess(process, sock, bin_dir)
