"""Figure: the 120-second forced-migration scenario on virtual time, wall time and speed-up over real time.

Two forms, both in-process on the simulator's ManualClock:
- simulator only: register, vMotion, nobody acks, 120 s pass, the migration is forced, 15 s of migration,
  the end event is fetched, unregister;
- the handler core driven on the same virtual clock (real ``handler.core.Handler``, polling every second),
  with a quiesce that outlasts the timeout and the ``no-ack`` policy, so the migration is forced at 120 s.
Floor: the same number of guest RPCs, each a plain ``check-for-event`` on an empty queue, on the same
simulator: what the scenario would cost if time itself cost nothing extra.
"""

from __future__ import annotations

import heapq
import itertools
import json
import logging
import time
from typing import Any, Callable, List, Mapping, Optional, Tuple

from benchmarks.measure import Row
from benchmarks.simproc import REGISTER, check_for_event
from handler.core import NO_ACK, CoreSettings, Handler
from handler.hooks import HookResult
from handler.state import HandlerState
from simulator import ManualClock, Simulator
from simulator.harness.journal import Journal

FIGURE = "virtual-time"
TIMEOUT = 120
MIGRATION = 15.0
T0 = 1_700_000_000.0


def _rpc_count(sim: Simulator) -> int:
    return len(Journal(sim.journal()).rpcs())


def _check_forced(sim: Simulator) -> float:
    (op,) = sim.status()["operations"]
    if not (op["forced"] and op["phase"] == "done"):
        raise RuntimeError(f"the scenario did not force the migration: {op}")
    return sim.now() - T0


def simulator_scenario() -> Tuple[float, float, int, Simulator]:
    """Returns (wall seconds, virtual seconds, guest RPCs, simulator)."""
    start = time.perf_counter()
    sim = Simulator(clock=ManualClock(T0), host_timeout=TIMEOUT, migration_seconds=MIGRATION, seed=3)
    token = json.loads(sim.call(REGISTER).stdout)["uniqueToken"]
    poll = check_for_event(token)
    sim.vmotion()
    if '"eventType": "start"' not in sim.call(poll).stdout:
        raise RuntimeError("no start event")
    sim.advance(TIMEOUT)
    sim.advance(MIGRATION)
    if '"eventType": "end"' not in sim.call(poll).stdout:
        raise RuntimeError("no end event")
    sim.call("vm-operation-notification.unregister " + json.dumps({"uniqueToken": token}))
    wall = time.perf_counter() - start
    return wall, _check_forced(sim), _rpc_count(sim), sim


class _VirtualClock:
    """The handler's clock on the simulator's ManualClock; scheduled actions fire as virtual time passes."""

    def __init__(self, clock: ManualClock) -> None:
        self.clock = clock
        self._due: List[Tuple[float, int, Callable[[], Any]]] = []
        self._seq = itertools.count()

    def at(self, when: float, action: Callable[[], Any]) -> None:
        heapq.heappush(self._due, (when, next(self._seq), action))

    def now(self) -> float:
        return self.clock.now()

    def monotonic(self) -> float:
        return self.clock.monotonic()

    def sleep(self, seconds: float) -> None:
        target = self.clock.now() + max(0.0, seconds)
        while self._due and self._due[0][0] <= target:
            when, _, action = heapq.heappop(self._due)
            self.clock.move_to(max(when, self.clock.now()))
            action()
        self.clock.move_to(max(target, self.clock.now()))


class _Hook:
    """An application command that takes ``seconds`` of virtual time (the quiesce that hangs)."""

    def __init__(self, clock: _VirtualClock, seconds: float) -> None:
        self._clock = clock
        self._left = seconds

    def wait(self, timeout: float) -> Optional[HookResult]:
        step = min(max(0.0, timeout), self._left)
        self._clock.sleep(step)
        self._left -= step
        return HookResult(exit_code=0) if self._left <= 0 else None

    def kill(self) -> HookResult:
        return HookResult(exit_code=None, killed=True)


class _Hooks:
    def __init__(self, clock: _VirtualClock) -> None:
        self.clock = clock
        self.started: List[str] = []

    def start(self, hook: str, command: str, env: Mapping[str, str]) -> _Hook:
        self.started.append(hook)
        return _Hook(self.clock, 1000.0 if hook == "quiesce" else 1.0)


class _MemoryStore:
    def __init__(self) -> None:
        self.state = HandlerState()

    def load(self) -> HandlerState:
        return self.state

    def save(self, state: HandlerState) -> None:
        self.state = state

    def clear(self) -> None:
        self.state = HandlerState()


def handler_scenario() -> Tuple[float, float, int, Simulator]:
    start = time.perf_counter()
    manual = ManualClock(T0)
    sim = Simulator(clock=manual, host_timeout=TIMEOUT, migration_seconds=MIGRATION, seed=4)
    clock = _VirtualClock(manual)
    clock.at(T0 + 3, sim.vmotion)
    hooks = _Hooks(clock)
    logger = logging.getLogger("benchmarks.handler")
    logger.disabled = True  # the figure is the core's cost, not the log formatting's
    settings = CoreSettings(app_name="bench", interval=1.0, quiesce="quiesce-app", unquiesce="unquiesce-app",
                            on_quiesce_failure=NO_ACK)
    end_at = T0 + 3 + TIMEOUT + MIGRATION + 5
    handler = Handler(settings, transport=sim.call, clock=clock, hooks=hooks, state_store=_MemoryStore(),
                      logger=logger, stop_requested=lambda: manual.now() >= end_at)
    handler.run()
    wall = time.perf_counter() - start
    if hooks.started != ["quiesce", "unquiesce"] or sim.status()["registrations"]:
        raise RuntimeError(f"the handler scenario went wrong: hooks {hooks.started}")
    return wall, _check_forced(sim), _rpc_count(sim), sim


def _floor(rpcs: int, reps: int) -> List[float]:
    sim = Simulator(clock=ManualClock(T0), host_timeout=TIMEOUT, seed=5)
    poll = check_for_event(json.loads(sim.call(REGISTER).stdout)["uniqueToken"])
    samples = []
    for _ in range(reps):
        start = time.perf_counter()
        for _ in range(rpcs):
            sim.call(poll)
        samples.append((time.perf_counter() - start) * 1e3)
    return samples


def run(quick: bool) -> List[Row]:
    reps = 5 if quick else 50
    rows = []
    for name, scenario in (("simulator only", simulator_scenario), ("handler core, 1 s polls", handler_scenario)):
        walls: List[float] = []
        virtual = 0.0
        rpcs = 0
        for _ in range(reps):
            wall, virtual, rpcs, _sim = scenario()
            walls.append(wall * 1e3)
        speedup = virtual / (sorted(walls)[len(walls) // 2] / 1e3)
        rows.append(Row(
            FIGURE, f"120 s forced migration, {name}", "ms", walls, f"{rpcs} bare RPCs", _floor(rpcs, reps),
            target="well under a second (ms, not minutes)", met_override=max(walls) < 1000.0,
            note=f"{virtual:g} virtual s; speed-up {speedup:,.0f}x over real time",
            extra={"virtual_seconds": virtual, "guest_rpcs": rpcs, "speedup": speedup},
        ))
    return rows
