"""One VM's guest on virtual time: the real handler core, its application's hooks, its view of the clock.

The core is synchronous: a step that fetches a start runs the quiesce and sends the ack before it returns,
sleeping on its clock meanwhile. Thousands of guests cannot each hold the one shared clock while they sleep,
and a thread per guest is what this package exists to avoid. So each guest gets a ``GuestClock``: the shared
``ManualClock`` as long as the guest is idle, but while one of its steps runs, its sleeps move only its own
time ahead. That is sound because during a step the guest talks only to its own VM's simulator (which reads
the same ``GuestClock``), and nothing else touches that simulator until the guest's ack, or the hypervisor's
deadline, which the model applies at its own time whenever it is next asked.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import Dict, List, Mapping, Optional, Protocol

from handler.core import CoreSettings, Handler
from handler.hooks import HookResult
from handler.metrics import Metrics
from handler.state import MemoryStateStore
from simulator import ManualClock, Simulator

QUIESCE, UNQUIESCE = "quiesce", "unquiesce"
_DONE = 1e-9  # seconds left that count as none (float sums of interval-long waits)


class GuestClock:
    """A guest's view of the shared clock: the same time, except that its own sleeps run ahead of it."""

    __slots__ = ("_ahead", "_origin", "_replaying", "_shared")

    def __init__(self, shared: ManualClock) -> None:
        self._shared = shared
        self._origin = shared.now() - shared.monotonic()
        self._ahead = float("-inf")
        self._replaying: Optional[float] = None

    def now(self) -> float:
        if self._replaying is not None:
            return self._replaying
        shared = self._shared.now()
        return self._ahead if self._ahead > shared else shared

    def monotonic(self) -> float:
        return self.now() - self._origin

    def sleep(self, seconds: float) -> None:
        if self._replaying is not None:
            self._replaying += max(0.0, seconds)
        else:
            self._ahead = self.now() + max(0.0, seconds)

    def replay_from(self, when: float) -> None:
        """Stand at ``when``, even behind the shared clock, until ``catch_up``: a guest made late plays its
        own past (that nothing else took part in) at the times it happened."""
        self._replaying = when

    def catch_up(self) -> None:
        self._replaying = None


class Sleeper(Protocol):
    def now(self) -> float: ...

    def sleep(self, seconds: float) -> None: ...


@dataclass
class HookRun:
    hook: str
    started: float  # clock time
    ended: Optional[float] = None
    outcome: str = "running"  # ok | killed


class _TimedRun:
    def __init__(self, clock: Sleeper, run: HookRun, seconds: float) -> None:
        self._clock = clock
        self._run = run
        self._left = seconds

    def wait(self, timeout: float) -> Optional[HookResult]:
        step = min(max(0.0, timeout), self._left)
        self._clock.sleep(step)
        self._left -= step
        if self._left > _DONE:
            return None
        self._run.ended, self._run.outcome = self._clock.now(), "ok"
        return HookResult(exit_code=0)

    def kill(self) -> HookResult:
        self._run.ended, self._run.outcome = self._clock.now(), "killed"
        return HookResult(exit_code=None, killed=True)


@dataclass
class TimedHooks:
    """The application's hook commands on virtual time (a ``handler.hooks.HookRunner``): each run of a hook
    takes its set number of seconds on ``clock`` and exits 0, unless the handler kills it first."""

    clock: Sleeper
    seconds: Mapping[str, float]
    runs: List[HookRun] = field(default_factory=list)

    def start(self, hook: str, command: str, env: Mapping[str, str]) -> _TimedRun:
        run = HookRun(hook, self.clock.now())
        self.runs.append(run)
        return _TimedRun(self.clock, run, self.seconds.get(hook, 0.0))

    def of(self, hook: str) -> List[HookRun]:
        return [r for r in self.runs if r.hook == hook]


def quiet_logger() -> logging.Logger:
    """The guests' logger: thousands of handlers' lines are not the what-if's output."""
    log = logging.getLogger("simulator.cluster.guest")
    log.disabled = True
    return log


class Guest:
    """The bundled handler core on one VM's simulator, driven one poll at a time by the evacuation's loop."""

    def __init__(self, sim: Simulator, clock: GuestClock, settings: CoreSettings, seconds: Dict[str, float],
                 logger: Optional[logging.Logger] = None) -> None:
        self.clock = clock
        self.interval = settings.interval
        self.hooks = TimedHooks(clock, seconds)
        self.handler = Handler(settings, transport=sim.call, clock=clock, hooks=self.hooks,
                               state_store=MemoryStateStore(), metrics=Metrics(), logger=logger or quiet_logger())

    def start(self) -> float:
        """Register and make the first poll; returns when the next poll is due."""
        self.handler.start()
        return self.poll()

    def poll(self) -> float:
        """What ``Handler.run`` does from one poll to the next time it sleeps: events are handled back to back,
        and an empty poll ends the turn. Returns when the next poll is due (``run`` polls every ``interval``
        from the start of the previous poll, or at once if that poll took longer)."""
        while True:
            started = self.clock.now()
            if not self.handler.step():
                return max(started + self.interval, self.clock.now())

    def stop(self) -> None:
        """Unquiesce what is left, unregister: what ``run`` does once asked to stop."""
        self.handler.request_stop()
        self.handler.shutdown()
