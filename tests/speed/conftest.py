"""A simulated VM served at speed as a real process, and handlers started on its clock with `vmotion-sim exec`."""

from __future__ import annotations

import shutil
import subprocess
import tempfile
from pathlib import Path
from typing import Any, Dict, Iterator, List, Mapping, Tuple

import pytest

from simulator.harness import Journal, SimulatedVM, wait_until
from simulator.harness.ours import python_module
from simulator.journal_entry import RpcEntry
from simulator.processes import stop_process
from simulator.speed import unavailable, write_clock_probe

REPO = Path(__file__).resolve().parents[2]
SPEED = 20.0
HOST_TIMEOUT = 120
# How long a migration runs is no part of what these tests check (the timeout is): 2 s, so that an operation ends
# soon after its migration starts (the default 15 s is 1.5 s of wall time at x10).
MIGRATION_SECONDS = 2.0


@pytest.fixture(scope="session")
def _speed_tools() -> None:
    why = unavailable()
    if why:
        pytest.skip(why)


@pytest.fixture(scope="session")
def static_program(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A tiny statically linked C program (gcc -static), or skip when none can be built."""
    cc = shutil.which("gcc") or shutil.which("cc")
    if cc is None:
        pytest.skip("no C compiler to build a static program")
    directory = tmp_path_factory.mktemp("static")
    (directory / "tick.c").write_text("#include <time.h>\nint main(void) { return time(0) > 0 ? 0 : 1; }\n")
    built = subprocess.run([cc, "-static", "-o", str(directory / "tick"), str(directory / "tick.c")],
                           capture_output=True, text=True)
    if built.returncode != 0:
        pytest.skip(f"gcc -static failed (no static libc?): {built.stderr.strip()[-200:]}")
    return directory / "tick"


@pytest.fixture
def short_dir() -> Iterator[Path]:
    """A private directory with a short path (a Unix socket path must stay under 108 bytes)."""
    directory = Path(tempfile.mkdtemp(prefix="vmsim-speed-", dir="/tmp"))
    try:
        yield directory
    finally:
        shutil.rmtree(directory, ignore_errors=True)


class SpedUpVM:
    """``vmotion-sim serve --speed 20`` as a process, with helpers to start handlers on its clock."""

    def __init__(self, sim: SimulatedVM, directory: Path) -> None:
        self.sim = sim
        self.directory = directory
        self.client = sim.client
        self.handlers: List[subprocess.Popen[bytes]] = []

    def env(self, **extra: str) -> Dict[str, str]:
        return {**self.sim.env(), **extra}

    def exec(self, argv: List[str], log: Path, **extra: str) -> subprocess.Popen[bytes]:
        """Start ``argv`` through ``vmotion-sim exec``: on the simulator's clock."""
        with log.open("ab") as out:
            proc = subprocess.Popen(
                [*python_module("simulator"), "--socket", str(self.sim.socket), "exec", "--", *argv],
                env=self.env(**extra), stdin=subprocess.DEVNULL, stdout=out, stderr=out,
            )
        self.handlers.append(proc)
        return proc

    def hook(self, name: str, seconds: float) -> Path:
        """A hook that reports the handler's view of the time to the simulator, then takes ``seconds``."""
        return write_clock_probe(self.directory, self.sim.socket, name, seconds)

    def vmotion_against(self, argv: List[str], log_name: str = "handler.log", **extra: str) -> Tuple[int, Dict[str, Any]]:
        """Start the handler ``argv`` on the simulator's clock (its output in ``log_name``), let it register,
        request a vMotion and wait for its end: (its operationId, its status)."""
        log = self.directory / log_name
        self.exec(argv, log, **extra)
        assert wait_until(self.registered, 30), log.read_text()
        op = self.client.vmotion()
        return op, self.wait_done(op)

    def registered(self) -> bool:
        return bool(self.client.status().registrations)

    def operation(self, op: int) -> Dict[str, Any]:
        return dict(self.client.operation(op))

    def wait_done(self, op: int, real_timeout: float = 90.0) -> Dict[str, Any]:
        done = wait_until(lambda: self.operation(op)["phase"] == "done", real_timeout, interval=0.05)
        assert done, f"operation {op} did not end: {self.operation(op)}"
        return self.operation(op)

    def rpcs(self, verb: str) -> Journal[RpcEntry]:
        return self.sim.rpcs(verb)

    def probes(self, phase: str) -> List[Mapping[str, Any]]:
        """What the clock probes (``hook``) reported from the hook ``phase``."""
        return list(self.sim.probes("clock", phase))

    def close(self) -> None:
        for proc in self.handlers:
            stop_process(proc, timeout=10)
        self.sim.close()


@pytest.fixture
def sped_up_vm(request: pytest.FixtureRequest, _speed_tools: None, short_dir: Path) -> Iterator[SpedUpVM]:
    """At ``SPEED``, or at the speed of the test's ``vmotion_speed`` marker (as for the plugin's ``vmotion_sim``)."""
    marker = request.node.get_closest_marker("vmotion_speed")
    speed = float(marker.args[0]) if marker else SPEED
    sim = SimulatedVM.as_process(short_dir, "--speed", f"{speed:g}", "--host-timeout", str(HOST_TIMEOUT),
                                 "--migration-seconds", f"{MIGRATION_SECONDS:g}").start()
    vm = SpedUpVM(sim, short_dir)
    try:
        yield vm
    finally:
        vm.close()
