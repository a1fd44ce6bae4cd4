"""One simulated VM for a handler: served on a socket of its own, with the fake ``vmtoolsd`` beside it.

Two ways to serve it, one object:

* ``SimulatedVM.in_process(directory, host_timeout=10)``: a :class:`~simulator.Simulator` in this process,
  served by a thread; ``vm.simulator`` is that ``Simulator`` (read it directly, change its clock).
* ``SimulatedVM.as_process(directory, "--host-timeout", "10")``: ``vmotion-sim serve`` as a child process,
  stopped by its pid.

Either way ``vm.client`` is a :class:`~simulator.transport.client.SimulatorClient` on its socket.

Either way a handler process gets ``vm.env()`` (the fake vmtoolsd first on ``PATH``) and a test reads
``vm.journal()``. Standard library only.
"""

from __future__ import annotations

import os
import subprocess
import tempfile
from pathlib import Path
from types import TracebackType
from typing import Any, Dict, List, Optional, Type, Union

from simulator.clock import clock_description
from simulator.harness.journal import Journal
from simulator.harness.ours import python_module
from simulator.harness.wait import wait_until
from simulator.inprocess import Simulator
from simulator.journal_entry import Entry, ProbeEntry, RpcEntry
from simulator.processes import stop_process
from simulator.transport.client import SimulatorClient
from simulator.transport.server import SOCKET_ENV, SimulatorServer
from simulator.transport.shim import write_shims

SERVE_START_S = 20.0  # how long `vmotion-sim serve` may take to answer its first ping


def short_dir(prefix: str) -> Path:
    """A private scratch directory with a short path: a Unix socket path must stay under 108 bytes."""
    base = tempfile.gettempdir()
    if len(base) > 60:
        base = "/tmp"
    return Path(tempfile.mkdtemp(prefix=prefix, dir=base))


class SimulatedVM:
    """A simulated VM on ``directory/sim.sock``, the fake vmtoolsd in ``directory/bin``."""

    def __init__(self, directory: Union[str, Path], simulator: Optional[Simulator] = None,
                 server: Optional[SimulatorServer] = None, serve_argv: Optional[List[str]] = None) -> None:
        self.directory = Path(directory)
        self.socket = self.directory / "sim.sock"
        self.bin_dir = self.directory / "bin"
        self.client = SimulatorClient(self.socket)
        self._simulator = simulator
        self._server = server
        self._serve_argv = serve_argv
        self.process: Optional[subprocess.Popen[bytes]] = None
        self.errors = ""  # what a served process wrote on stderr, once it was stopped

    @classmethod
    def in_process(cls, directory: Union[str, Path], simulator: Optional[Simulator] = None,
                   **settings: Any) -> SimulatedVM:
        """Serve ``simulator`` (default: a new one on the real clock, with ``settings``) from this process."""
        sim = simulator if simulator is not None else Simulator(**settings)
        socket = Path(directory) / "sim.sock"
        return cls(directory, sim, server=SimulatorServer(sim, socket))

    @classmethod
    def as_process(cls, directory: Union[str, Path], *serve_args: str) -> SimulatedVM:
        """Serve with ``vmotion-sim serve SERVE_ARGS`` as a child process (its own interpreter, its own GIL)."""
        socket = Path(directory) / "sim.sock"
        argv = [*python_module("simulator"), "--socket", str(socket), "serve", *serve_args]
        return cls(directory, serve_argv=argv)

    @property
    def simulator(self) -> Simulator:
        """The in-process ``Simulator`` (``in_process`` only; a VM served by a process is reached by ``client``)."""
        if self._simulator is None:
            raise RuntimeError("this VM is served by vmotion-sim serve: use vm.client")
        return self._simulator

    def start(self) -> SimulatedVM:
        self.directory.mkdir(parents=True, exist_ok=True)
        if self._server is not None:
            self._server.start()
        elif self._serve_argv is not None:
            self._start_process(self._serve_argv)
        write_shims(self.bin_dir, self.socket)
        return self

    def _start_process(self, argv: List[str]) -> None:
        proc = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        self.process = proc
        if wait_until(self.client.ping, SERVE_START_S, give_up=lambda: proc.poll() is not None):
            return
        self.close()
        err = proc.stderr.read().decode(errors="replace").strip() if proc.stderr else ""
        raise RuntimeError(f"vmotion-sim serve did not answer on {self.socket}: {err or 'no output'}")

    def close(self) -> None:
        if self._server is not None:
            self._server.close()
        proc, self.process = self.process, None
        if proc is not None:
            stop_process(proc)
            if proc.stderr is not None:
                self.errors += proc.stderr.read().decode(errors="replace")
                proc.stderr.close()

    def __enter__(self) -> SimulatedVM:
        return self.start()

    def __exit__(self, kind: Optional[Type[BaseException]], value: Optional[BaseException],
                 tb: Optional[TracebackType]) -> None:
        self.close()

    def env(self, base: Optional[Dict[str, str]] = None) -> Dict[str, str]:
        """The environment for a handler process: the fake vmtoolsd first on ``PATH``, ``VMOTION_SIM_SOCKET``."""
        env = dict(os.environ if base is None else base)
        env["PATH"] = str(self.bin_dir) + os.pathsep + env.get("PATH", os.defpath)
        env[SOCKET_ENV] = str(self.socket)
        return env

    def clock(self) -> Dict[str, float]:
        """The served simulator's clock (``speed``, and at speed ``origin_wall``): what puts a process on it."""
        if self._simulator is not None:
            return clock_description(self._simulator.clock)
        return dict(self.client.request("clock")["clock"])

    @property
    def vmtoolsd(self) -> Path:
        return self.bin_dir / "vmtoolsd"

    def journal(self) -> Journal[Entry]:
        """A snapshot of the journal, to query: ``vm.journal().probes("quiesce", "finished")``."""
        source = self._simulator if self._simulator is not None else self.client
        return Journal(source.journal())

    def rpcs(self, verb: Optional[str] = None) -> Journal[RpcEntry]:
        return self.journal().rpcs(verb)

    def probes(self, name: Optional[str] = None, phase: Optional[str] = None) -> Journal[ProbeEntry]:
        return self.journal().probes(name, phase)
