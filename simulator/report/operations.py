"""What happened to each operation, read off a journal: when it was asked for, fetched, quiesced, acked or
forced, migrated and ended, and how much of the hypervisor's deadline was left when the ack landed.

A journal is the list of entries ``Simulator.journal()`` returns (or ``vmotion-sim journal --json`` prints, read
back with ``JournalEntry.from_dict``): model notes, guest RPCs and hook probes.
Everything here is a pure function of that list, so the same spans drive the JUnit output, the HTML page and
the baseline gate, for a live run or a journal saved long ago.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any, Dict, Iterable, List, Optional

from simulator.harness.journal import reply_of
from simulator.journal_entry import Entry, ModelEntry, ProbeEntry, RpcEntry
from simulator.model.journal_events import JournalEvent

HOOK_BEGIN = ("started", "begin")
HOOK_END = ("finished", "end", "terminated")


@dataclass
class HookSpan:
    """One run of a hook as its probe saw it (``end`` is None while it still runs)."""

    name: str
    begin: float
    end: Optional[float] = None
    outcome: str = ""  # finished, terminated, end


@dataclass
class OperationSpans:
    """The life of one operation, in the journal's clock (seconds)."""

    operation_id: int
    requested_at: float
    timeout: Optional[float]
    deadline: Optional[float]
    notified: bool = True
    start_fetched_at: Optional[float] = None
    acked_at: Optional[float] = None
    forced_at: Optional[float] = None
    migration_started_at: Optional[float] = None
    migration_ended_at: Optional[float] = None
    op_status: str = ""
    end_fetched_at: Optional[float] = None
    hooks: List[HookSpan] = field(default_factory=list)

    @property
    def forced(self) -> bool:
        return self.forced_at is not None

    @property
    def margin_s(self) -> Optional[float]:
        """Seconds left before the hypervisor's deadline when the (last) ack landed; None if never acked."""
        if self.acked_at is None or self.deadline is None:
            return None
        return self.deadline - self.acked_at

    def hook(self, name: str) -> Optional[HookSpan]:
        return next((h for h in self.hooks if h.name == name), None)

    def timings(self) -> Dict[str, float]:
        """The durations a regression gate compares (seconds), only those this operation has."""
        out: Dict[str, float] = {}
        if self.start_fetched_at is not None and self.acked_at is not None:
            out["start_to_ack_s"] = self.acked_at - self.start_fetched_at
        quiesce = self.hook("quiesce")
        if quiesce is not None and quiesce.end is not None:
            out["quiesce_s"] = quiesce.end - quiesce.begin
        unquiesce = self.hook("unquiesce")
        if self.end_fetched_at is not None and unquiesce is not None and unquiesce.end is not None:
            out["end_to_unquiesce_s"] = unquiesce.end - self.end_fetched_at
        if self.margin_s is not None:
            out["margin_s"] = self.margin_s
        return {k: round(v, 3) for k, v in out.items()}

    def as_dict(self) -> Dict[str, Any]:
        out = asdict(self)
        out["forced"] = self.forced
        out["margin_s"] = None if self.margin_s is None else round(self.margin_s, 3)
        return out


def _as_int(value: Any) -> Optional[int]:
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, str) and value.isdigit():
        return int(value)
    return None


def operation_spans(journal: Iterable[Entry]) -> List[OperationSpans]:
    """One :class:`OperationSpans` per operation the journal saw requested, in request order.

    Hook runs are given to the operation running when they began: a quiesce to the operation whose start
    was fetched last, an unquiesce to the operation whose end was fetched last (or, failing that, the last
    one quiesced for).
    """
    ops: Dict[int, OperationSpans] = {}
    order: List[int] = []
    current: Optional[OperationSpans] = None  # the operation the last fetched event belongs to
    open_hooks: Dict[str, HookSpan] = {}
    for e in sorted(journal, key=lambda e: (e.time, e.seq)):
        when = float(e.time)
        if isinstance(e, ModelEntry):
            what, details = e.what, e.details
            op_id = _as_int(details.get("operation_id"))
            op = ops.get(op_id) if op_id is not None else None
            if what == JournalEvent.VMOTION_REQUESTED and op_id is not None:
                timeout = details.get("timeout")
                deadline = when + float(timeout) if isinstance(timeout, (int, float)) else None
                ops[op_id] = OperationSpans(op_id, when, timeout, deadline,
                                            notified=bool(details.get("notified", True)))
                order.append(op_id)
            elif op is None:
                continue
            elif what == JournalEvent.DEADLINE_MOVED and isinstance(details.get("deadline"), (int, float)):
                op.deadline = float(details["deadline"])
            elif what == JournalEvent.ACKED:
                op.acked_at = when
            elif what == JournalEvent.FORCED:
                op.forced_at = when
            elif what == JournalEvent.MIGRATION_STARTED:
                op.migration_started_at = when
            elif what == JournalEvent.MIGRATION_ENDED:
                op.migration_ended_at = when
                op.op_status = str(details.get("op_status", ""))
        elif isinstance(e, RpcEntry) and e.verb == "check-for-event":
            reply = reply_of(e) or {}
            fetched = ops.get(_as_int(reply.get("operationId")) or -1)
            if fetched is None:
                continue
            if reply.get("eventType") == "start" and fetched.start_fetched_at is None:
                fetched.start_fetched_at = when
                current = fetched
            elif reply.get("eventType") == "end" and fetched.end_fetched_at is None:
                fetched.end_fetched_at = when
                current = fetched
        elif isinstance(e, ProbeEntry):
            if e.phase in HOOK_BEGIN and current is not None:
                span = HookSpan(e.name, when)
                current.hooks.append(span)
                open_hooks[e.name] = span
            elif e.phase in HOOK_END and e.name in open_hooks:
                span = open_hooks.pop(e.name)
                span.end, span.outcome = when, e.phase
    return [ops[i] for i in order]


def journal_origin(journal: Iterable[Entry]) -> float:
    times = [float(e.time) for e in journal]
    return min(times) if times else 0.0
