"""Virtual time for the scenarios that run the handler's core in-process.

``VirtualTime`` is the handler's clock: it wraps the simulator's ``ManualClock``, and while the handler sleeps
it runs what the scenario scheduled (a vMotion requested at second 10, a timeout changed at second 20) at its
own virtual second. ``VirtualApp`` stands in for the *application's* quiesce and unquiesce commands, the only
thing that cannot be real here without real time: each run takes a scripted number of virtual seconds, exits
with a scripted status, and records into the simulator's journal exactly what the process probe records in the
real-process scenarios (``started`` with its environment, ``finished``/``terminated``), so the same steps read
both.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable, Dict, Mapping, Optional

from handler.hooks import HookResult
from simulator import ManualClock, Simulator

T0 = 1_700_000_000.0


class VirtualTime:
    """The handler's clock in scenarios: the simulator's ManualClock, counted in seconds since T0; ``at``
    schedules an action (a vMotion, a setting changed) that runs when the sleeping handler's time reaches it."""

    def __init__(self, clock: ManualClock) -> None:
        self.clock = clock

    def at(self, second: float, action: Callable[[], Any]) -> None:
        self.clock.call_at(T0 + second, action)

    def now(self) -> float:
        return self.clock.now()

    def monotonic(self) -> float:
        return self.clock.monotonic()

    def second(self) -> float:
        return self.clock.now() - T0

    def sleep(self, seconds: float) -> None:
        self.advance(seconds)

    def advance(self, seconds: float) -> None:
        self.clock.advance(max(0.0, seconds))


@dataclass
class _Script:
    seconds: float = 0.0
    exit_code: int = 0


class _Run:
    def __init__(self, app: VirtualApp, hook: str, script: _Script) -> None:
        self._app = app
        self._hook = hook
        self._left = script.seconds
        self._exit_code = script.exit_code

    def wait(self, timeout: float) -> Optional[HookResult]:
        step = min(max(0.0, timeout), self._left)
        self._app.time.advance(step)
        self._left -= step
        if self._left > 1e-9:
            return None
        self._app.sim.record_probe(self._hook, "finished", {}, exit_code=self._exit_code)
        return HookResult(exit_code=self._exit_code)

    def kill(self) -> HookResult:
        self._app.sim.record_probe(self._hook, "terminated", {}, signal="SIGTERM")
        return HookResult(exit_code=None, killed=True)


class VirtualApp:
    """The application's hook commands on virtual time (a ``handler.hooks.HookRunner``)."""

    def __init__(self, sim: Simulator, time: VirtualTime) -> None:
        self.sim = sim
        self.time = time
        self._scripts: Dict[str, _Script] = {}

    def behave(self, hook: str, seconds: float = 0.0, exit_code: int = 0) -> None:
        self._scripts[hook] = _Script(seconds, exit_code)

    def start(self, hook: str, command: str, env: Mapping[str, str]) -> _Run:
        self.sim.record_probe(hook, "started", dict(env), command=command)
        return _Run(self, hook, self._scripts.get(hook, _Script()))
