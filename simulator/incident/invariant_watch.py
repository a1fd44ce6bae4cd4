"""The soak's invariants during a real-time scenario run: checked before each action, at the end, and after a
``terminate``, with the actions told to them as the soak's steps, so a replayed soak reproducer breaks the
invariant the soak saw at the same point. Only the first broken one counts (the soak stops there too).
"""

from __future__ import annotations

from typing import Any, Dict, List, Optional, Sequence

from simulator.harness.journal import Journal
from simulator.inprocess import Simulator
from simulator.soak import invariants

FAST_SHARE = 0.1  # a hook action without a soak behaviour label is "fast" when it takes under this share of a timeout


class InvariantWatch:
    def __init__(
        self, sim: Simulator, timeout: float, speed: float, quiesce_runs: Sequence[Dict[str, Any]] = ()
    ) -> None:
        self.sim = sim
        self.run = invariants.Run(timeout=timeout, restart_bound=5.0 + 2.0 * speed)
        if not all(self._fast(run) for run in quiesce_runs):  # a scripted quiesce that may not fit the deadline
            self.run.quiesce_fast_since = None
        self.broken: Optional[str] = None
        self.detail = ""
        self.terminated_at: Optional[float] = None  # after a SIGTERM the soak checks nothing more, until a restart

    def outcomes(self) -> List[str]:
        return [] if self.broken is None else [f"invariant:{self.broken}"]

    def check(self) -> None:
        if self.broken is None and self.terminated_at is None:
            found = invariants.after_step(Journal(self.sim.journal()), self.sim.status(), self.run, self.sim.now())
            if found:
                self.broken, self.detail = found

    def terminated(self, exit_code: Optional[int]) -> None:
        self.terminated_at = self.sim.now()
        if self.broken is None:
            found = invariants.after_sigterm(exit_code, Journal(self.sim.journal()), self.sim.status())
            if found:
                self.broken, self.detail = found

    def before(self, action: Dict[str, Any]) -> None:
        """Check what must hold so far, then note the action as the soak step it stands for."""
        self.check()
        if action["do"] == "restart":
            self.terminated_at = None
        step = self._as_step(action)
        self.run.steps.append((self.sim.now(), step))
        if step["do"] == "hook" and step["hook"] == "quiesce":
            self.run.quiesce_fast_since = self.sim.now() if step["behaviour"] == "fast" else None

    def _as_step(self, action: Dict[str, Any]) -> Dict[str, Any]:
        kind = action["do"]
        if kind == "set":
            if action.get("enabled") is False:
                return {"do": "disable"}
            return {"do": "timeout"} if {"host_timeout", "vm_timeout"} & set(action) else {"do": "wait"}
        if kind == "fault":
            return {"do": "fault" if set(action) - {"at", "do", "count"} else "wait"}
        if kind == "restart":
            return {"do": "kill-restart"}
        if kind == "hook":
            label = action.get("behaviour") or ("fast" if self._fast(action) else "slow")
            return {"do": "hook", "hook": action["hook"], "behaviour": label}
        return {"do": kind if kind in ("vmotion", "reboot", "kill") else "wait"}

    def _fast(self, run: Dict[str, Any]) -> bool:
        return int(run.get("exit_code", 0)) == 0 and float(run.get("seconds", 0)) < FAST_SHARE * self.run.timeout
