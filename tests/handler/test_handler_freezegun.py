"""The core under freezegun with the handler's own ``SystemClock``: it reads the frozen time, as the
simulator's clock does, so a 120-second timeout passes in no real time."""

from __future__ import annotations

import time

from freezegun import freeze_time

from handler.clock import SystemClock
from handler.core import CoreSettings, Handler
from handler.state import MemoryStateStore
from simulator import Simulator
from simulator.clock import SystemClock as SimulatorClock
from tests.handler.virtual import ScriptedHooks


class FrozenHookTime:
    """Time for the scripted *application* commands only: a hook that takes N seconds ticks the frozen clock.

    The handler itself gets the real ``handler.clock.SystemClock``; it never sleeps in this test (it waits on
    the hook), so nothing here stands in for it.
    """

    def __init__(self, frozen: object) -> None:
        self.frozen = frozen

    def advance(self, seconds: float) -> None:
        self.frozen.tick(seconds)  # type: ignore[attr-defined]

    def elapsed(self) -> float:
        return time.time()


def test_a_quiesce_outlasting_120_seconds_is_killed_and_acked_in_frozen_time() -> None:
    with freeze_time("2024-01-30 12:00:00") as frozen:
        t0 = time.time()
        sim = Simulator(clock=SimulatorClock(), host_timeout=120)
        hooks = ScriptedHooks(FrozenHookTime(frozen))  # type: ignore[arg-type]
        hooks.script("quiesce", seconds=1000)
        handler = Handler(CoreSettings("demo", quiesce="q", unquiesce="u"), sim.call, SystemClock(), hooks,
                          MemoryStateStore())
        assert handler.start()
        sim.vmotion()
        assert handler.step()
        (quiesce,) = hooks.of("quiesce")
        # The deadline the handler computed from its clock: eventGenTimeInSec (frozen) + 120 - the 2 s margin.
        assert quiesce.env["VMOTION_EVENT_GEN_TIME"] == str(int(t0))
        assert float(quiesce.env["VMOTION_DEADLINE"]) == t0 + 118
        assert quiesce.outcome == "killed"
        assert quiesce.ended is not None and quiesce.ended - t0 == 118
        op = sim.status()["operations"][0]
        assert op["acked"] is True and op["forced"] is False
