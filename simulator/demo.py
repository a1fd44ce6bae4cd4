"""The main job: one full vMotion cycle with the real handler, printed as a timeline.

The simulator serves a VM on a private socket on the real clock; the bundled handler runs as a real process
through the fake vmtoolsd, with a demo application whose quiesce and unquiesce take a second each.
"""

from __future__ import annotations

import os
import shlex
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any, Callable, Dict, List

from simulator.clock import SystemClock
from simulator.inprocess import Simulator
from simulator.processes import stop_process
from simulator.timeline import redact, render
from simulator.transport.client import SimulatorClient
from simulator.transport.server import SimulatorServer
from simulator.transport.shim import write_shims

# The demo application: says what it does, reports to the simulator's journal, takes a second.
DEMO_HOOK = '''\
import os, sys, time
from simulator.transport.client import SimulatorClient
action = sys.argv[1]
sim = SimulatorClient(os.environ["VMOTION_SIM_SOCKET"])
env = {k: v for k, v in os.environ.items() if k.startswith("VMOTION_") and k != "VMOTION_SIM_SOCKET"}
sim.record_probe(action, "begin", env)
print(f"demo-app: {action} for operation {os.environ.get('VMOTION_OPERATION_ID')}", flush=True)
time.sleep(1.0)
print(f"demo-app: {action} done", flush=True)
sim.record_probe(action, "end", env)
'''


class DemoFailed(Exception):
    pass


def _wait_for(what: str, predicate: Callable[[], bool], seconds: float, handler: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + seconds
    while not predicate():
        if handler.poll() is not None:
            raise DemoFailed(f"the handler exited ({handler.returncode}) before {what}")
        if time.monotonic() > deadline:
            raise DemoFailed(f"gave up waiting for {what} after {seconds:.0f} s")
        time.sleep(0.05)


def _probes(journal: List[Dict[str, Any]], name: str, phase: str) -> List[Dict[str, Any]]:
    return [e for e in journal if e["kind"] == "probe" and e["name"] == name and e["phase"] == phase]


def run_demo(timeout: int = 10, migration_seconds: float = 2.0) -> int:
    with tempfile.TemporaryDirectory(prefix="vmotion-demo-") as tmp:
        work = Path(tmp)
        sock = work / "sim.sock"
        sim = Simulator(SystemClock(), host_timeout=timeout, migration_seconds=migration_seconds)
        with SimulatorServer(sim, sock):
            shims = write_shims(work / "bin", sock)
            hook = work / "demo_app.py"
            hook.write_text(DEMO_HOOK)
            log = work / "handler.log"
            env = dict(os.environ, VMOTION_SIM_SOCKET=str(sock))
            argv = [
                sys.executable, "-m", "handler",
                "--name", "demo-app",
                "--interval", "0.5",
                "--quiesce", shlex.join([sys.executable, str(hook), "quiesce"]),
                "--unquiesce", shlex.join([sys.executable, str(hook), "unquiesce"]),
                "--vmtoolsd", str(shims["vmtoolsd"]),
                "--state-file", str(work / "state.json"),
            ]  # fmt: skip
            print(f"Simulated VM: host timeout {timeout} s, migration takes {migration_seconds:g} s.")
            print("Starting the handler: " + " ".join(a if " " not in a else repr(a) for a in argv[1:]))
            with log.open("wb") as log_file:
                handler = subprocess.Popen(argv, env=env, stdout=log_file, stderr=subprocess.STDOUT)
                try:
                    client = SimulatorClient(sock)
                    _wait_for("the handler registered", lambda: bool(sim.status()["registrations"]), 20, handler)
                    op_id = client.vmotion()
                    print(f"vMotion requested: operation {op_id}")
                    _wait_for(
                        "the end of the cycle (unquiesce finished)",
                        lambda: bool(_probes(sim.journal(), "unquiesce", "end")),
                        timeout + migration_seconds + 20,
                        handler,
                    )
                finally:
                    stop_process(handler, timeout=20)
            journal = sim.journal()
            status = sim.status()
        print("\nTimeline (simulator journal):")
        print("\n".join("  " + line for line in render(journal)))
        print("\nHandler log:")
        print("\n".join("  " + redact(line) for line in log.read_text(errors="replace").splitlines()))
        op = next(o for o in status["operations"] if o["operation_id"] == op_id)
        problems = []
        if not op["acked"] or op["forced"]:
            problems.append("the migration was not acked in time")
        if status["registrations"]:
            problems.append("the handler left its registration behind")
        if handler.returncode != 0:
            problems.append(f"the handler exited with {handler.returncode}")
        print("\nSummary:")
        if op["migration_started_at"] is not None:
            print(f"  acked {op['migration_started_at'] - op['requested_at']:.2f} s into a {timeout} s budget")
        quiesced = _probes(journal, "quiesce", "begin")
        unquiesced = _probes(journal, "unquiesce", "end")
        if quiesced and unquiesced:
            print(f"  application quiesced for {unquiesced[0]['time'] - quiesced[0]['time']:.2f} s in all")
        print(f"  handler exit status {handler.returncode}; registrations left: {len(status['registrations'])}")
        for problem in problems:
            print(f"  PROBLEM: {problem}")
        return 1 if problems else 0


def main() -> int:
    try:
        return run_demo()
    except DemoFailed as failed:
        print(f"vmotion-sim demo: {failed}", file=sys.stderr)
        return 1
