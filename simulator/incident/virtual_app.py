"""The application's quiesce and unquiesce commands on virtual time, for a scenario run in-process.

Each run takes the scripted virtual seconds and exits with the scripted status, and records into the
simulator's journal what the process probe records in real-process runs (``started``, ``finished``,
``terminated``), so one reader (``sources.journal``) reads both. (features/virtual.py's ``VirtualApp`` does
the same with one script per hook; it could use this one.)
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Dict, List, Mapping, Optional

from handler.hooks import HookResult
from simulator import ManualClock, Simulator


@dataclass
class HookScript:
    seconds: float = 0.0
    exit_code: int = 0


class _Run:
    def __init__(self, app: ScriptedApp, hook: str, script: HookScript) -> None:
        self._app = app
        self._hook = hook
        self._left = script.seconds
        self._exit_code = script.exit_code

    def wait(self, timeout: float) -> Optional[HookResult]:
        step = min(max(0.0, timeout), self._left)
        self._app.clock.advance(step)
        self._left -= step
        if self._left > 1e-9:
            return None
        self._app.sim.record_probe(self._hook, "finished", {}, exit_code=self._exit_code)
        return HookResult(exit_code=self._exit_code)

    def kill(self) -> HookResult:
        self._app.sim.record_probe(self._hook, "terminated", {}, signal="SIGTERM")
        return HookResult(exit_code=None, killed=True)


class ScriptedApp:
    """A ``handler.hooks.HookRunner``: run N of a hook follows the Nth script (the last one after the list)."""

    def __init__(self, sim: Simulator, clock: ManualClock, scripts: Mapping[str, List[Dict[str, Any]]]) -> None:
        self.sim = sim
        self.clock = clock
        self._scripts = {hook: [HookScript(float(r.get("seconds", 0)), int(r.get("exit_code", 0))) for r in runs]
                         for hook, runs in scripts.items()}
        self._count: Dict[str, int] = {}

    def start(self, hook: str, command: str, env: Mapping[str, str]) -> _Run:
        n = self._count.get(hook, 0)
        self._count[hook] = n + 1
        scripts = self._scripts.get(hook) or [HookScript()]
        self.sim.record_probe(hook, "started", dict(env), command=command)
        return _Run(self, hook, scripts[min(n, len(scripts) - 1)])
