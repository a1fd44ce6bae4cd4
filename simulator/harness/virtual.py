"""Virtual time for a handler core run in-process, and the application's hook commands on it.

``VirtualTime`` is the handler's clock: it wraps the simulator's ``ManualClock``, and while the handler sleeps it
runs what a test scheduled with ``at`` (a vMotion requested at second 10, a timeout changed at second 20) at its
own virtual second, counted from ``T0``. ``ScriptedHooks`` stands in for the *application's* quiesce and unquiesce
commands, the only thing that cannot be real without real time: each run takes a scripted number of virtual
seconds and exits with a scripted status. Given the simulator, it records each run into the journal exactly as the
process probe does (``started`` with its environment, then ``finished`` or ``terminated``), so the same queries
read both. Standard library only.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable, Dict, List, Mapping, Optional, Tuple

from handler.hooks import HookResult
from simulator.clock import ManualClock
from simulator.inprocess import Simulator

T0 = 1_700_000_000.0


class Crash(BaseException):
    """Ends the handler where it stands, like SIGKILL: no shutdown, no cleanup (BaseException on purpose)."""


class VirtualTime:
    """The handler's clock: the simulator's ManualClock, counted in seconds since ``T0``; ``at`` schedules an
    action that runs when the sleeping handler's time reaches it; ``sleeps`` records every sleep asked for."""

    def __init__(self, clock: ManualClock) -> None:
        self.clock = clock
        self.sleeps: List[Tuple[float, float]] = []  # (when, seconds)

    def at(self, second: float, action: Callable[[], Any]) -> None:
        self.clock.call_at(T0 + second, action)

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
        self._owner.time.advance(step)
        if self._script.crash and step >= self._left:
            raise Crash("crash while the hook runs")
        self._left -= step
        if self._left > 1e-9:
            return None
        self._run.ended = self._owner.time.elapsed()
        self._run.outcome = "ok" if self._script.exit_code == 0 else "failed"
        self._owner.record(self._run.hook, "finished", exit_code=self._script.exit_code)
        return HookResult(exit_code=self._script.exit_code)

    def kill(self) -> HookResult:
        self._run.ended = self._owner.time.elapsed()
        self._run.outcome = "killed"
        self._owner.record(self._run.hook, "terminated", signal="SIGTERM")
        return HookResult(exit_code=None, killed=True)


class ScriptedHooks:
    """The application's hook commands on virtual time (a ``handler.hooks.HookRunner``).

    ``script(hook, seconds, ...)`` queues what the next run does (once); ``behave(hook, seconds, exit_code)``
    sets what every later run does; a run with neither takes ``default_seconds`` and succeeds.
    """

    def __init__(self, time: VirtualTime, sim: Optional[Simulator] = None, default_seconds: float = 1.0) -> None:
        self.time = time
        self.sim = sim
        self.default_seconds = default_seconds
        self.scripts: Dict[str, List[_Script]] = {}
        self.standing: Dict[str, _Script] = {}
        self.runs: List[HookRun] = []

    def script(self, hook: str, seconds: float, exit_code: int = 0, crash: bool = False) -> None:
        self.scripts.setdefault(hook, []).append(_Script(seconds, exit_code, crash))

    def behave(self, hook: str, seconds: float = 0.0, exit_code: int = 0) -> None:
        self.standing[hook] = _Script(seconds, exit_code)

    def start(self, hook: str, command: str, env: Mapping[str, str]) -> _ScriptedRun:
        queue = self.scripts.get(hook) or []
        script = queue.pop(0) if queue else self.standing.get(hook, _Script(self.default_seconds))
        run = HookRun(hook, command, dict(env), started=self.time.elapsed())
        self.runs.append(run)
        self.record(hook, "started", dict(env), command=command)
        return _ScriptedRun(self, run, script)

    def record(self, hook: str, phase: str, env: Optional[Dict[str, str]] = None, **details: Any) -> None:
        if self.sim is not None:
            self.sim.record_probe(hook, phase, env or {}, **details)

    def of(self, hook: str) -> List[HookRun]:
        return [r for r in self.runs if r.hook == hook]
