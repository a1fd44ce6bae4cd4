"""A seeded SIGKILL/restart campaign: real handler processes against `vmotion-sim serve` and the fake vmtoolsd.

Each cycle aims one SIGKILL at a window (during or after a vmtoolsd call, before, during or after a hook,
at start-up, while idle), opened wide by a latency fault or a hook that sleeps; during a hook it may also
kill the hook's process group (what systemd's KillMode=control-group does). The handler
is restarted at once. After each operation has ended and the handler has caught up, four things must be
zero: registrations leaked, applications left quiesced, starts fetched and not acted on, migrations forced
that should have been acked. Where each kill landed is read from the handler's own records at that moment.

A cycle mostly waits on real time (a hook's sleep, a migration, a restart), so the cycles run in lanes at once:
each lane its own simulated VM and handler, the seed's schedule dealt out among them, each lane's timings drawn
from its own generator seeded from the campaign's seed.

CI runs 16 cycles in 5 lanes: every window once, and the two hook windows once more with the hook's group
killed too (the kill point, not the repetition, is what a cycle adds; more cycles draw windows at random).
VMOTION_CAMPAIGN_CYCLES, VMOTION_CAMPAIGN_SEED and VMOTION_CAMPAIGN_LANES select a
longer or another run, and ``python -m tests.handler.test_kill_campaign`` prints the figures the README quotes.
"""

from __future__ import annotations

import collections
import contextlib
import json
import os
import random
import signal
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Counter, Dict, List, Optional, Tuple

import pytest

from simulator.harness.vm import SimulatedVM
from simulator.harness.wait import wait_until
from simulator.processes import process_alive, stop_process
from simulator.transport.client import SimulatorClient

pytestmark = pytest.mark.skipif(sys.platform == "win32", reason="Unix socket simulator and POSIX signals")

CYCLES = int(os.environ.get("VMOTION_CAMPAIGN_CYCLES", "16"))
SEED = int(os.environ.get("VMOTION_CAMPAIGN_SEED", "20261201"))
LANES = int(os.environ.get("VMOTION_CAMPAIGN_LANES", "5"))

HOST_TIMEOUT = 4  # notificationTimeoutInSec: a restart must ack well within it
MIGRATION = 0.15
END_TIMEOUT = 60  # far beyond a cycle: an end lost by a kill shows as an application left quiesced
LATENCY = 0.3  # a slow call: the window "during" it
AIM = 0.005  # seconds between looks while aiming at a window (the narrowest is 0.15 s)
LOOK = 0.05  # seconds between looks while waiting for the handler to catch up (each look is a few calls)

# The application: the quiesce writes "quiesced" when it is done, the unquiesce "running". A quiesce of a
# killed run that finishes after the restart's unquiesce leaves "quiesced" behind.
HOOK = """#!/bin/sh
echo "$VMOTION_HOOK $VMOTION_OPERATION_ID ${VMOTION_REASON:-} $$ start" >> "$CAMPAIGN_DIR/hooks.log"
if [ "$VMOTION_HOOK" = quiesce ]; then
  sleep "$QUIESCE_SECONDS"
  echo quiesced > "$CAMPAIGN_DIR/app.tmp.$$" && mv "$CAMPAIGN_DIR/app.tmp.$$" "$CAMPAIGN_DIR/app"
else
  sleep "$UNQUIESCE_SECONDS"
  echo running > "$CAMPAIGN_DIR/app.tmp.$$" && mv "$CAMPAIGN_DIR/app.tmp.$$" "$CAMPAIGN_DIR/app"
fi
echo "$VMOTION_HOOK $VMOTION_OPERATION_ID ${VMOTION_REASON:-} $$ done" >> "$CAMPAIGN_DIR/hooks.log"
"""

TARGETS = (
    "start-up", "idle",
    "during register", "after register",
    "during check-for-event (start)", "after check-for-event (start)",
    "during quiesce", "after quiesce",
    "during ack-event", "after ack-event",
    "during check-for-event (end)", "after check-for-event (end)",
    "during unquiesce", "after unquiesce",
)
# The windows with a hook running at the kill: only there does killing the hook's process group change anything.
HOOK_TARGETS = ("during quiesce", "during unquiesce")


def _read_json(path: Path) -> Optional[Dict[str, Any]]:
    try:
        obj = json.loads(path.read_text())
    except (OSError, ValueError):
        return None
    return obj if isinstance(obj, dict) else None


@dataclass
class Report:
    cycles: int = 0
    kills: int = 0
    group_kills: int = 0
    operations: int = 0
    landed: Counter[str] = field(default_factory=collections.Counter)
    leaked_registrations: int = 0
    left_quiesced: int = 0
    starts_not_acted_on: int = 0
    forced_should_have_acked: int = 0
    problems: List[str] = field(default_factory=list)
    seconds: float = 0.0

    def add(self, other: Report) -> None:
        self.cycles += other.cycles
        self.kills += other.kills
        self.group_kills += other.group_kills
        self.operations += other.operations
        self.landed.update(other.landed)
        self.leaked_registrations += other.leaked_registrations
        self.left_quiesced += other.left_quiesced
        self.starts_not_acted_on += other.starts_not_acted_on
        self.forced_should_have_acked += other.forced_should_have_acked
        self.problems += other.problems

    def zeros(self) -> Dict[str, int]:
        return {
            "leaked registrations": self.leaked_registrations,
            "applications left quiesced": self.left_quiesced,
            "starts fetched and not acted on": self.starts_not_acted_on,
            "migrations forced that should have been acked": self.forced_should_have_acked,
        }

    def describe(self) -> str:
        lines = [f"{self.cycles} cycles, {self.kills} SIGKILLs ({self.group_kills} with the hook's group), "
                 f"{self.operations} operations, {self.seconds:.0f} s"]
        lines += [f"  {n:3d}  {w}" for w, n in sorted(self.landed.items(), key=lambda kv: (-kv[1], kv[0]))]
        lines += [f"  {name}: {n}" for name, n in self.zeros().items()]
        lines += [f"  problem: {p}" for p in self.problems]
        return "\n".join(lines)


Cycle = Tuple[int, str, bool]  # (its number in the campaign, the window aimed at, the hook's group killed too)


# Every distinct kill: each window with the handler alone, each hook window with the hook's group as well.
DISTINCT: List[Tuple[str, bool]] = [(target, False) for target in TARGETS] + [(t, True) for t in HOOK_TARGETS]


def schedule(seed: int, cycles: int) -> List[Cycle]:
    """Every distinct kill once, then windows at random (half of them with the hook's group killed too)."""
    rng = random.Random(seed)
    plan: List[Cycle] = []
    for i in range(cycles):
        if i < len(DISTINCT):
            plan.append((i + 1, *DISTINCT[i]))
        else:
            plan.append((i + 1, rng.choice(TARGETS), rng.random() < 0.5))
    return plan


class Campaign:
    """One lane: a simulated VM, the handler, and the cycles dealt to it."""

    def __init__(self, tmp: Path, rng: random.Random) -> None:
        self.tmp = tmp
        self.rng = rng
        self.hook = tmp / "hook.sh"
        self.state = tmp / "state" / "state.json"
        self.app = tmp / "app"
        self.hook_log = tmp / "hooks.log"
        self.vm = SimulatedVM.as_process(tmp, "--host-timeout", str(HOST_TIMEOUT), "--migration-seconds",
                                         str(MIGRATION), "--clock", "real")
        self.bin = self.vm.bin_dir
        self.client = SimulatorClient(self.vm.socket, timeout=10)
        self.handler: Optional[subprocess.Popen[bytes]] = None
        self.report = Report()
        self.cycle_number = 0
        self._starts = 0

    # --------------------------------------------------------------------------------------- plumbing

    def serve(self) -> None:
        self.vm.start()
        self.hook.write_text(HOOK)
        self.hook.chmod(0o755)
        self.app.write_text("running\n")

    def start_handler(self) -> None:
        self._starts += 1
        env = dict(os.environ, CAMPAIGN_DIR=str(self.tmp),
                   QUIESCE_SECONDS=f"{self.rng.uniform(0.15, 0.6):.2f}",
                   UNQUIESCE_SECONDS=f"{self.rng.uniform(0.05, 0.3):.2f}")
        log = open(self.tmp / f"handler-{self._starts}.log", "wb")  # noqa: SIM115 - closed by the child's end
        try:
            self.handler = subprocess.Popen(
                [sys.executable, "-m", "handler", "--name", "campaign", "--vmtoolsd", str(self.bin / "vmtoolsd"),
                 "--interval", "0.1", "--quiesce", str(self.hook), "--unquiesce", str(self.hook),
                 "--state-file", str(self.state), "--safety-margin", "0.5", "--kill-grace", "0.2",
                 "--rpc-timeout", "3", "--end-timeout", str(END_TIMEOUT), "--log-format", "json",
                 "--log-level", "debug"],
                env=env, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=log,
            )
        finally:
            log.close()

    def wait(self, what: str, condition: Callable[[], object], timeout: float, interval: float = LOOK) -> bool:
        if wait_until(condition, timeout, interval):
            return True
        self.report.problems.append(f"cycle {self.cycle_number}: timed out waiting for {what}")
        return False

    def call_record(self) -> Optional[Dict[str, Any]]:
        return _read_json(Path(f"{self.state}.rpc-call"))

    def hook_record(self) -> Optional[Dict[str, Any]]:
        return _read_json(Path(f"{self.state}.hook"))

    @staticmethod
    def _running(record: Optional[Dict[str, Any]]) -> bool:
        return record is not None and isinstance(record.get("pid"), int) and process_alive(record["pid"])

    def calling(self, verb: str) -> bool:
        record = self.call_record()
        return record is not None and record.get("kind") == verb and self._running(record)

    def hooking(self, hook: str) -> bool:
        record = self.hook_record()
        return record is not None and record.get("kind") == hook and self._running(record)

    def hook_lines(self, *head: str) -> List[List[str]]:
        if not self.hook_log.exists():
            return []
        lines = [line.split() for line in self.hook_log.read_text().splitlines()]
        return [line for line in lines if line[: len(head)] == list(head)]

    def registered(self) -> bool:
        state = _read_json(self.state)
        return bool(state and state.get("token")) and len(self.client.status()["registrations"]) == 1

    def queued(self) -> List[str]:
        regs = self.client.status()["registrations"]
        return list(regs[0]["queued"]) if regs else []

    def slow(self, remaining: Optional[int] = None) -> None:
        self.client.fault(latency=LATENCY * (2 if remaining else 1), remaining=remaining)

    def slow_call_arrived(self) -> bool:
        return bool(self.client.status()["faults"]["latency"] == 0)

    # ------------------------------------------------------------------------------------------ kill

    def where(self) -> str:
        """Where the handler stands, read from its records (call, hook, state) right at the kill."""
        hook = self.hook_record()
        if self._running(hook):
            assert hook is not None
            return f"during {hook['kind']}"
        state = _read_json(self.state) or {}
        ops = [op for op in state.get("operations") or [] if isinstance(op, dict)]
        phase = str(ops[0].get("phase")) if ops else "no operation"
        call = self.call_record()
        if self._running(call):
            assert call is not None
            return f"during {call['kind']} ({phase})"
        if not ops:
            return f"after {call['kind']} (no operation)" if call else "at start-up (no call yet)"
        op = str(ops[0].get("operation_id"))
        done = {h: any(x[-1] == "done" for x in self.hook_lines(h, op)) for h in ("quiesce", "unquiesce")}
        if phase == "quiescing":
            return "after quiesce (not yet acked)" if done["quiesce"] else "before quiesce (start fetched)"
        if phase == "unquiescing":
            return "after unquiesce" if done["unquiesce"] else "before unquiesce (end fetched)"
        return f"after {call['kind'] if call else 'no call'} ({phase})"

    def kill(self, group: bool) -> None:
        assert self.handler is not None
        hook = self.hook_record()
        self.report.landed[self.where()] += 1
        self.handler.send_signal(signal.SIGKILL)
        if group and self._running(hook):
            assert hook is not None
            with contextlib.suppress(OSError):
                os.killpg(int(hook["pid"]), signal.SIGKILL)  # what a cgroup-wide kill does to the hook
            self.report.group_kills += 1
        self.handler.wait()
        self.report.kills += 1
        self.client.fault()

    # ---------------------------------------------------------------------------------------- cycles

    def cycle(self, target: str, group: bool) -> None:
        op_id: Optional[int] = None
        aimed = True
        if target == "start-up":
            self.stop_handler()
            self.start_handler()
            time.sleep(self.rng.uniform(0.0, 0.4))
        elif target == "idle":
            time.sleep(self.rng.uniform(0.0, 0.3))
        elif target in ("during register", "after register"):
            self.check_leaks()
            if target == "during register":
                self.slow()
            self.client.reboot()  # the registration is gone: the handler registers again
            if target == "during register":
                aimed = self.wait("a register in flight", lambda: self.calling("register"), 10, AIM)
            else:
                aimed = self.wait("a new registration", lambda: self.client.status()["registrations"], 10, AIM)
        elif target == "during check-for-event (start)":
            self.slow(remaining=1)
            op_id = self.client.vmotion()
            aimed = self.wait("the poll in flight", self.slow_call_arrived, 5, AIM)
        else:
            op_id = self.client.vmotion()
            aimed = self.aim(target, op_id)
        if not aimed:
            self.report.problems.pop()  # the window closed before it was seen: the kill lands elsewhere
        self.kill(group)
        self.start_handler()
        if op_id is None:
            self.wait("the restart to register", self.registered, 10)
            op_id = self.client.vmotion()
        self.settle(op_id)

    def aim(self, target: str, op_id: int) -> bool:
        op = str(op_id)
        if target == "after check-for-event (start)":
            return self.wait("the start fetched", lambda: "start" not in self.queued(), 5, AIM)
        if target == "during quiesce":
            ok = self.wait("the quiesce", lambda: self.hooking("quiesce"), 5, AIM)
            time.sleep(self.rng.uniform(0.0, 0.15))
            return ok
        if target == "after quiesce":
            return self.wait("the quiesce done", lambda: [x for x in self.hook_lines("quiesce", op) if x[-1] == "done"], 5, AIM)
        if target == "during ack-event":
            if not self.wait("the quiesce", lambda: self.hooking("quiesce"), 5, AIM):
                return False
            self.slow()
            return self.wait("the ack in flight", lambda: self.calling("ack-event"), 5, AIM)
        if target == "after ack-event":
            return self.wait("the ack", lambda: self.client.operation(op_id)["acked"], 5, AIM)
        if not self.wait("the ack", lambda: self.client.operation(op_id)["acked"], 5, AIM):
            return False
        if target == "during check-for-event (end)":
            self.slow(remaining=1)
            return self.wait("the poll in flight", self.slow_call_arrived, 5, AIM)
        if target == "after check-for-event (end)":
            return self.wait("the end fetched", lambda: self.client.operation(op_id)["ended_at"] is not None
                             and "end" not in self.queued(), 5, AIM)
        if target == "during unquiesce":
            ok = self.wait("the unquiesce", lambda: self.hooking("unquiesce"), 5, AIM)
            time.sleep(self.rng.uniform(0.0, 0.05))
            return ok
        if target == "after unquiesce":
            return self.wait("the unquiesce done",
                             lambda: [x for x in self.hook_lines("unquiesce", op) if x[-1] == "done"], 5, AIM)
        raise AssertionError(target)

    def settle(self, op_id: int) -> None:
        """Let the operation end and the handler catch up, then count what went wrong with it."""
        self.report.operations += 1
        op = str(op_id)

        def caught_up() -> bool:
            state = _read_json(self.state) or {}
            return (self.client.operation(op_id)["ended_at"] is not None and not state.get("operations")
                    and not self._running(self.hook_record()) and "end" not in self.queued())

        self.wait(f"operation {op_id} to end and the handler to catch up", caught_up, HOST_TIMEOUT + 6)
        status = self.client.operation(op_id)
        quiesced = bool(self.hook_lines("quiesce", op))
        if status["forced"]:
            self.report.forced_should_have_acked += 1
            self.report.problems.append(f"cycle {self.cycle_number}: operation {op_id} forced")
            delivered = any(f'"operationId": {op_id}' in str(e.get("stdout")) and '"start"' in str(e.get("stdout"))
                            for e in self.client.journal() if e.get("verb") == "check-for-event")
            if delivered and not quiesced:
                self.report.starts_not_acted_on += 1
        if self.app.read_text().strip() != "running" or (_read_json(self.state) or {}).get("operations"):
            self.report.left_quiesced += 1
            self.report.problems.append(f"cycle {self.cycle_number}: application left quiesced after {op_id}")
        self.check_leaks()

    def check_leaks(self) -> None:
        """A registration the sim holds that no handler's state file holds is leaked."""
        state = _read_json(self.state) or {}
        held = 1 if state.get("token") else 0
        extra = len(self.client.status()["registrations"]) - held
        if extra > 0:
            self.report.leaked_registrations += extra
            self.report.problems.append(f"cycle {self.cycle_number}: {extra} leaked registration(s)")

    def stop_handler(self) -> None:
        """SIGTERM once the handler is up (a SIGTERM before Python set its handlers just ends the process,
        leaving the token in the state file for the next run: nothing is lost, and nothing is tested)."""
        if self.handler is not None and self.handler.poll() is None:
            log = self.tmp / f"handler-{self._starts}.log"
            self.wait("the handler to be up", lambda: any(
                m in log.read_bytes() for m in (b"registered app", b"reusing it", b"keeping it")), 10)
            stop_process(self.handler, timeout=15)
            self.check_leaks()

    def run(self, cycles: List[Cycle]) -> Report:
        self.serve()
        self.start_handler()
        self.wait("the first registration", self.registered, 15)
        for number, target, group in cycles:
            self.cycle_number = number
            self.report.cycles += 1
            self.cycle(target, group)
        self.stop_handler()
        left = len(self.client.status()["registrations"])
        if left:
            self.report.problems.append(f"{left} registration(s) left after the last stop")
            self.report.leaked_registrations += left
        if self.app.read_text().strip() != "running":
            self.report.left_quiesced += 1
        return self.report

    def close(self) -> None:
        if self.handler is not None:
            stop_process(self.handler)
        # A hook of a killed handler that the campaign itself orphaned (nothing should be left).
        for record in (self.hook_record(),):
            if self._running(record):
                assert record is not None
                with contextlib.suppress(OSError):
                    os.killpg(int(record["pid"]), signal.SIGKILL)
        self.vm.close()


def run_campaign(tmp: Path, seed: int = SEED, cycles: int = CYCLES, lanes: int = LANES) -> Report:
    """The seed's schedule dealt out among ``lanes`` (cycle i to lane i mod lanes), the lanes run at once."""
    plan = schedule(seed, cycles)
    lanes = max(1, min(lanes, cycles))
    runners = [Campaign(tmp / f"lane-{lane}", random.Random(f"{seed}/{lane}")) for lane in range(lanes)]
    started = time.monotonic()
    try:
        with ThreadPoolExecutor(lanes) as pool:
            futures = [pool.submit(runner.run, plan[lane::lanes]) for lane, runner in enumerate(runners)]
            reports = [future.result() for future in futures]
    finally:
        for runner in runners:
            runner.close()
    report = Report()
    for lane_report in reports:
        report.add(lane_report)
    report.seconds = time.monotonic() - started
    return report


def test_sigkill_restart_campaign_loses_nothing(tmp_path: Path) -> None:
    report = run_campaign(tmp_path)
    print(report.describe())
    assert report.zeros() == dict.fromkeys(report.zeros(), 0), report.describe()
    assert report.kills >= min(CYCLES, len(DISTINCT))
    during = {w.split(" (")[0] for w in report.landed if w.startswith("during ")}
    # Every call the cycle makes and both hooks were hit while running, not just before or after them.
    assert {"during register", "during check-for-event", "during ack-event", "during quiesce",
            "during unquiesce"} <= during, report.describe()
    assert report.group_kills > 0


if __name__ == "__main__":
    import tempfile

    with tempfile.TemporaryDirectory() as tmp:
        print(run_campaign(Path(tmp)).describe())
