"""Virtual-time helpers for the handler's in-process tests.

``Timeline`` is the handler's clock: it wraps the simulator's ManualClock and runs scheduled actions (a vMotion
requested, a setting changed, a crash) at their virtual times while the handler sleeps. ``ScriptedHooks``
stands in for the *application's* quiesce/unquiesce commands only: each run takes a scripted number of
virtual seconds and exits with a scripted status (real hook processes are covered in test_handler_hooks.py
and end to end).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import Any, Callable, Dict, List, Mapping, Optional, Tuple

from handler.core import CoreSettings, Handler
from handler.hooks import HookResult
from handler.metrics import Metrics
from handler.state import StateStore
from simulator import ManualClock, Simulator

T0 = 1_700_000_000.0


class Crash(BaseException):
    """Ends the handler where it stands, like SIGKILL: no shutdown, no cleanup (BaseException on purpose)."""


class Timeline:
    """The handler's clock: the simulator's ManualClock, which runs actions scheduled with ``at`` at their
    virtual times while the handler sleeps, plus a record of every sleep the handler asked for."""

    def __init__(self, clock: ManualClock) -> None:
        self.clock = clock
        self.sleeps: List[Tuple[float, float]] = []  # (when, seconds) of every sleep the handler asked for

    def at(self, offset: float, action: Callable[[], Any]) -> None:
        self.clock.call_at(T0 + offset, action)

    def now(self) -> float:
        return self.clock.now()

    def monotonic(self) -> float:
        return self.clock.monotonic()

    def elapsed(self) -> float:
        return self.clock.now() - T0

    def sleep(self, seconds: float) -> None:
        self.sleeps.append((self.elapsed(), seconds))
        self.advance(seconds)

    def advance(self, seconds: float) -> None:
        self.clock.advance(max(0.0, seconds))


@dataclass
@dataclass
class SkewedClock:
    """The guest's clock when it disagrees with the host's: ``offset`` seconds ahead (negative: behind) of the
    simulator's, on the same virtual time (its sleeps run the timeline)."""

    timeline: Timeline
    offset: float

    def now(self) -> float:
        return self.timeline.now() + self.offset

    def monotonic(self) -> float:
        return self.timeline.monotonic()

    def sleep(self, seconds: float) -> None:
        self.timeline.sleep(seconds)


@dataclass
class HookRun:
    hook: str
    command: str
    env: Dict[str, str]
    started: float  # seconds since T0
    ended: Optional[float] = None
    outcome: str = "running"  # ok | failed | killed


@dataclass
class _Script:
    seconds: float
    exit_code: int = 0
    crash: bool = False


class _ScriptedRun:
    def __init__(self, owner: ScriptedHooks, run: HookRun, script: _Script) -> None:
        self._owner = owner
        self._run = run
        self._left = script.seconds
        self._script = script

    def wait(self, timeout: float) -> Optional[HookResult]:
        step = min(max(0.0, timeout), self._left)
        if self._script.crash and step >= self._left:
            self._owner.timeline.advance(step)
            raise Crash("crash while the hook runs")
        self._owner.timeline.advance(step)
        self._left -= step
        if self._left > 1e-9:
            return None
        self._run.ended = self._owner.timeline.elapsed()
        self._run.outcome = "ok" if self._script.exit_code == 0 else "failed"
        return HookResult(exit_code=self._script.exit_code)

    def kill(self) -> HookResult:
        self._run.ended = self._owner.timeline.elapsed()
        self._run.outcome = "killed"
        return HookResult(exit_code=None, killed=True)


@dataclass
class ScriptedHooks:
    timeline: Timeline
    scripts: Dict[str, List[_Script]] = field(default_factory=dict)
    runs: List[HookRun] = field(default_factory=list)

    def script(self, hook: str, seconds: float, exit_code: int = 0, crash: bool = False) -> None:
        self.scripts.setdefault(hook, []).append(_Script(seconds, exit_code, crash))

    def start(self, hook: str, command: str, env: Mapping[str, str]) -> _ScriptedRun:
        queue = self.scripts.get(hook) or []
        script = queue.pop(0) if queue else _Script(1.0)
        run = HookRun(hook, command, dict(env), started=self.timeline.elapsed())
        self.runs.append(run)
        return _ScriptedRun(self, run, script)

    def of(self, hook: str) -> List[HookRun]:
        return [r for r in self.runs if r.hook == hook]


def make_handler(
    sim: Simulator,
    timeline: Timeline,
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
    out = []
    for entry in sim.journal():
        if entry.get("kind") != "rpc":
            continue
        if verb is not None and entry.get("verb") != verb:
            continue
        out.append(dict(entry, t=entry["time"] - T0))
    return out
