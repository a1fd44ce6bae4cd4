"""Play one soak sequence against a handler process on a simulated VM, checking the invariants after each step.

The VM, its socket, the fake vmtoolsd, the probe hooks and the handler launcher are the harness's own (those of
``vmotion_sim`` and ``vmotion_handler``); at ``speed`` != 1 the simulator runs on a scaled clock and the handler
under libfaketime on the same clock, so the steps' simulated seconds pass ``speed`` times faster.
"""

from __future__ import annotations

import shutil
import signal
from dataclasses import dataclass
from typing import Any, Dict, List, Optional, Tuple

from simulator.clock import ScaledClock
from simulator.harness import HandlerLauncher, HandlerProcess, Journal, SimulatedVM, wait_until
from simulator.harness.vm import short_dir
from simulator.inprocess import Simulator, SimulatorError
from simulator.soak import invariants
from simulator.soak.reproducer import Action, step_actions
from simulator.soak.steps import Step

SOAK_HANDLER_CMD = (
    "{python} -m handler --name {name} --quiesce {quiesce} --unquiesce {unquiesce} --state-file {state_file}"
)
MARGIN = 2.0  # the bundled handler's default safety margin: "near the deadline" is just inside it


def behaviour(name: str, timeout: float) -> Tuple[float, int]:
    """(seconds, exit status) of a hook behaviour for this timeout."""
    if name == "near-deadline":
        return max(0.0, timeout - MARGIN - 0.05 * timeout), 0
    if name == "past-deadline":
        return 1.5 * timeout, 0
    return 0.02 * timeout, 1 if name == "failing" else 0


@dataclass
class Violation:
    invariant: str
    step: int  # 1-based; len(steps) + 1 is the final SIGTERM
    detail: str
    at: float = 0.0  # the simulated second it was seen

    def as_dict(self) -> Dict[str, Any]:
        return {"invariant": self.invariant, "step": self.step, "detail": self.detail}


def timeout_for(speed: float) -> int:
    """The production 120 s at speed >= 20; shorter when slower, so a run stays within seconds of wall time."""
    return 120 if speed >= 20 else max(6, int(6 * speed))


class SoakRun:
    def __init__(
        self, steps: List[Step], template: str = SOAK_HANDLER_CMD, speed: float = 1.0, seed: Optional[int] = None
    ) -> None:
        self.steps = steps
        self.template = template
        self.speed = speed
        self.timeout = timeout_for(speed)
        clock = ScaledClock(speed) if speed != 1.0 else None
        self.sim = Simulator(clock, host_timeout=self.timeout, migration_seconds=0.1 * self.timeout, seed=seed)
        self.run = invariants.Run(timeout=self.timeout, restart_bound=5.0 + 2.0 * speed)
        self.handler: Optional[HandlerProcess] = None
        self.handler_log: Optional[str] = None  # what the handler processes wrote, once the run is over
        self.t0 = 0.0  # the simulated second the handler was first registered: the steps' seconds count from it
        self.actions: List[Tuple[float, Action]] = []  # what happened, as a scenario file's actions (reproducer)

    def play(self) -> Optional[Violation]:
        directory = short_dir("vmotion-soak-")
        vm = SimulatedVM.in_process(directory, self.sim).start()
        launcher: Optional[HandlerLauncher] = None
        try:
            launcher = HandlerLauncher(self.template, vm, name="soak")
            self.handler = launcher()
            if not wait_until(lambda: self.sim.status().registrations, 30):
                return Violation("handler-starts", 0, "the handler did not register within 30 s of wall time",
                                 self.sim.now())
            self.t0 = self.run.origin = self.sim.now()
            for number, step in enumerate(self.steps, start=1):
                self._apply(step, launcher)
                self.sim.clock.sleep(float(step["wait"]))
                if step["do"] == "disable":
                    self.sim.set(enabled=True)
                    self.actions.append((self.sim.now() - self.t0, {"do": "set", "enabled": True}))
                broken = self._check(number)
                if broken:
                    return broken
            return self._finish(len(self.steps) + 1)
        finally:
            if launcher is not None:
                launcher.close()
                self.handler_log = launcher.log() if launcher.started else None
            vm.close()
            shutil.rmtree(directory, ignore_errors=True)

    def _apply(self, step: Step, launcher: HandlerLauncher) -> None:
        self.run.steps.append((self.sim.now(), step))
        kind = step["do"]
        seconds, code = behaviour(step.get("behaviour", "fast"), self.timeout)
        self.actions += [(self.sim.now() - self.t0, a) for a in step_actions(step, self.timeout, seconds, code)]
        try:
            if kind == "vmotion":
                self.sim.vmotion(step["outcome"])
            elif kind == "timeout":
                self.sim.set(host_timeout=int(step["host_timeout"]))
            elif kind == "reboot":
                self.sim.reboot()
            elif kind == "fault":
                fault = step["fault"]
                value: Any = 0.05 * self.timeout if fault == "latency" else True
                self.sim.fault(**{fault: value}, remaining=int(step["count"]))
            elif kind == "disable":
                self.sim.set(enabled=False)
            elif kind == "kill-restart":
                assert self.handler is not None
                self.handler.kill()
                self.handler = launcher()
            elif kind == "hook":
                launcher.behave(step["hook"], seconds=seconds, exit_code=code)
                if step["hook"] == "quiesce":
                    self.run.quiesce_fast_since = self.sim.now() if step["behaviour"] == "fast" else None
        except SimulatorError:
            pass  # refused by the simulator (e.g. a vMotion while one is running): part of the sequence

    def _check(self, number: int) -> Optional[Violation]:
        broken = invariants.after_step(Journal(self.sim.journal()), self.sim.status(), self.run, self.sim.now())
        return None if broken is None else Violation(broken[0], number, broken[1], self.sim.now())

    def _finish(self, number: int) -> Optional[Violation]:
        """Let every operation end, then SIGTERM: exit 0, no registration, nothing left quiesced."""
        self.sim.fault()
        self.sim.set(enabled=True)
        self.actions += [(self.sim.now() - self.t0, {"do": "fault"}), (self.sim.now() - self.t0,
                                                                       {"do": "set", "enabled": True})]
        longest = max([self.timeout] + [float(s.get("host_timeout", 0)) for _, s in self.run.steps])
        until = self.sim.now() + 2 * longest  # every operation has ended by then, whatever the handler does
        while self.sim.now() < until and any(op.phase != "done" for op in self.sim.status().operations):
            self.sim.clock.sleep(0.05 * self.timeout)
        self.sim.clock.sleep(0.25 * self.timeout)  # time to see the last end event and unquiesce
        broken = self._check(number - 1)
        if broken:
            return broken
        assert self.handler is not None
        self.actions.append((self.sim.now() - self.t0, {"do": "terminate"}))
        code = self.handler.stop(signal.SIGTERM, timeout=30)
        found = invariants.after_sigterm(code, Journal(self.sim.journal()), self.sim.status())
        return None if found is None else Violation(found[0], number, found[1], self.sim.now())
