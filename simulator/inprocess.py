"""The in-process transport: one simulated VM with its clock, faults and journal, thread-safe.

``Simulator.call`` is what a handler's transport calls instead of running vmtoolsd. The control methods
(``vmotion``, ``set``, ``advance``, ...) stand in for vCenter and for the person running the test.
"""

from __future__ import annotations

import threading
from typing import Any, Dict, List, Optional

from simulator import wire
from simulator.clock import Clock, ManualClock, SystemClock
from simulator.faults import Faults, distort, short_circuit
from simulator.journal_entry import Entry, JournalEntry
from simulator.model import Refused, VirtualMachine, VmConfig
from simulator.model.config import MAX_SECONDS, is_duration
from simulator.model.ids import IdSource
from simulator.model.knobs import Knobs
from simulator.readside import ConfigStatus, OperationStatus, RegistrationStatus, Status
from simulator.redaction import TokenRedactor
from simulator.rpc import RpcResult, handle_rpc

_UNSET: Any = object()
# Every journal entry's own fields: what a probe reports goes beside them, never over them.
_ENTRY_FIELDS = frozenset({"seq", "time", "kind", "name", "phase", "env"})


class SimulatorError(Exception):
    """A control request that cannot be carried out (the message says why)."""


class Simulator:
    def __init__(
        self,
        clock: Optional[Clock] = None,
        *,
        host_timeout: int = 120,
        vm_timeout: Optional[int] = None,
        dest_host_timeout: Optional[int] = None,
        enabled: bool = True,
        migration_seconds: float = 15.0,
        knobs: Optional[Knobs] = None,
        seed: Optional[int] = None,
    ) -> None:
        self.clock: Clock = clock if clock is not None else SystemClock()
        self._initial = dict(
            host_timeout=host_timeout, vm_timeout=vm_timeout, dest_host_timeout=dest_host_timeout, enabled=enabled
        )
        self.migration_seconds = migration_seconds
        self._seed = seed
        self._knobs = knobs or Knobs()
        self._lock = threading.RLock()
        self._build()

    def _build(self) -> None:
        config = VmConfig(**self._initial)  # type: ignore[arg-type]
        if config.vm_timeout is not None and config.vm_timeout < 0:
            config.vm_timeout = None
        self.vm = VirtualMachine(config, self._knobs, IdSource(self._seed))
        self.faults = Faults()
        self._journal: List[Entry] = []
        self._seq = 0
        self._redactor = TokenRedactor()

    # ------------------------------------------------------------------ the guest side
    def call(self, command: str, via: str = "") -> RpcResult:
        """Run one guest RPC, as ``vmtoolsd --cmd COMMAND`` would: its stdout, stderr and exit status.

        ``via`` says how the fake vmtoolsd got the command (``argv``: on its command line, where any local user
        can read it; ``file``: ``--cmdfile``); the journal keeps it, and whether a token was on the command
        line (``token_in_argv``), since the token itself is redacted there."""
        with self._lock:
            faults = self.faults
            if faults.active:
                self.faults = faults.spent_one()
            else:
                faults = Faults()
        if faults.latency > 0:
            self.clock.sleep(faults.latency)  # outside the lock: a slow channel must not stall the control side
        with self._lock:
            now = self.clock.now()
            result = short_circuit(faults)
            if result is None:
                result = distort(faults, handle_rpc(self.vm, now, command))
            self._absorb_notes()
            self._record(
                now,
                "rpc",
                verb=wire.verb_of(command),
                request=command,
                stdout=result.stdout,
                stderr=result.stderr,
                exit_code=result.exit_code,
                **({"via": via, "token_in_argv": via == "argv" and "uniqueToken" in command} if via else {}),
            )
            return result

    # ------------------------------------------------------------------ vCenter's side and the tester's
    def vmotion(self, outcome: str = "success", migration_seconds: Optional[float] = None) -> int:
        """Request a migration; returns its operationId. Its start is queued to every registered app."""
        seconds = self.migration_seconds if migration_seconds is None else migration_seconds
        with self._lock:
            try:
                op = self.vm.request_vmotion(self.clock.now(), outcome, seconds)
            except Refused as refused:
                raise SimulatorError(str(refused)) from None
            finally:
                self._absorb_notes()
            return op.operation_id

    def set(
        self,
        *,
        host_timeout: Any = _UNSET,
        vm_timeout: Any = _UNSET,
        dest_host_timeout: Any = _UNSET,
        enabled: Any = _UNSET,
    ) -> None:
        """Change the settings; ``vm_timeout=None`` (or -1) unsets the VM value."""
        changes = {
            k: v
            for k, v in dict(
                host_timeout=host_timeout, vm_timeout=vm_timeout, dest_host_timeout=dest_host_timeout, enabled=enabled
            ).items()
            if v is not _UNSET
        }
        with self._lock:
            try:
                self.vm.configure(self.clock.now(), **changes)
            except Refused as refused:
                raise SimulatorError(str(refused)) from None
            finally:
                self._absorb_notes()

    def knobs(self, **changes: Any) -> Knobs:
        with self._lock:
            try:
                self._knobs = self._knobs.replace(**changes)
            except (TypeError, ValueError) as bad:
                raise SimulatorError(str(bad)) from None
            self.vm.knobs = self._knobs
            return self._knobs

    def fault(self, **faults: Any) -> Faults:
        """Switch faults on (see ``Faults``); with no arguments, switch them all off."""
        with self._lock:
            try:
                self.faults = Faults(**faults)
            except (TypeError, ValueError) as bad:
                raise SimulatorError(str(bad)) from None
            self._record(self.clock.now(), "control", what="faults", **self.faults.as_dict())
            return self.faults

    def reboot(self) -> None:
        with self._lock:
            self.vm.reboot(self.clock.now())
            self._absorb_notes()

    def advance(self, seconds: float) -> float:
        """Move a manual clock forward; the deadlines that passed take effect at their own times."""
        if not isinstance(self.clock, ManualClock):
            raise SimulatorError("advance needs the manual clock (serve --clock manual)")
        if not is_duration(seconds):
            raise SimulatorError(f"seconds must be a number from 0 to {MAX_SECONDS}")
        now = self.clock.advance(seconds)
        self.settle()
        return now

    def settle(self) -> None:
        with self._lock:
            self.vm.settle(self.clock.now())
            self._absorb_notes()

    def reset(self) -> None:
        """Back to the state right after start-up: no registrations, operations, faults or journal."""
        with self._lock:
            self._build()

    def record_probe(self, name: str, phase: str, env: Optional[Dict[str, str]] = None, **details: Any) -> None:
        """A hook probe reports that it ran (used by the conformance features)."""
        if not isinstance(name, str) or not isinstance(phase, str):
            raise SimulatorError("a probe's name and phase are strings")
        if not isinstance(env or {}, dict) or not all(
            isinstance(k, str) and isinstance(v, str) for k, v in (env or {}).items()
        ):
            raise SimulatorError("a probe's env maps names to strings")
        reserved = sorted(set(details) & _ENTRY_FIELDS)
        if reserved:
            raise SimulatorError(f"a probe cannot set the journal entry's own field {reserved[0]!r}")
        with self._lock:
            self._record(self.clock.now(), "probe", name=name, phase=phase, env=dict(env or {}), **details)

    # ------------------------------------------------------------------ what a test reads
    def now(self) -> float:
        return self.clock.now()

    def status(self) -> Status:
        with self._lock:
            now = self.vm.settle(self.clock.now())
            self._absorb_notes()
            config = self.vm.config
            return Status(
                time=now,
                config=ConfigStatus(
                    enabled=config.enabled,
                    host_timeout=config.host_timeout,
                    vm_timeout=config.vm_timeout,
                    dest_host_timeout=config.dest_host_timeout,
                ),
                effective_timeout=config.effective_timeout,
                dest_effective_timeout=config.dest_effective_timeout,
                registrations=[RegistrationStatus.from_dict(r.as_status()) for r in self.vm.registrations],
                operations=[OperationStatus.from_dict(op.as_status()) for op in self.vm.operations],
                faults=self.faults,
                knobs=self._knobs,
            )

    def journal(self) -> List[Entry]:
        """Every guest RPC (and what happened inside the model), in time order."""
        with self._lock:
            self.vm.settle(self.clock.now())
            self._absorb_notes()
            return sorted(self._journal, key=lambda e: (e.time, e.seq))

    def operation(self, operation_id: int) -> OperationStatus:
        found = self.status().operation(operation_id)
        if found is None:
            raise SimulatorError(f"no operation {operation_id}")
        return found

    # ------------------------------------------------------------------ internals
    def _record(self, when: float, kind: str, **fields: Any) -> None:
        # Redacted here, as it is written: every way out of the journal (journal(), the socket, the CLI, a
        # timeline) then shows placeholders, never a token.
        self._seq += 1
        self._journal.append(JournalEntry.from_dict({**self._redactor.value(fields), "seq": self._seq, "time": when,
                                                     "kind": kind}))

    def _absorb_notes(self) -> None:
        for note in self.vm.drain_notes():
            self._seq += 1
            self._journal.append(JournalEntry.from_dict({**self._redactor.value(note), "seq": self._seq}))
