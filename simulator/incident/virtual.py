"""Run a scenario on virtual time against the bundled handler's core: milliseconds for any duration.

The handler core (``handler.core.Handler``) runs in this thread on the simulator's ``ManualClock``; the
scenario's actions are scheduled on that clock, so they happen at their virtual second while the handler
sleeps, and its hooks take their scripted virtual seconds. The outcome is read back from the simulator's
journal exactly as an imported journal would be. A ``kill`` crashes the core where it stands, a ``restart`` runs
a new one on the same state, a ``terminate`` stops it the way SIGTERM stops the process.
"""

from __future__ import annotations

import logging
from typing import Any, Callable, Dict, List, Mapping

from handler.core import CoreSettings, Handler
from handler.state import MemoryStateStore
from simulator import Clock, Knobs, ManualClock, Simulator, SimulatorError
from simulator.harness.core_life import CoreLife
from simulator.harness.virtual import ScriptedHooks, VirtualTime
from simulator.incident.invariant_watch import InvariantWatch
from simulator.incident.reconstruct import Incident, reconstruct
from simulator.incident.scenario import FAULTS, Scenario, ScenarioError
from simulator.incident.sources.journal import observe_journal
from simulator.journal_entry import Entry

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
                     migration_seconds=float(settings.get("migration_seconds", 15.0)), knobs=knobs,
                     seed=int(settings.get("seed", 1)))


Behave = Callable[[str, float, int], None]  # a hook's behaviour from now on: (hook, seconds, exit status)


def action_runner(action: Dict[str, Any], sim: Simulator, notes: List[str], behave: Behave) -> Callable[[], None]:
    """The hypervisor's and the application's side of an action (the handler's life is the runner's own)."""
    def run() -> None:
        try:
            if action["do"] == "hook":
                behave(action["hook"], float(action.get("seconds", 0)), int(action.get("exit_code", 0)))
            elif action["do"] == "fault":
                faults = {k: v for k, v in action.items() if k in FAULTS}
                sim.fault(**faults, **({"remaining": int(action["count"])} if faults and "count" in action else {}))
            elif action["do"] == "vmotion":
                sim.vmotion(action.get("outcome", "success"), action.get("migration_seconds"))
            elif action["do"] == "set":
                sim.set(**{k: v for k, v in action.items() if k not in ("at", "do")})
            elif action["do"] == "reboot":
                sim.reboot()
        except SimulatorError as refused:
            notes.append(f"at {action['at']:g} s the simulator refused {action['do']}: {refused}")
    return run


def scripted_hooks(sim: Simulator, clock: ManualClock, scripts: Mapping[str, List[Dict[str, Any]]]) -> ScriptedHooks:
    """The application's hooks on virtual time (the harness's): run N of a hook follows the Nth script, the last
    one every run after; each run is journaled as the process probe journals it."""
    hooks = ScriptedHooks(VirtualTime(clock), sim, default_seconds=0.0)
    for hook, runs in scripts.items():
        parsed = [(float(r.get("seconds", 0)), int(r.get("exit_code", 0))) for r in runs]
        for seconds, exit_code in parsed[:-1]:
            hooks.script(hook, seconds, exit_code)
        if parsed:
            hooks.behave(hook, *parsed[-1])
    return hooks


def run_virtual(scenario: Scenario) -> Incident:
    clock = ManualClock(T0)
    sim = build_simulator(scenario, clock)
    notes: List[str] = []
    hooks = scripted_hooks(sim, clock, scenario.hooks)
    timeout = float(scenario.settings.get("host_timeout", 120))
    watch = InvariantWatch(sim, timeout, 1.0, scenario.hooks.get("quiesce", []))
    end = T0 + scenario.duration

    def timed(action: Dict[str, Any]) -> Callable[[], None]:
        act = action_runner(action, sim, notes, hooks.behave)

        def run() -> None:
            watch.before(action)
            if action["do"] == "kill":
                life.kill()
            elif action["do"] == "restart":
                life.restart()
            elif action["do"] == "terminate":
                life.terminate()
            else:
                act()
        return run

    for action in scenario.actions:
        clock.call_at(T0 + float(action["at"]), timed(action))
    clock.call_at(end, watch.check)  # the last check, while the core still runs (as on real time, before the stop)
    logger = logging.getLogger("vmotion_incident.virtual")
    logger.propagate = False
    logger.addHandler(logging.NullHandler())
    store = MemoryStateStore()

    def new_core(stop: Callable[[], bool]) -> Handler:
        try:
            settings = CoreSettings(app_name=APP_NAME, quiesce="quiesce", unquiesce="unquiesce", **scenario.handler)
            return Handler(settings, transport=sim.call, clock=clock, hooks=hooks, state_store=store, logger=logger,
                           stop_requested=lambda: stop() or clock.now() >= end)
        except (TypeError, ValueError) as bad:
            raise ScenarioError(f"handler: {bad}") from None

    life = CoreLife(new_core)
    while life.start_due:
        code = life.run_core()
        if life.terminating:
            watch.terminated(code)
        while not life.start_due and clock.now() < end:  # no core runs: time passes until a restart, or the end
            clock.move_to(min(end, clock.now() + 1.0))
    sim.settle()
    return incident_of("virtual run", sim.journal(), T0, notes, watch)


def incident_of(label: str, journal: List[Entry], origin: float, notes: List[str],
                watch: InvariantWatch) -> Incident:
    """What a run of a scenario showed, on either clock: its journal read as observations counted from
    ``origin`` (where the scenario's second 0 fell), reconstructed, with the invariants the run broke."""
    observations = observe_journal(journal)
    for o in observations:
        o.t -= origin
    incident = reconstruct(label, observations, origin, notes)
    incident.invariants = watch.outcomes()
    if watch.broken:
        incident.warnings.append(f"invariant {watch.broken} broken: {watch.detail}")
    return incident
