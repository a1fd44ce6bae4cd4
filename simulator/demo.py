"""The main job: one full vMotion cycle with the real handler, printed as a timeline.

The simulator serves a VM on a private socket on the real clock; the bundled handler runs as a real process
through the fake vmtoolsd, with a demo application whose quiesce and unquiesce take a second each (the
durations are knobs: a test shows the same cycle in a fraction of the time).
"""

from __future__ import annotations

import shlex
import sys
import tempfile
from pathlib import Path
from typing import Callable, Optional

from simulator.clock import SystemClock
from simulator.harness.launcher import HandlerLauncher, HandlerProcess
from simulator.harness.ours import write_launcher
from simulator.harness.vm import SimulatedVM
from simulator.harness.wait import wait_until
from simulator.inprocess import Simulator
from simulator.timeline import redact, render

# The demo application: says what it does, reports to the simulator's journal, takes its time (argv[2] s).
DEMO_APP = """\
import os, time
from simulator.transport.client import SimulatorClient
action = sys.argv[1]
sim = SimulatorClient(os.environ["VMOTION_SIM_SOCKET"])
env = {k: v for k, v in os.environ.items() if k.startswith("VMOTION_") and k != "VMOTION_SIM_SOCKET"}
sim.record_probe(action, "begin", env)
print(f"demo-app: {action} for operation {os.environ.get('VMOTION_OPERATION_ID')}", flush=True)
time.sleep(float(sys.argv[2]))
print(f"demo-app: {action} done", flush=True)
sim.record_probe(action, "end", env)
"""


class DemoFailed(Exception):
    pass


def _wait_for(what: str, predicate: Callable[[], object], seconds: float, handler: HandlerProcess) -> None:
    if wait_until(predicate, seconds, interval=0.05, give_up=lambda: not handler.running()):
        return
    if not handler.running():
        raise DemoFailed(f"the handler exited ({handler.exit_code}) before {what}")
    raise DemoFailed(f"gave up waiting for {what} after {seconds:.0f} s")


def run_demo(timeout: int = 10, migration_seconds: float = 2.0, html: Optional[Path] = None,
             app_seconds: float = 1.0, interval: float = 0.5) -> int:
    with tempfile.TemporaryDirectory(prefix="vmotion-demo-") as tmp:
        sim = Simulator(SystemClock(), host_timeout=timeout, migration_seconds=migration_seconds)
        with SimulatedVM.in_process(Path(tmp), sim) as vm:
            app = str(write_launcher(vm.bin_dir / "demo-app", DEMO_APP))
            command = shlex.join([
                "{handler}", "--name", "demo-app", "--interval", f"{interval:g}",
                "--quiesce", shlex.join([app, "quiesce", f"{app_seconds:g}"]),
                "--unquiesce", shlex.join([app, "unquiesce", f"{app_seconds:g}"]),
                "--vmtoolsd", "{vmtoolsd}", "--state-file", "{state_file}",
            ])
            launcher = HandlerLauncher(command, vm, name="demo-app")
            print(f"Simulated VM: host timeout {timeout} s, migration takes {migration_seconds:g} s.")
            print("Starting the handler: vmotion-handler " + shlex.join(launcher.argv()[1:]))
            handler = launcher()
            try:
                _wait_for("the handler registered", lambda: sim.status()["registrations"], 20, handler)
                op_id = vm.client.vmotion()
                print(f"vMotion requested: operation {op_id}")
                _wait_for("the end of the cycle (unquiesce finished)", lambda: vm.journal().probes("unquiesce", "end"),
                          timeout + migration_seconds + 20, handler)
            finally:
                handler.stop(timeout=20)
                launcher.close()
            journal = vm.journal()
            status = sim.status()
            log = handler.log()
        print("\nTimeline (simulator journal):")
        print("\n".join("  " + line for line in render(journal)))
        if html is not None:
            from simulator.report import journal_page

            html.write_text(journal_page(list(journal), "vmotion-sim demo: one vMotion cycle"), encoding="utf-8")
            print(f"\nThe timeline as a picture: {html}")
        print("\nHandler log:")
        print("\n".join("  " + redact(line) for line in log.splitlines()))
        op = next(o for o in status["operations"] if o["operation_id"] == op_id)
        problems = []
        if not op["acked"] or op["forced"]:
            problems.append("the migration was not acked in time")
        if status["registrations"]:
            problems.append("the handler left its registration behind")
        if handler.exit_code != 0:
            problems.append(f"the handler exited with {handler.exit_code}")
        print("\nSummary:")
        if op["migration_started_at"] is not None:
            print(f"  acked {op['migration_started_at'] - op['requested_at']:.2f} s into a {timeout} s budget")
        quiesced = journal.probes("quiesce", "begin").first()
        unquiesced = journal.probes("unquiesce", "end").first()
        if quiesced and unquiesced:
            print(f"  application quiesced for {unquiesced['time'] - quiesced['time']:.2f} s in all")
        print(f"  handler exit status {handler.exit_code}; registrations left: {len(status['registrations'])}")
        for problem in problems:
            print(f"  PROBLEM: {problem}")
        return 1 if problems else 0


def main() -> int:
    try:
        return run_demo()
    except DemoFailed as failed:
        print(f"vmotion-sim demo: {failed}", file=sys.stderr)
        return 1
