"""The handler's end-to-end rig: ``vmotion-handler`` as a process, through the harness and the fake vmtoolsd, with a
shell hook that records each run. The ``rig`` fixture (conftest) gives each test its own.

The simulated VM is served from the test's own process on the real clock: the handler is what these tests are
about, and a ``vmotion-sim serve`` started for each was a second interpreter for nothing (that command as a
process has its own tests: tests/simulator/test_fake_vmtoolsd.py, the README's)."""

from __future__ import annotations

import shlex
from pathlib import Path
from typing import Callable, List, Mapping, Optional

from simulator.harness.journal import Journal
from simulator.harness.launcher import HandlerLauncher, HandlerProcess
from simulator.harness.vm import SimulatedVM
from simulator.harness.wait import wait_until
from simulator.transport.client import SimulatorClient

HOOK = """#!/bin/sh
# Records each run (hook, operation, reason, status, pid) and sleeps as long as the test asks.
echo "$VMOTION_HOOK $VMOTION_OPERATION_ID ${VMOTION_REASON:-} ${VMOTION_OP_STATUS:-} $$ start" >> "$HOOK_LOG"
if [ "$VMOTION_HOOK" = quiesce ]; then sleep "${QUIESCE_SECONDS:-0.2}"; fi
echo "$VMOTION_HOOK $VMOTION_OPERATION_ID ${VMOTION_REASON:-} ${VMOTION_OP_STATUS:-} $$ done" >> "$HOOK_LOG"
"""


def wait_for(what: str, condition: Callable[[], object], timeout: float = 30.0) -> None:
    # Every 50 ms: a look is often the whole journal over the socket, and the narrowest window aimed at is 0.5 s.
    # The timeout only bounds a failure: a restart, its hooks and its calls are a dozen process starts, which on
    # 2 cores under a load of 12 took more than 10 s once.
    assert wait_until(condition, timeout, interval=0.05), f"timed out waiting for {what}"


class Rig:
    """A simulated VM served in-process and ``vmotion-handler`` as a process, through the harness (the one launcher)."""

    def __init__(self, tmp: Path) -> None:
        self.tmp = tmp
        self.bin = tmp / "bin"
        self.hook = tmp / "hook.sh"
        self.hook_log = tmp / "hooks.log"
        self.state = tmp / "state" / "state.json"
        self.metrics = tmp / "metrics.prom"
        self.client = SimulatorClient(tmp / "sim.sock", timeout=5)
        self.vm: Optional[SimulatedVM] = None
        self.launcher: Optional[HandlerLauncher] = None

    def serve(self, host_timeout: int, migration_seconds: float) -> None:
        self.vm = SimulatedVM.in_process(self.tmp, host_timeout=host_timeout,
                                         migration_seconds=migration_seconds).start()
        self.hook.write_text(HOOK)
        self.hook.chmod(0o755)
        command = shlex.join([
            "{handler}", "--name", "e2e", "--vmtoolsd", "{vmtoolsd}", "--interval", "0.2",
            "--quiesce", str(self.hook), "--unquiesce", str(self.hook), "--state-file", "{state_file}",
            "--metrics-file", str(self.metrics), "--safety-margin", "1", "--kill-grace", "0.5", "--log-format", "json",
        ])
        self.launcher = HandlerLauncher(command, self.vm, name="e2e")

    def handler(self, quiesce_seconds: float = 0.2, *extra: str, vmtoolsd: Optional[Path] = None) -> HandlerProcess:
        """The handler process; ``vmtoolsd``: another program in place of the fake (a later option wins)."""
        assert self.launcher is not None, "serve first"
        instead = ["--vmtoolsd", str(vmtoolsd)] if vmtoolsd is not None else []
        env = {"HOOK_LOG": str(self.hook_log), "QUIESCE_SECONDS": str(quiesce_seconds)}
        return self.launcher(*extra, *instead, env=env)

    def hook_lines(self) -> List[List[str]]:
        if not self.hook_log.exists():
            return []
        return [line.split() for line in self.hook_log.read_text().splitlines()]

    def registrations(self) -> int:
        return len(self.client.status()["registrations"])

    def rpcs(self, verb: str) -> List[Mapping[str, object]]:
        return list(Journal(self.client.journal()).rpcs(verb))

    def stop_all(self) -> None:
        if self.launcher is not None:
            self.launcher.close()
        if self.vm is not None:
            self.vm.close()
