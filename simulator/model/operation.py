"""One vMotion as the hypervisor sees it: held for acks, then migrating, then done."""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from typing import Any, Optional, Set


class Phase(str, enum.Enum):
    WAITING_ACK = "waiting-ack"
    MIGRATING = "migrating"
    DONE = "done"


@dataclass
class Operation:
    operation_id: int
    requested_at: float
    outcome: str  # "success" or "failure"
    migration_seconds: float
    notified: bool  # False when the feature was not effective: the migration ran un-notified
    notification_timeout: int
    dest_notification_timeout: int
    deadline: float
    sent_to: Set[str] = field(default_factory=set)  # tokens whose queue got the start event
    awaiting: Set[str] = field(default_factory=set)  # tokens that still owe an ack
    acked_by: Set[str] = field(default_factory=set)
    phase: Phase = Phase.WAITING_ACK
    forced: bool = False
    migration_started_at: Optional[float] = None
    ended_at: Optional[float] = None

    @property
    def acked(self) -> bool:
        return bool(self.acked_by) and not self.forced

    def as_status(self) -> dict[str, Any]:
        return {
            "operation_id": self.operation_id,
            "phase": self.phase.value,
            "outcome": self.outcome,
            "notified": self.notified,
            "acked": self.acked,
            "forced": self.forced,
            "acks": len(self.acked_by),
            "awaiting_acks": len(self.awaiting),
            "notification_timeout": self.notification_timeout,
            "requested_at": self.requested_at,
            "deadline": self.deadline,
            "migration_started_at": self.migration_started_at,
            "ended_at": self.ended_at,
        }
