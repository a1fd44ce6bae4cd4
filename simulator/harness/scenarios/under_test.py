"""The handler under test in a scenario: one protocol, two ways to run it, given to the steps as fixtures.

``VirtualHandler`` runs the handler's core in-process on the simulator's manual clock (a 120-second timeout
takes milliseconds); ``ProcessHandler`` runs the handler command as a real process on short real timeouts,
against the plugin's ``vmotion_sim`` and ``vmotion_handler``. Both satisfy :class:`HandlerUnderTest`, so a step
reads the same whichever runs: ``handler.sim``, ``handler.journal()``, ``handler.operation()``.

Everything asserted is observable from outside the handler: the journal (guest RPCs with their replies, what the
hypervisor did, hook probe runs with their environment), the status, the handler's exit status and its log.
"""

from __future__ import annotations

import logging
import signal
import time
from pathlib import Path
from typing import Any, Callable, Dict, List, NoReturn, Optional, Protocol

import pytest

from handler.core import CoreSettings, Handler
from handler.state import FileStateStore
from simulator import ManualClock, Simulator
from simulator.harness.journal import Journal
from simulator.harness.launcher import HandlerLauncher, HandlerProcess
from simulator.harness.virtual import T0, ScriptedHooks, VirtualTime
from simulator.harness.vm import SimulatedVM
from simulator.harness.wait import wait_until
from simulator.journal_entry import Entry
from simulator.readside import OperationStatus

# How long a process-mode expectation may take to become true (the handler polls every 0.2 s).
PROCESS_GRACE_S = 5.0
START_S = 15.0  # how long a handler process may take to register and poll


def fail(message: str) -> NoReturn:
    """A failed expectation, reported as one readable line (the conformance verdict's reason)."""
    pytest.fail(message, pytrace=False)


class HandlerUnderTest(Protocol):
    sim: Simulator
    origin: float  # the epoch second a scenario's "second 0" is
    operation_id: Optional[int]  # the last vMotion requested
    restarted_at: Optional[float]

    def behave(self, hook: str, seconds: float = 0.0, exit_code: int = 0) -> None: ...
    def start(self, policy: str) -> None: ...
    def restart(self, policy: str) -> None: ...
    def at(self, second: float, action: Callable[[], Any]) -> None: ...
    def run_until(self, second: float) -> None: ...
    def eventually(self, check: Callable[[], None], seconds: float = PROCESS_GRACE_S) -> None: ...
    def kill(self) -> None: ...
    def terminate(self) -> None: ...
    def exit_status(self, seconds: float) -> Optional[int]: ...
    def request_vmotion(self, outcome: str = "success") -> None: ...
    def operation(self) -> OperationStatus: ...
    def journal(self) -> Journal[Entry]: ...
    def timing(self, **values: float) -> None: ...
    def log_text(self) -> str: ...
    def log_tail(self, lines: int = 3) -> str: ...


class _Common:
    """What both ways share: the vMotion requested, the journal, the verdict's timings, the log's tail."""

    def __init__(self, node: pytest.Item, sim: Simulator, origin: float) -> None:
        self.node = node
        self.sim = sim
        self.origin = origin
        self.operation_id: Optional[int] = None
        self.restarted_at: Optional[float] = None

    def request_vmotion(self, outcome: str = "success") -> None:
        self.operation_id = self.sim.vmotion(outcome)

    def operation(self) -> OperationStatus:
        if self.operation_id is None:
            fail("no vMotion was requested")
        return self.sim.operation(self.operation_id)

    def journal(self) -> Journal[Entry]:
        return Journal(self.sim.journal())

    def timing(self, **values: float) -> None:
        self.node.user_properties.append(("timing", {k: round(v, 3) for k, v in values.items()}))

    def log_text(self) -> str:
        raise NotImplementedError

    def log_tail(self, lines: int = 3) -> str:
        tail = [line for line in self.log_text().splitlines() if line.strip()][-lines:]
        return " | ".join(tail) or "(empty)"


class _Records(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.lines: List[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.lines.append(f"{record.levelname} {record.getMessage()}")


class VirtualHandler(_Common):
    """The handler's core in-process, polling every virtual second, with scripted hooks on virtual time."""

    def __init__(self, node: pytest.Item, state_dir: Path) -> None:
        super().__init__(node, Simulator(ManualClock(T0), host_timeout=120, migration_seconds=15.0, seed=11), T0)
        assert isinstance(self.sim.clock, ManualClock)
        self.time = VirtualTime(self.sim.clock)
        self.hooks = ScriptedHooks(self.time, self.sim, default_seconds=0.0)
        self.state_file = state_dir / "state" / "state.json"
        self.core: Optional[Handler] = None
        self._records = _Records()

    def behave(self, hook: str, seconds: float = 0.0, exit_code: int = 0) -> None:
        self.hooks.behave(hook, seconds, exit_code)

    def start(self, policy: str) -> None:
        logger = logging.getLogger(f"vmotion_handler.features.{id(self)}")
        logger.setLevel(logging.DEBUG)
        logger.propagate = False
        logger.addHandler(self._records)
        settings = CoreSettings(app_name="demo", interval=1.0, quiesce="quiesce-app", unquiesce="unquiesce-app",
                                on_quiesce_failure=policy)
        store = FileStateStore(str(self.state_file))
        self.core = Handler(settings, self.sim.call, self.time, self.hooks, store, logger=logger)
        if not self.core.start():
            fail("the handler did not register")

    def restart(self, policy: str) -> None:
        self.restarted_at = self.sim.now()
        self.start(policy)

    def at(self, second: float, action: Callable[[], Any]) -> None:
        self.time.at(second, action)

    def run_until(self, second: float) -> None:
        """The handler's own loop (``Handler.poll_once``: poll, drain, sleep out the period) up to ``second``."""
        if self.core is None:
            fail("the handler is not running")
        while self.time.elapsed() < second:
            self.core.poll_once()

    def eventually(self, check: Callable[[], None], seconds: float = PROCESS_GRACE_S) -> None:
        check()  # virtual time stands still between steps: what will be true is true now

    def kill(self) -> None:
        raise AssertionError("killing the handler needs it to run as a process")

    def terminate(self) -> None:
        raise AssertionError("signalling the handler needs it to run as a process")

    def exit_status(self, seconds: float) -> Optional[int]:
        raise AssertionError("an exit status needs the handler to run as a process")

    def log_text(self) -> str:
        return "\n".join(self._records.lines)


class ProcessHandler(_Common):
    """The handler command (``--handler-cmd``, else the bundled one) as a real process, on real time."""

    def __init__(self, node: pytest.Item, vm: SimulatedVM, launcher: HandlerLauncher) -> None:
        super().__init__(node, vm.simulator, time.time())
        self.launcher = launcher
        self.process: Optional[HandlerProcess] = None

    def behave(self, hook: str, seconds: float = 0.0, exit_code: int = 0) -> None:
        self.launcher.behave(hook, seconds, exit_code)

    def start(self, policy: str) -> None:
        since = self.sim.now()
        process = self.process = self.launcher()
        # Counting registrations is not enough: after a SIGKILL the dead handler's registration is still
        # there. This run must show a working registration of its own, and be polling with it.
        polling = wait_until(lambda: self.journal().polling_since(since), START_S, give_up=lambda: not process.running())
        if not polling and process.running():
            fail(f"the handler did not register and poll within {START_S:g} s; its log ends: {self.log_tail()}")
        if not polling:
            fail(f"the handler exited ({process.exit_code}) without registering: {self.log_tail()}")

    def restart(self, policy: str) -> None:
        self.restarted_at = self.sim.now()
        self.start(policy)

    def at(self, second: float, action: Callable[[], Any]) -> None:
        raise AssertionError("'at second N' steps need the in-process handler on virtual time")

    def run_until(self, second: float) -> None:
        raise AssertionError("'runs until second N' needs the in-process handler on virtual time")

    def eventually(self, check: Callable[[], None], seconds: float = PROCESS_GRACE_S) -> None:
        """The check comes true within ``seconds`` of real time (its last failure is reported)."""
        def holds() -> bool:
            try:
                check()
            except pytest.fail.Exception:
                return False
            return True

        if not wait_until(holds, seconds, interval=0.05):
            check()

    def _running(self) -> HandlerProcess:
        if self.process is None:
            fail("the handler was not started")
        return self.process

    def kill(self) -> None:
        self._running().kill()

    def terminate(self) -> None:
        self._running().send_signal(signal.SIGTERM)

    def exit_status(self, seconds: float) -> Optional[int]:
        return self._running().wait(seconds)

    def log_text(self) -> str:
        return self.launcher.log()


@pytest.fixture
def handler(request: pytest.FixtureRequest, tmp_path: Path) -> HandlerUnderTest:
    """The in-process handler on virtual time, not started: what a scenario has unless it says otherwise."""
    return VirtualHandler(request.node, tmp_path)


@pytest.fixture
def policy() -> str:
    """What the handler does when its quiesce command fails (``--on-quiesce-failure``)."""
    return "ack-anyway"


@pytest.fixture
def tokens() -> Dict[str, str]:
    """The registration tokens the guest steps were given, by app name."""
    return {}
