"""A soak run on virtual time (``vmotion-sim soak --virtual``): the bundled handler's core in this thread, on the
simulator's manual clock, through the same sequence of steps and invariants as a handler process.

The core (``handler.core.Handler``) is the one the process runs; its hooks are the harness's scripted ones (each
run takes the step's behaviour in virtual seconds and is journaled as the probe journals it); its state is kept in
memory and survives a kill as the state file does. The sequence is resumed by the clock: each wait it asks for is
a call scheduled at the second the wait ends, run by whoever moves the clock, the core while it sleeps (or this
driver while no core runs). A kill raises ``Crash`` inside the core's sleep (SIGKILL: no shutdown) and a new core
starts on the same state at that second; SIGTERM is the core's ``stop_requested``, its exit status what ``run``
returns. A run of thousands of simulated seconds takes milliseconds; what it leaves out is the process around the
core (its signals, its state file, its hook processes), which only a run against the handler command covers.
"""

from __future__ import annotations

import logging
import traceback
from typing import List, Optional

from handler.core import CoreSettings, Handler
from handler.state import MemoryStateStore
from simulator.clock import ManualClock
from simulator.harness.virtual import Crash, ScriptedHooks, VirtualTime
from simulator.soak.runner import REGISTER_WAIT_S, SoakRun, Violation

APP_NAME = "soak"
IDLE_STEP_S = 0.1  # while no core runs (it exited by itself), time passes in steps this long


class _CoreLife:
    """The handler's life on virtual time, as the steps and the driver change it."""

    def __init__(self, hooks: ScriptedHooks) -> None:
        self.hooks = hooks
        self.running = False
        self.start = True  # a core is to be started (at the beginning, and after a kill)
        self.crash = False  # a kill of the running core is due, once the sequence has asked for its wait
        self.terminate = False  # SIGTERM: the core stops at its next safe point

    def behave(self, hook: str, seconds: float = 0.0, exit_code: int = 0) -> None:
        self.hooks.behave(hook, seconds, exit_code)

    def kill_restart(self) -> None:
        self.start = True
        self.crash = self.running


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
    life = _CoreLife(hooks)
    store = MemoryStateStore()
    lines = _LogLines(clock)
    logger = logging.Logger("vmotion_soak.virtual", logging.INFO)  # the process's default level; not registered:
    logger.addHandler(lines)  # one logger per run, forgotten with it
    sequence = run.sequence(life)
    outcome: List[Optional[Violation]] = []
    began = clock.now()

    def resume(reply: Optional[int] = None) -> None:
        try:
            request = sequence.send(reply)
        except StopIteration as done:
            outcome.append(done.value)
            return
        if request is None:
            life.terminate = True
        else:
            clock.call_at(clock.now() + request, resume)
        if life.crash:  # raised here, outside the sequence: the core ends in the sleep that ran this
            life.crash = False
            raise Crash("kill-restart")

    def begin() -> None:
        """The sequence starts once the core is registered (or has had the time a process has to be)."""
        if run.sim.status().registrations or clock.now() - began >= REGISTER_WAIT_S:
            resume()
        else:
            clock.call_at(clock.now() + IDLE_STEP_S, begin)

    clock.call_at(clock.now(), begin)
    exit_code: Optional[int] = None
    while not outcome:
        if life.start:
            life.start, life.running = False, True
            settings = CoreSettings(app_name=APP_NAME, quiesce="quiesce", unquiesce="unquiesce")
            core = Handler(settings, transport=run.sim.call, clock=clock, hooks=hooks, state_store=store,
                           logger=logger, stop_requested=lambda: life.terminate or bool(outcome))
            try:
                exit_code = core.run()
            except Crash:
                exit_code = None
            except Exception:  # a bug in the core: the process would die with a traceback and exit 1
                lines.lines += traceback.format_exc().splitlines()
                exit_code = 1
            life.running = False
        elif life.terminate:
            life.terminate = False
            resume(exit_code)
        else:
            clock.advance(IDLE_STEP_S)
    run.handler_log = "\n".join(lines.lines)
    return outcome[0]
