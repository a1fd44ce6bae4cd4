"""The bundled handler core's life on virtual time, as a handler process's life goes.

A run that drives ``handler.core.Handler`` in-process on a ``ManualClock`` (a soak run with ``--virtual``, an
incident scenario replayed on virtual time) still has to kill it, restart it and stop it the way a process is
killed, restarted and stopped. Here: SIGKILL is ``Crash`` raised inside the core's sleep (no shutdown, no cleanup);
a restart is a new core on the same state store (the state file survives a kill); SIGTERM is the core's
``stop_requested``, and its exit status is what ``run`` returns. What is left out is the process around the core
(its signals, its state file, its hook processes), which only a run against a handler command covers.
"""

from __future__ import annotations

from typing import Callable, Optional

from handler.core import Handler
from simulator.harness.virtual import Crash

# Makes a new core; its argument is the core's stop_requested as far as the life goes (a run may add its own end).
NewCore = Callable[[Callable[[], bool]], Handler]


class CoreLife:
    def __init__(self, new_core: NewCore) -> None:
        self._new_core = new_core
        self.running = False
        self.start_due = True  # a core is to start: at the beginning, and after a restart
        self.terminating = False  # SIGTERM asked: the running core stops at its next safe point
        self._crash_due = False

    def kill(self) -> None:
        """SIGKILL: called while the core sleeps (a callback on its clock), it ends the core there."""
        if self.running:
            self.running = False
            raise Crash("kill")

    def restart(self, at_once: bool = True) -> None:
        """A running core is killed, and a new one starts on the same state. ``at_once=False`` defers the kill
        to ``crash_if_due`` for a caller that must not be unwound by it (a generator being resumed)."""
        self.start_due = True
        if at_once:
            self.kill()
        else:
            self._crash_due = self.running

    def crash_if_due(self) -> None:
        if self._crash_due:
            self._crash_due = False
            self.kill()

    def terminate(self) -> None:
        self.terminating = True

    def run_core(self) -> Optional[int]:
        """Start a new core and run it until it exits (its exit status) or is killed (None)."""
        self.start_due, self.running, self.terminating = False, True, False
        try:
            return self._new_core(lambda: self.terminating).run()
        except Crash:
            return None
        finally:
            self.running = False
