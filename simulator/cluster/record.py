"""What happened to one VM during an evacuation, as times in seconds since maintenance began."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Dict, List, Optional, Tuple

PHASES = ("polling", "quiescing", "waiting_for_ack_or_timeout", "waiting_for_slot", "migrating")


def _t(value: Optional[float]) -> Optional[float]:
    return None if value is None else round(value, 6)


@dataclass
class VmRecord:
    index: int
    name: str
    timeout: int  # effective notification timeout; 0: not notified (the feature is off for this VM)
    quiesce_seconds: float  # drawn: how long its application's quiesce takes
    migration_seconds: float  # drawn: how long its vMotion moves data
    slot: Optional[int] = None
    admitted: Optional[float] = None  # took a slot
    notified: Optional[float] = None  # its start event was queued (the migration task began)
    deadline: Optional[float] = None  # the hypervisor forces the migration at this time
    quiesce: Optional[Tuple[float, float]] = None
    quiesce_cut: bool = False  # the handler killed the quiesce at its deadline
    released: Optional[float] = None  # the hold ended: ack, or timeout
    acked: bool = False
    forced: bool = False
    migration: Optional[Tuple[float, float]] = None  # moving its memory: from its slot's start to the end
    unquiesced: Optional[float] = None
    after: Optional[int] = None  # the VM whose migration freed the slot this one's migration waited for
    extra: Dict[str, Any] = field(default_factory=dict)

    @property
    def ended(self) -> float:
        assert self.migration is not None, f"{self.name} never migrated"
        return self.migration[1]

    @property
    def margin(self) -> Optional[float]:
        """Seconds between the hold's release and the hypervisor's deadline: 0 when forced, None if not notified."""
        if self.timeout <= 0 or self.deadline is None or self.released is None:
            return None
        return 0.0 if self.forced else self.deadline - self.released

    def phases(self) -> List[Tuple[str, float, float]]:
        """(phase, from, to) spans, in order, each of positive length."""
        spans: List[Tuple[str, float, float]] = []
        assert self.released is not None and self.migration is not None
        if self.notified is not None and self.quiesce is not None:
            spans.append(("polling", self.notified, self.quiesce[0]))
            spans.append(("quiescing", self.quiesce[0], min(self.quiesce[1], self.released)))
            spans.append(("waiting_for_ack_or_timeout", self.quiesce[1], self.released))
        elif self.notified is not None:
            spans.append(("waiting_for_ack_or_timeout", self.notified, self.released))
        spans.append(("waiting_for_slot", self.released, self.migration[0]))
        spans.append(("migrating", self.migration[0], self.migration[1]))
        return [(name, a, b) for name, a, b in spans if b > a]

    def as_json(self) -> Dict[str, Any]:
        return {
            "vm": self.name,
            "timeout": self.timeout,
            "quiesce_seconds": _t(self.quiesce_seconds),
            "migration_seconds": _t(self.migration_seconds),
            "slot": None if self.slot is None else self.slot + 1,
            "admitted": _t(self.admitted),
            "notified": _t(self.notified),
            "deadline": _t(self.deadline),
            "quiesce": None if self.quiesce is None else [_t(self.quiesce[0]), _t(self.quiesce[1])],
            "quiesce_cut": self.quiesce_cut,
            "released": _t(self.released),
            "acked": self.acked,
            "forced": self.forced,
            "margin": _t(self.margin),
            "migration": None if self.migration is None else [_t(self.migration[0]), _t(self.migration[1])],
            "unquiesced": _t(self.unquiesced),
            **self.extra,
        }
