"""What every simulator offers, in process or over its socket: one protocol, one name per action.

``Simulator`` (in process) and ``SimulatorClient`` (over the control socket) both satisfy :class:`SimulatorAPI`;
mypy checks it (``tests/simulator/test_api.py`` drives both through one function typed to take it). Each action
has one name everywhere: the ``vmotion-sim`` command, the socket's ``op`` and the method are the same word
(``call``, ``vmotion``, ``set``, ``knobs``, ``fault``, ``advance``, ``reboot``, ``reset``, ``status``, ``journal``).
"""

from __future__ import annotations

from typing import Any, Dict, List, Optional, Protocol

from simulator.faults import Faults
from simulator.journal_entry import Entry
from simulator.model.knobs import Knobs
from simulator.readside import OperationStatus, Status
from simulator.rpc import RpcResult


class SimulatorAPI(Protocol):
    def call(self, command: str) -> RpcResult:
        """One guest RPC, as ``vmtoolsd --cmd COMMAND`` would send it."""

    def vmotion(self, outcome: str = "success", migration_seconds: Optional[float] = None) -> int:
        """Request a migration; its operationId."""

    def set(self, *, host_timeout: Any = ..., vm_timeout: Any = ..., dest_host_timeout: Any = ...,
            enabled: Any = ...) -> None:
        """Change the settings as vCenter would."""

    def knobs(self, **changes: Any) -> Knobs:
        """Change knobs (none: just read them); the knobs now in force."""

    def fault(self, **faults: Any) -> Faults:
        """Break the guest channel (no arguments: mend it); the faults now in force."""

    def advance(self, seconds: float) -> float:
        """Move a manual clock forward; the new time."""

    def reboot(self) -> None:
        """A VM reboot: every registration and queue is dropped."""

    def reset(self) -> None:
        """Back to the start."""

    def record_probe(self, name: str, phase: str, env: Optional[Dict[str, str]] = None, **details: Any) -> None:
        """A hook probe reports into the journal."""

    def now(self) -> float:
        """The simulator's clock."""

    def status(self) -> Status:
        """Settings, registrations (never tokens), operations, faults and knobs."""

    def journal(self) -> List[Entry]:
        """Every guest RPC and what the hypervisor did, in time order (``as_dict()``: each one's JSON form)."""

    def operation(self, operation_id: int) -> OperationStatus:
        """One operation's status."""
