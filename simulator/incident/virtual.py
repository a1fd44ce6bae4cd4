"""Run a scenario on virtual time against the bundled handler's core: milliseconds for any duration.

The handler core (``handler.core.Handler``) runs in this thread on the simulator's ``ManualClock``; the
scenario's actions are scheduled on that clock, so they happen at their virtual second while the handler
sleeps, and its hooks take their scripted virtual seconds. The outcome is read back from the simulator's
journal exactly as an imported journal would be.
"""

from __future__ import annotations

import logging
from typing import Any, Callable, Dict, List

from handler.core import CoreSettings, Handler
from handler.state import MemoryStateStore
from simulator import Clock, Knobs, ManualClock, Simulator, SimulatorError
from simulator.incident.reconstruct import Incident, reconstruct
from simulator.incident.scenario import Scenario, ScenarioError
from simulator.incident.sources.journal import observe_journal
from simulator.incident.sources.lines import Warnings
from simulator.incident.virtual_app import ScriptedApp

T0 = 1_700_000_000.0
APP_NAME = "incident"


def build_simulator(scenario: Scenario, clock: Clock) -> Simulator:
    settings = scenario.settings
    values: Dict[str, Any] = {k: tuple(v) if isinstance(v, list) else v for k, v in scenario.knobs.items()}
    try:
        knobs = Knobs(**values)
    except (TypeError, ValueError) as bad:
        raise ScenarioError(f"knobs: {bad}") from None
    vm_timeout = settings.get("vm_timeout")
    return Simulator(clock, host_timeout=int(settings.get("host_timeout", 120)),
                     vm_timeout=None if vm_timeout is None or vm_timeout < 0 else int(vm_timeout),
                     migration_seconds=float(settings.get("migration_seconds", 15.0)), knobs=knobs, seed=1)


def schedule(scenario: Scenario, sim: Simulator, clock: ManualClock, t0: float, notes: List[str]) -> None:
    """Put the hypervisor's actions on the clock; one the simulator refuses becomes a note, not a crash."""
    for action in scenario.actions:
        clock.call_at(t0 + float(action["at"]), action_runner(action, sim, notes))


def action_runner(action: Dict[str, Any], sim: Simulator, notes: List[str]) -> Callable[[], None]:
    def run() -> None:
        try:
            if action["do"] == "vmotion":
                sim.vmotion(action.get("outcome", "success"), action.get("migration_seconds"))
            elif action["do"] == "set":
                sim.set_config(**{k: v for k, v in action.items() if k not in ("at", "do")})
            elif action["do"] == "reboot":
                sim.reboot()
        except SimulatorError as refused:
            notes.append(f"at {action['at']:g} s the simulator refused {action['do']}: {refused}")
    return run


def run_virtual(scenario: Scenario) -> Incident:
    clock = ManualClock(T0)
    sim = build_simulator(scenario, clock)
    notes: List[str] = []
    schedule(scenario, sim, clock, T0, notes)
    logger = logging.getLogger("vmotion_incident.virtual")
    logger.propagate = False
    logger.addHandler(logging.NullHandler())
    try:
        settings = CoreSettings(app_name=APP_NAME, quiesce="quiesce", unquiesce="unquiesce", **scenario.handler)
        handler = Handler(settings, transport=sim.call, clock=clock, hooks=ScriptedApp(sim, clock, scenario.hooks),
                          state_store=MemoryStateStore(), logger=logger,
                          stop_requested=lambda: clock.now() - T0 >= scenario.duration)
    except (TypeError, ValueError) as bad:
        raise ScenarioError(f"handler: {bad}") from None
    handler.run()
    sim.settle()
    warnings = Warnings()
    observations = observe_journal(sim.journal(), warnings)
    for o in observations:
        o.t -= T0
    return reconstruct("virtual run", observations, T0, notes)
