"""Helpers for the handler's in-process tests; virtual time and the scripted hooks are the harness's own
(``simulator.harness.virtual``), shared with the scenarios."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any, Callable, Dict, List, Optional

from handler.core import CoreSettings, Handler
from handler.metrics import Metrics
from handler.state import StateStore
from simulator import Simulator
from simulator.harness.journal import Journal
from simulator.harness.virtual import T0, ScriptedHooks, VirtualTime


@dataclass
class SkewedClock:
    """The guest's clock when it disagrees with the host's: ``offset`` seconds ahead (negative: behind) of the
    simulator's, on the same virtual time (its sleeps run the timeline)."""

    timeline: VirtualTime
    offset: float

    def now(self) -> float:
        return self.timeline.now() + self.offset

    def monotonic(self) -> float:
        return self.timeline.monotonic()

    def sleep(self, seconds: float) -> None:
        self.timeline.sleep(seconds)


def make_handler(
    sim: Simulator,
    timeline: VirtualTime,
    hooks: ScriptedHooks,
    store: StateStore,
    stop_at: Optional[float] = None,
    metrics: Optional[Metrics] = None,
    transport: Optional[Callable[[str], Any]] = None,
    logger: Optional[logging.Logger] = None,
    clock: Optional[Any] = None,
    **settings: Any,
) -> Handler:
    defaults: Dict[str, Any] = dict(app_name="demo", quiesce="quiesce-app", unquiesce="unquiesce-app")
    defaults.update(settings)
    return Handler(
        CoreSettings(**defaults),
        transport=transport or sim.call,
        clock=clock or timeline,
        hooks=hooks,
        state_store=store,
        metrics=metrics,
        logger=logger or logging.getLogger("vmotion_handler.test"),
        stop_requested=(lambda: timeline.elapsed() >= stop_at) if stop_at is not None else None,
    )


def rpcs(sim: Simulator, verb: Optional[str] = None) -> List[Dict[str, Any]]:
    """The journal's guest RPCs (optionally of one verb), each with its time as seconds since T0."""
    return [dict(entry, t=entry["time"] - T0) for entry in Journal(sim.journal()).rpcs(verb)]
