"""Run a scenario against a handler command on real time: a simulated VM on a socket, the fake vmtoolsd on
the handler's PATH, probe hooks that take the scenario's seconds, and the actions applied at their seconds.

The scenario's seconds are real seconds here, so keep its timeouts short, or run at ``speed`` K: the simulator
on a scaled clock and the handler under libfaketime on the same clock (``simulator.speed``), so production
timeouts take 1/K of their time. The outcome is read back from the simulator's journal exactly as a virtual
run's is, and covers the same span: the simulator's clock stops at the scenario's end (``StoppableClock``), so
a deadline that passes while the handler is being stopped does not count, however long the stop takes.
"""

from __future__ import annotations

import json
import shutil
import signal
import tempfile
import threading
from pathlib import Path
from typing import Dict, List, Optional, Sequence

from simulator import ScaledClock, Simulator, SystemClock
from simulator.clock import StoppableClock
from simulator.harness import HandlerLauncher, HandlerProcess, SimulatedVM, wait_until
from simulator.incident.invariant_watch import InvariantWatch
from simulator.incident.reconstruct import Incident
from simulator.incident.scenario import Scenario, ScenarioError
from simulator.incident.virtual import action_runner, build_simulator, incident_of
from simulator.speed import SpeedUnavailable

STOP_GRACE_S = 10.0
REGISTER_WAIT_S = 30.0  # wall seconds a handler has to register when the seconds count from its registration
SIGTERM_WAIT_S = 30.0  # wall seconds a terminated handler has to exit (as the soak gives it)


def _follow_hook_scripts(scenario: Scenario, launcher: HandlerLauncher, vm: SimulatedVM, stop: threading.Event) -> None:
    """The probes read their behaviour when they start: after each start, set the next run's script."""
    seen: Dict[str, int] = {}
    while not stop.wait(0.02):
        for hook, runs in scenario.hooks.items():
            started = len(vm.probes(hook, "started"))
            if started != seen.get(hook, 0) and runs:
                seen[hook] = started
                nxt = runs[min(started, len(runs) - 1)]
                launcher.behave(hook, float(nxt.get("seconds", 0)), int(nxt.get("exit_code", 0)))


def run_real_time(
    scenario: Scenario, command: Sequence[str], keep: Optional[Path] = None, speed: float = 1.0
) -> Incident:
    """``keep``: a directory to copy what the run left into (the handler's output as ``handler.log``, its
    state directory, where a handler may write its own log, and the journal as ``journal.json``)."""
    template = " ".join(command)
    if "{quiesce}" not in template and template != scenario.command:  # the file's own command ran as it is
        raise ScenarioError("the handler command needs {quiesce} (and {unquiesce}) where its hook commands go")
    clock = StoppableClock(ScaledClock(speed) if speed != 1.0 else SystemClock())
    sim = build_simulator(scenario, clock)
    directory = Path(tempfile.mkdtemp(prefix="vmotion-incident-", dir="/tmp"))
    vm = SimulatedVM.in_process(directory, sim).start()
    try:
        launcher = HandlerLauncher(template, vm, name="incident")
    except SpeedUnavailable as why:
        vm.close()
        shutil.rmtree(directory, ignore_errors=True)
        raise ScenarioError(str(why)) from None
    notes: List[str] = []
    stop = threading.Event()
    watch = InvariantWatch(sim, float(scenario.settings.get("host_timeout", 120)), speed,
                           scenario.hooks.get("quiesce", []))
    try:
        for hook in ("quiesce", "unquiesce"):
            runs = scenario.hooks.get(hook) or [{}]
            launcher.behave(hook, float(runs[0].get("seconds", 0)), int(runs[0].get("exit_code", 0)))
        follower = threading.Thread(target=_follow_hook_scripts, args=(scenario, launcher, vm, stop), daemon=True)
        follower.start()
        handler = _start(launcher)
        if scenario.begin == "registered":
            if not wait_until(lambda: sim.status().registrations, REGISTER_WAIT_S):
                notes.append(f"the handler did not register within {REGISTER_WAIT_S:g} s of wall time")
        else:
            # Second 0 is when the handler first speaks (its register), as on virtual time where the core
            # registers at once: a process's start-up, slower on a loaded machine, is not part of the incident.
            wait_until(lambda: vm.rpcs("register"), REGISTER_WAIT_S, give_up=lambda: not handler.running())
        t0 = sim.now()
        for action in scenario.actions:
            _sleep_until(sim, t0 + float(action["at"]))
            watch.before(action)
            if action["do"] == "kill":
                handler.kill()
            elif action["do"] == "restart":
                handler.kill()  # one handler at a time: a restart of a running handler replaces it
                handler = _start(launcher)
            elif action["do"] == "terminate":
                watch.terminated(handler.stop(signal.SIGTERM, timeout=SIGTERM_WAIT_S))
            else:
                action_runner(action, sim, notes, lambda hook, s, code: launcher.behave(hook, s, code))()
        _sleep_until(sim, t0 + scenario.duration)
        watch.check()
        clock.stop()  # the run ends here, as a virtual run ends at its duration
        launcher.close()
        stop.set()
        follower.join(STOP_GRACE_S)
        sim.settle()
        journal = sim.journal()
        if keep is not None:
            keep.mkdir(parents=True, exist_ok=True)
            (keep / "journal.json").write_text(json.dumps([e.as_dict() for e in journal], indent=2))
            for proc in launcher.started:
                if proc.log_path.exists():
                    shutil.copyfile(proc.log_path, keep / "handler.log")
            if launcher.state_dir.exists():
                shutil.copytree(launcher.state_dir, keep / "state", dirs_exist_ok=True)
    finally:
        stop.set()
        launcher.close()
        vm.close()
        shutil.rmtree(directory, ignore_errors=True)
    return incident_of("real-time run", journal, t0, notes, watch)


def _start(launcher: HandlerLauncher) -> HandlerProcess:
    try:
        return launcher()
    except (RuntimeError, SpeedUnavailable) as failed:  # the command cannot be started: say so in one line
        raise ScenarioError(str(failed)) from None


def _sleep_until(sim: Simulator, when: float) -> None:
    left = when - sim.now()
    if left > 0:
        sim.clock.sleep(left)  # the scenario's own timetable on the simulator's clock, not a wait for a timeout
