"""What one scenario builds up: the simulated VM, the handler (in-process on virtual time, or a process on
real time), and readings of the simulator's journal that the steps assert on.

Everything asserted is observable from outside the handler: the journal (guest RPCs with their replies,
what the hypervisor did, hook probe runs with their environment), the status, the handler's exit status
and its log.
"""

from __future__ import annotations

import logging
import time
from pathlib import Path
from typing import Any, Callable, Dict, Iterator, List, Mapping, Optional, Tuple

import pytest

from handler.core import CoreSettings, Handler
from handler.state import FileStateStore
from simulator import ManualClock, Simulator
from simulator.harness.journal import Journal
from simulator.harness.launcher import HandlerLauncher, HandlerProcess
from simulator.harness.virtual import T0, ScriptedHooks, VirtualTime
from simulator.harness.vm import SimulatedVM
from simulator.harness.wait import wait_until

VIRTUAL, PROCESS = "virtual", "process"
# How long a process-mode expectation may take to become true (the handler polls every 0.2 s).
PROCESS_GRACE_S = 5.0


def fail(message: str) -> None:
    """A failed expectation, reported as one readable line (the conformance verdict's reason)."""
    pytest.fail(message, pytrace=False)


class _Records(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.lines: List[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.lines.append(f"{record.levelname} {record.getMessage()}")


class Story:
    def __init__(self, request: pytest.FixtureRequest, tmp_path: Path) -> None:
        self.request = request
        self.tmp_path = tmp_path
        self.mode = VIRTUAL
        self._sim: Optional[Simulator] = None
        self.vm: Optional[SimulatedVM] = None
        self.time: Optional[VirtualTime] = None
        self.app: Optional[ScriptedHooks] = None
        self.launcher: Optional[HandlerLauncher] = None
        self.core: Optional[Handler] = None
        self.process: Optional[HandlerProcess] = None
        self.policy = "ack-anyway"
        self.operation_id: Optional[int] = None
        self.restarted_at: Optional[float] = None
        self.origin = T0
        self.last_reply: Any = None
        self.tokens: Dict[str, str] = {}
        self._records = _Records()
        # The vCenter side (helper and end-to-end scenarios).
        self.vcsim: Any = None
        self.helper_run: Any = None
        self.bridge: Any = None
        self.move: Optional[Tuple[str, str, str]] = None  # (VM, source host, destination host)

    # ------------------------------------------------------------------------------------ set-up
    def use_process(self) -> None:
        self.mode = PROCESS
        self.vm = self.request.getfixturevalue("vmotion_sim")
        self.launcher = self.request.getfixturevalue("vmotion_handler")
        assert isinstance(self.vm.simulator, Simulator)  # the plugin serves its VM from this process
        self._sim = self.vm.simulator
        self.origin = time.time()

    def use_virtual(self) -> None:
        self.mode = VIRTUAL
        self._sim = Simulator(ManualClock(T0), host_timeout=120, migration_seconds=15.0, seed=11)
        self.time = VirtualTime(self._sim.clock)  # type: ignore[arg-type]
        self.app = ScriptedHooks(self.time, self._sim, default_seconds=0.0)

    @property
    def sim(self) -> Simulator:
        if self._sim is None:
            self.use_virtual()
        assert self._sim is not None
        return self._sim

    def behave(self, hook: str, seconds: float = 0.0, exit_code: int = 0) -> None:
        if self.mode == PROCESS:
            assert self.launcher is not None
            self.launcher.behave(hook, seconds, exit_code)
        else:
            self.sim  # noqa: B018 - creates the virtual VM on first use
            assert self.app is not None
            self.app.behave(hook, seconds, exit_code)

    def start_handler(self) -> None:
        if self.mode == PROCESS:
            assert self.launcher is not None
            since = self.sim.now()
            self.process = self.launcher()
            # Counting registrations is not enough: after a SIGKILL the dead handler's registration is still
            # there. This run must show a working registration of its own, and be polling with it.
            if not wait_until(lambda: self.polling_since(since) or not self.process_alive(), 15.0):
                fail(f"the handler did not register and poll within 15 s; its log ends: {self.log_tail()}")
            if not self.polling_since(since):
                fail(f"the handler exited ({self.process.exit_code}) without registering: {self.log_tail()}")
            return
        assert self.time is not None and self.app is not None
        logger = logging.getLogger(f"vmotion_handler.features.{id(self)}")
        logger.setLevel(logging.DEBUG)
        logger.propagate = False
        logger.addHandler(self._records)
        settings = CoreSettings(
            app_name="demo", interval=1.0, quiesce="quiesce-app", unquiesce="unquiesce-app",
            on_quiesce_failure=self.policy,
        )
        store = FileStateStore(str(self.tmp_path / "state" / "state.json"))
        self.core = Handler(settings, self.sim.call, self.time, self.app, store, logger=logger)
        if not self.core.start():
            fail("the handler did not register")

    def close(self) -> None:
        if self.bridge is not None:
            self.bridge.close()

    def restart_handler(self) -> None:
        self.restarted_at = self.sim.now()
        self.start_handler()

    def process_alive(self) -> bool:
        return self.process is not None and self.process.running()

    def run_until(self, second: float) -> None:
        """Virtual mode: the handler's own loop (poll, drain, sleep the interval) up to ``second``."""
        assert self.core is not None and self.time is not None, "the handler is not running"
        while self.time.elapsed() < second:
            if not self.core.step():
                self.time.sleep(self.core.settings.interval)

    def request_vmotion(self, outcome: str = "success") -> None:
        self.operation_id = self.sim.vmotion(outcome)

    def at(self, second: float, action: Callable[[], Any]) -> None:
        if self.mode != VIRTUAL:
            raise AssertionError("'at second N' steps need the in-process handler on virtual time")
        self.sim  # noqa: B018
        assert self.time is not None
        self.time.at(second, action)

    def eventually(self, check: Callable[[], None], seconds: float = PROCESS_GRACE_S) -> None:
        """Virtual mode: the check holds now. Process mode: it comes true within ``seconds`` of real time."""
        if self.mode == VIRTUAL:
            check()
            return
        deadline = time.monotonic() + seconds
        while True:
            try:
                check()
                return
            except pytest.fail.Exception:
                if time.monotonic() >= deadline:
                    raise
            time.sleep(0.05)  # polling the journal, not waiting out a timeout

    def timing(self, **values: float) -> None:
        self.request.node.user_properties.append(("timing", {k: round(v, 3) for k, v in values.items()}))

    # ------------------------------------------------------------------------------------ readings
    def journal(self) -> Journal:
        return Journal(self.sim.journal())

    def second(self, entry: Mapping[str, Any]) -> float:
        return float(entry["time"]) - self.origin

    def registrations(self) -> int:
        return len(self.sim.status()["registrations"])

    def polling_since(self, since: float) -> bool:
        return self.journal().polling_since(since)

    def operation(self) -> Dict[str, Any]:
        if self.operation_id is None:
            fail("no vMotion was requested")
        return self.sim.operation(self.operation_id)  # type: ignore[arg-type]

    def log_text(self) -> str:
        if self.mode == PROCESS:
            # Every run of the handler appends to the same log file: read each file once.
            logs = {str(p.log_path): p for p in (self.launcher.started if self.launcher else [])}
            return "\n".join(p.log() for p in logs.values())
        return "\n".join(self._records.lines)

    def log_tail(self, lines: int = 3) -> str:
        tail = [line for line in self.log_text().splitlines() if line.strip()][-lines:]
        return " | ".join(tail) or "(empty)"

    def timeline(self) -> List[Tuple[float, str]]:
        """The journal in the scenario's words, each line with its second."""
        return self.journal().timeline(self.origin)


@pytest.fixture
def story(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Story]:
    told = Story(request, tmp_path)
    try:
        yield told
    finally:
        told.close()
