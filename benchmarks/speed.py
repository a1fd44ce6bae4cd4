"""Figures: production timeouts at speed (``vmotion-sim serve --speed 20`` and ``vmotion-sim exec``).

The bundled handler runs as a process, unmodified, with its production defaults (poll every 1 s, 2 s safety
margin), on the simulator's clock through libfaketime, against a 120-second notification timeout (20 s in the
quick mode):
- forced migration: the quiesce outlasts the timeout and ``--on-quiesce-failure no-ack`` sends no ack, so the
  simulator forces the migration at 120 s; the cycle ends when the unquiesce hook reports;
- acked at the deadline: the quiesce outlasts the timeout, the handler kills it at 118 s and acks in time.
Value: wall time from the vMotion request to the unquiesce; floor: the nominal 120 s / 20 = 6 s (target 1.5x;
the rest is the 15-s migration and the polls, on the simulated clock too, so about 1.15x when all is well).
Clock agreement: each hook (``simulator.speed.write_clock_probe``) reads ``time.time()`` under libfaketime
just before and after asking the simulator for its time: midpoint minus the simulator's time is the skew,
against the poll interval (target: a quarter of it).
Soak throughput (full mode only): the same seeded ``vmotion-sim soak`` sequence with the production 120-s timeout
at x20, in wall seconds per vMotion, against the sequence with the 6-s timeouts a test would use at speed 1
(``soak.runner.timeout_for``): speed makes production timeouts as cheap as test timeouts (target 1.5x). At
speed 1 with 120 s the same sequence would take 20 times the x20 figure.
"""

from __future__ import annotations

import concurrent.futures
import subprocess
import tempfile
import time
from pathlib import Path
from typing import Any, Dict, List, Optional, Tuple

from benchmarks.measure import Row
from simulator import speed
from simulator.harness import SimulatedVM, wait_until
from simulator.harness.ours import python_module
from simulator.processes import stop_process
from simulator.soak.runner import SoakRun, timeout_for
from simulator.soak.steps import draw_steps, run_seed
from simulator.speed import write_clock_probe

FIGURE = "speed"
SPEED = 20.0
TIMEOUT = 120
QUICK_TIMEOUT = 20  # the quick mode only keeps the code working: the same cycles, a sixth of the wait
POLL_INTERVAL = 1.0
SOAK_SEED = 2026
REPO = Path(__file__).resolve().parent.parent


def _cycle(policy: str, timeout: int) -> Tuple[float, List[float], Dict[str, Any]]:
    """(wall seconds from request to unquiesce, skews in simulated seconds, the operation's status)."""
    with tempfile.TemporaryDirectory(prefix="vmsim-bench-", dir="/tmp") as scratch:
        tmp = Path(scratch)
        server = SimulatedVM.as_process(tmp, "--speed", f"{SPEED:g}", "--host-timeout", str(timeout)).start()
        handler = None
        try:
            argv = [
                *python_module("handler"), "--name", "bench-speed", "--state-file", str(tmp / "state.json"),
                "--quiesce", str(write_clock_probe(tmp, server.socket, "quiesce", 1000)),
                "--unquiesce", str(write_clock_probe(tmp, server.socket, "unquiesce")),
                "--on-quiesce-failure", policy, "--log-level", "warning",
            ]
            with (tmp / "handler.log").open("wb") as log:
                handler = subprocess.Popen(
                    [*python_module("simulator"), "--socket", str(server.socket), "exec", "--", *argv],
                    env=server.env(), cwd=REPO, stdin=subprocess.DEVNULL, stdout=log, stderr=log,
                )
            _wait(lambda: server.client.status().registrations, 60, "the handler to register")
            start = time.perf_counter()
            op = server.client.vmotion()
            _wait(lambda: server.probes("clock", "unquiesce"), 120, "the unquiesce")
            wall = time.perf_counter() - start
            reports = [*server.probes("clock", "quiesce"), *server.probes("clock", "unquiesce")]
            skews = [float(r["handler_time"]) - float(r["sim_time"]) for r in reports]
            return wall, skews, dict(server.client.operation(op))
        finally:
            if handler is not None:
                stop_process(handler, timeout=15)
            server.close()


def _wait(condition: Any, timeout: float, what: str) -> None:
    if not wait_until(condition, timeout):
        raise RuntimeError(f"timed out waiting for {what}")


def _seconds_per_operation(speed: float) -> Tuple[float, int, bool]:
    """(wall seconds per vMotion, vMotions, every invariant held) for one seeded soak sequence at ``speed``."""
    steps = draw_steps(run_seed(SOAK_SEED, 0), 4, timeout_for(speed))
    run = SoakRun(steps, speed=speed, seed=SOAK_SEED)
    start = time.perf_counter()
    violation = run.play()
    wall = time.perf_counter() - start
    operations = max(1, len(run.sim.status()["operations"]))
    return wall / operations, operations, violation is None


def _soak_row() -> Row:
    fast, fast_ops, fast_held = _seconds_per_operation(SPEED)
    slow, slow_ops, slow_held = _seconds_per_operation(1.0)
    return Row(
        FIGURE, f"soak, wall s per vMotion: 120-s timeout at x{SPEED:g}", "s", [fast],
        "6-s timeout at x1", [slow], target="<= 1.5x (production timeouts as cheap as test ones)",
        target_ratio=1.5, met_override=None if fast_held and slow_held else False,
        note=f"{fast_ops} and {slow_ops} vMotions; x{SPEED:g} per minute: {60 / fast:.1f}",
        extra={"operations": [fast_ops, slow_ops], "held": [fast_held, slow_held]},
    )


def unavailable() -> Optional[str]:
    """Why the figure cannot run here (no libfaketime, no C compiler for the shim), or None."""
    return speed.unavailable()


POLICIES = (("forced migration", "no-ack", "forced"), ("acked at the deadline", "ack-anyway", "acked"))


def run(quick: bool) -> List[Row]:
    reps = 1 if quick else 3
    timeout = QUICK_TIMEOUT if quick else TIMEOUT
    nominal = timeout / SPEED
    rows: List[Row] = []
    all_skews: List[float] = []
    # Each cycle mostly waits on the sped-up clock. The full mode runs them one after the other, so that none
    # disturbs another's figure; the quick mode only keeps the code working: both policies' cycles at once.
    with concurrent.futures.ThreadPoolExecutor(len(POLICIES) if quick else 1) as pool:
        cycles = {policy: [pool.submit(_cycle, policy, timeout) for _ in range(reps)] for _, policy, _ in POLICIES}
    for name, policy, want in POLICIES:
        walls: List[float] = []
        outcomes: List[str] = []
        for cycle in cycles[policy]:
            wall, skews, op = cycle.result()
            walls.append(wall)
            all_skews += skews
            outcomes.append("forced" if op["forced"] else "acked" if op["acked"] else "neither")
        rows.append(Row(
            FIGURE, f"{timeout}-s {name} at x{SPEED:g}: request to unquiesce", "s", walls,
            f"{timeout} s / {SPEED:g}", [nominal], target=f"<= 1.5x the nominal {nominal:g} s, and {want}",
            target_ratio=1.5, met_override=False if any(o != want for o in outcomes) else None,
            note=f"outcomes {outcomes}", extra={"outcomes": outcomes},
        ))
    if not quick:
        rows.append(_soak_row())
    rows.append(Row(
        FIGURE, f"clock skew at the hooks at x{SPEED:g} (|handler - simulator|)", "s",
        [abs(s) for s in all_skews], "poll interval", [POLL_INTERVAL], target="<= 0.25x the poll interval",
        target_ratio=0.25, note="signed skews in extra", extra={"skews": all_skews},
    ))
    return rows
