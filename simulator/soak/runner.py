"""Play one soak sequence against a handler on a simulated VM, checking the invariants after each step.

The sequence (``SoakRun.sequence``) is one generator for both ways a run is played: it applies a step, asks for
the step's simulated seconds to pass, checks the invariants, and at the end asks for the handler's SIGTERM.

* A handler process (the default): the VM, its socket, the fake vmtoolsd, the probe hooks and the handler launcher
  are the harness's own (those of ``vmotion_sim`` and ``vmotion_handler``); at ``speed`` != 1 the simulator runs
  on a scaled clock and the handler under libfaketime on the same clock, so the seconds pass ``speed`` times
  faster.
* ``virtual=True``: the bundled handler's core in this thread on a manual clock (:mod:`simulator.soak.virtual`):
  the same sequence in milliseconds.
"""

from __future__ import annotations

import shutil
import signal
from dataclasses import dataclass
from typing import Any, Dict, Generator, List, Optional, Protocol, Tuple

from simulator.clock import ManualClock, ScaledClock
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
PRODUCTION_TIMEOUT = 120
REGISTER_WAIT_S = 30.0  # a handler has this long to register (wall seconds for a process, virtual ones in-process)
SIGTERM_WAIT_S = 30.0
VIRTUAL_T0 = 1_700_000_000.0

# What the sequence asks of whoever plays it: simulated seconds to let pass, or None: SIGTERM the handler now and
# send back its exit status. It returns the first violation, or None when every invariant held.
Sequence = Generator[Optional[float], Optional[int], Optional["Violation"]]


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


def timeout_for(speed: float, virtual: bool = False) -> int:
    """The production 120 s on virtual time and at speed >= 20; shorter when slower, so a run stays within seconds
    of wall time."""
    return PRODUCTION_TIMEOUT if virtual or speed >= 20 else max(6, int(6 * speed))


class Life(Protocol):
    """The handler's side of a run, as the steps change it: its hooks' behaviour, a SIGKILL and a restart."""

    def behave(self, hook: str, seconds: float = 0.0, exit_code: int = 0) -> None: ...

    def kill_restart(self) -> None: ...


class _ProcessLife:
    def __init__(self, launcher: HandlerLauncher) -> None:
        self.launcher = launcher
        self.handler: HandlerProcess = launcher()

    def behave(self, hook: str, seconds: float = 0.0, exit_code: int = 0) -> None:
        self.launcher.behave(hook, seconds=seconds, exit_code=exit_code)

    def kill_restart(self) -> None:
        self.handler.kill()
        self.handler = self.launcher()


class SoakRun:
    def __init__(
        self, steps: List[Step], template: str = SOAK_HANDLER_CMD, speed: float = 1.0, seed: Optional[int] = None,
        virtual: bool = False,
    ) -> None:
        self.steps = steps
        self.template = template
        self.virtual = virtual
        self.speed = 1.0 if virtual else speed  # virtual: the restart bound of speed 1 (a core starts at once)
        self.timeout = timeout_for(speed, virtual)
        clock = ManualClock(VIRTUAL_T0) if virtual else ScaledClock(speed) if speed != 1.0 else None
        self.sim = Simulator(clock, host_timeout=self.timeout, migration_seconds=0.1 * self.timeout, seed=seed)
        self.run = invariants.Run(timeout=self.timeout, restart_bound=5.0 + 2.0 * self.speed)
        self.handler_log: Optional[str] = None  # what the handler wrote, once the run is over
        self.t0 = 0.0  # the simulated second the handler was first registered: the steps' seconds count from it
        self.actions: List[Tuple[float, Action]] = []  # what happened, as a scenario file's actions (reproducer)

    def play(self) -> Optional[Violation]:
        if self.virtual:
            from simulator.soak.virtual import play_on_virtual_time

            return play_on_virtual_time(self)
        directory = short_dir("vmotion-soak-")
        vm = SimulatedVM.in_process(directory, self.sim).start()
        launcher: Optional[HandlerLauncher] = None
        try:
            launcher = HandlerLauncher(self.template, vm, name="soak")
            life = _ProcessLife(launcher)
            wait_until(lambda: self.sim.status().registrations, REGISTER_WAIT_S)
            sequence = self.sequence(life)
            reply: Optional[int] = None
            while True:
                try:
                    request = sequence.send(reply)
                except StopIteration as done:
                    return done.value  # type: ignore[no-any-return]
                if request is None:
                    reply = life.handler.stop(signal.SIGTERM, timeout=SIGTERM_WAIT_S)
                else:
                    self.sim.clock.sleep(request)
                    reply = None
        finally:
            if launcher is not None:
                launcher.close()
                self.handler_log = launcher.log() if launcher.started else None
            vm.close()
            shutil.rmtree(directory, ignore_errors=True)

    def sequence(self, life: Life) -> Sequence:
        """The run, from the handler's first registration: each step, its wait, the invariants; then the end."""
        if not self.sim.status().registrations:
            within = f"within {REGISTER_WAIT_S:g} s of {'virtual' if self.virtual else 'wall'} time"
            return Violation("handler-starts", 0, f"the handler did not register {within}", self.sim.now())
        self.t0 = self.run.origin = self.sim.now()
        for number, step in enumerate(self.steps, start=1):
            self._apply(step, life)
            yield float(step["wait"])
            if step["do"] == "disable":
                self.sim.set(enabled=True)
                self.actions.append((self.sim.now() - self.t0, {"do": "set", "enabled": True}))
            broken = self._check(number)
            if broken:
                return broken
        return (yield from self._finish(len(self.steps) + 1))

    def _apply(self, step: Step, life: Life) -> None:
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
                life.kill_restart()
            elif kind == "hook":
                life.behave(step["hook"], seconds=seconds, exit_code=code)
                if step["hook"] == "quiesce":
                    self.run.quiesce_fast_since = self.sim.now() if step["behaviour"] == "fast" else None
        except SimulatorError:
            pass  # refused by the simulator (e.g. a vMotion while one is running): part of the sequence

    def _check(self, number: int) -> Optional[Violation]:
        broken = invariants.after_step(Journal(self.sim.journal()), self.sim.status(), self.run, self.sim.now())
        return None if broken is None else Violation(broken[0], number, broken[1], self.sim.now())

    def _finish(self, number: int) -> Sequence:
        """Let every operation end, then SIGTERM: exit 0, no registration, nothing left quiesced."""
        self.sim.fault()
        self.sim.set(enabled=True)
        self.actions += [(self.sim.now() - self.t0, {"do": "fault"}), (self.sim.now() - self.t0,
                                                                       {"do": "set", "enabled": True})]
        longest = max([self.timeout] + [float(s.get("host_timeout", 0)) for _, s in self.run.steps])
        until = self.sim.now() + 2 * longest  # every operation has ended by then, whatever the handler does
        while self.sim.now() < until and any(op.phase != "done" for op in self.sim.status().operations):
            yield 0.05 * self.timeout
        yield 0.25 * self.timeout  # time to see the last end event and unquiesce
        broken = self._check(number - 1)
        if broken:
            return broken
        self.actions.append((self.sim.now() - self.t0, {"do": "terminate"}))
        code = yield None
        found = invariants.after_sigterm(code, Journal(self.sim.journal()), self.sim.status())
        return None if found is None else Violation(found[0], number, found[1], self.sim.now())
