"""The same core under freezegun: the handler's own SystemClock and the simulator's read the frozen time."""

from __future__ import annotations

import time

from freezegun import freeze_time

from handler.core import CoreSettings, Handler
from handler.state import MemoryStateStore
from simulator import Simulator
from simulator.clock import SystemClock as SimulatorClock
from simulator.harness.virtual import ScriptedHooks


class FrozenClock:
    """The handler's clock under freezegun: reads the (patched) time module, sleeps by ticking it."""

    def __init__(self, frozen: object) -> None:
        self.frozen = frozen

    def now(self) -> float:
        return time.time()

    def monotonic(self) -> float:
        return time.monotonic()

    def sleep(self, seconds: float) -> None:
        self.frozen.tick(seconds)  # type: ignore[attr-defined]

    # ScriptedHooks advance "the timeline"; here that is the frozen clock.
    def advance(self, seconds: float) -> None:
        self.sleep(seconds)

    def elapsed(self) -> float:
        return time.time()


def test_a_quiesce_outlasting_120_seconds_is_killed_and_acked_in_frozen_time() -> None:
    with freeze_time("2024-01-30 12:00:00") as frozen:
        clock = FrozenClock(frozen)
        sim = Simulator(clock=SimulatorClock(), host_timeout=120)
        hooks = ScriptedHooks(clock)  # type: ignore[arg-type]
        hooks.script("quiesce", seconds=1000)
        t0 = time.time()
        handler = Handler(CoreSettings("demo", quiesce="q", unquiesce="u"), sim.call, clock, hooks,
                          MemoryStateStore())
        assert handler.start()
        sim.vmotion()
        assert handler.step()
        (quiesce,) = hooks.of("quiesce")
        assert quiesce.outcome == "killed"
        assert quiesce.ended is not None and quiesce.ended - t0 == 118
        op = sim.status()["operations"][0]
        assert op["acked"] is True and op["forced"] is False
