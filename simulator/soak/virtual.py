"""A soak run on virtual time (``vmotion-sim soak --virtual``): the bundled handler's core in this thread, on the
simulator's manual clock, through the same sequence of steps and invariants as a handler process.

The core is the one the process runs, and lives as a process does (``simulator.harness.core_life``); its hooks are
the harness's scripted ones (each run takes the step's behaviour in virtual seconds and is journaled as the probe
journals it); its state is kept in memory and survives a kill as the state file does. The sequence is resumed by
the clock: each wait it asks for is a call scheduled at the second the wait ends, run by whoever moves the clock,
the core while it sleeps (or this driver while no core runs). A run of thousands of simulated seconds takes
milliseconds."""

from __future__ import annotations

import logging
import traceback
from typing import Callable, List, Optional

from handler.core import CoreSettings, Handler
from handler.state import MemoryStateStore
from simulator.clock import ManualClock
from simulator.harness.core_life import CoreLife, NewCore
from simulator.harness.virtual import ScriptedHooks, VirtualTime
from simulator.soak.runner import REGISTER_WAIT_S, SoakRun, Violation

APP_NAME = "soak"
IDLE_STEP_S = 0.1  # while no core runs (it exited by itself), time passes in steps this long


class _CoreLife(CoreLife):
    """The life a soak run's steps change: the hooks' behaviour, and a kill-restart deferred to the driver (the
    step that asks for it runs inside the sequence, which the crash must not unwind)."""

    def __init__(self, hooks: ScriptedHooks, new_core: NewCore) -> None:
        super().__init__(new_core)
        self.hooks = hooks

    def behave(self, hook: str, seconds: float = 0.0, exit_code: int = 0) -> None:
        self.hooks.behave(hook, seconds, exit_code)

    def kill_restart(self) -> None:
        self.restart(at_once=False)


class _LogLines(logging.Handler):
    """The core's log as the handler log of the run, each line at its second of virtual time."""

    def __init__(self, clock: ManualClock) -> None:
        super().__init__()
        self.clock = clock
        self.lines: List[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.lines.append(f"{self.clock.monotonic():10.3f} {record.levelname} {record.getMessage()}")


def play_on_virtual_time(run: SoakRun) -> Optional[Violation]:
    clock = run.sim.clock
    assert isinstance(clock, ManualClock), "a virtual soak run needs its simulator on a ManualClock"
    hooks = ScriptedHooks(VirtualTime(clock), run.sim, default_seconds=0.0)
    store = MemoryStateStore()
    lines = _LogLines(clock)
    logger = logging.Logger("vmotion_soak.virtual", logging.INFO)  # the process's default level; not registered:
    logger.addHandler(lines)  # one logger per run, forgotten with it
    outcome: List[Optional[Violation]] = []
    settings = CoreSettings(app_name=APP_NAME, quiesce="quiesce", unquiesce="unquiesce")

    def new_core(stop: Callable[[], bool]) -> Handler:
        return Handler(settings, transport=run.sim.call, clock=clock, hooks=hooks, state_store=store, logger=logger,
                       stop_requested=lambda: stop() or bool(outcome))

    life = _CoreLife(hooks, new_core)
    sequence = run.sequence(life)
    began = clock.now()

    def resume(reply: Optional[int] = None) -> None:
        try:
            request = sequence.send(reply)
        except StopIteration as done:
            outcome.append(done.value)
            return
        if request is None:
            life.terminate()
        else:
            clock.call_at(clock.now() + request, resume)
        life.crash_if_due()  # here, outside the sequence: the core ends in the sleep that ran this

    def begin() -> None:
        """The sequence starts once the core is registered (or has had the time a process has to be)."""
        if run.sim.status().registrations or clock.now() - began >= REGISTER_WAIT_S:
            resume()
        else:
            clock.call_at(clock.now() + IDLE_STEP_S, begin)

    clock.call_at(clock.now(), begin)
    exit_code: Optional[int] = None
    while not outcome:
        if life.start_due:
            try:
                exit_code = life.run_core()
            except Exception:  # a bug in the core: the process would die with a traceback and exit 1
                lines.lines += traceback.format_exc().splitlines()
                exit_code = 1
        elif life.terminating:
            life.terminating = False
            resume(exit_code)
        else:
            clock.advance(IDLE_STEP_S)
    run.handler_log = "\n".join(lines.lines)
    return outcome[0]
