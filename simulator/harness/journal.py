"""The simulator's journal as a query object: what the guest sent, what the hypervisor did, what the hooks did.

``Journal(sim.journal())`` is a snapshot; each filter returns a narrower ``Journal``, so questions read as one
line: ``journal.probes("quiesce", "started").first()``, ``journal.notes("acked", operation_id=op).first()``,
``journal.rpcs("register").since(t)``. The filters by kind narrow the type too: ``rpcs()`` holds
:class:`RpcEntry`, so ``journal.rpcs().first().stdout`` is a ``str`` to mypy.
"""

from __future__ import annotations

from typing import Any, Callable, Dict, Generic, Iterable, Iterator, List, Optional, Tuple, TypeVar, Union

from simulator.journal_entry import Entry, ModelEntry, ProbeEntry, RpcEntry
from simulator.model.journal_events import JournalEvent
from simulator.readside import OperationStatus
from simulator.untrusted_json import json_value

E = TypeVar("E", RpcEntry, ModelEntry, ProbeEntry, Entry)
NO_EVENT = ("nothing", "refused", "unreadable")  # check-for-event replies that carry no event


def reply_of(entry: RpcEntry) -> Optional[Dict[str, Any]]:
    """An RPC's reply as a JSON object, or None when it is not one (a fault, a garbled or refused channel)."""
    try:
        reply = json_value(entry.stdout or "")
    except ValueError:
        return None
    return reply if isinstance(reply, dict) else None


def event_type(entry: RpcEntry) -> str:
    """What a check-for-event call returned: an eventType, ``nothing``, ``refused`` or ``unreadable``."""
    reply = reply_of(entry)
    if reply is None:
        return "unreadable"
    if reply.get("result") is not True:
        return "refused"
    return str(reply.get("eventType", "nothing"))


class Journal(Generic[E]):
    def __init__(self, entries: Iterable[E]) -> None:
        self.entries: List[E] = list(entries)

    def __iter__(self) -> Iterator[E]:
        return iter(self.entries)

    def __len__(self) -> int:
        return len(self.entries)

    def __bool__(self) -> bool:
        return bool(self.entries)

    def __getitem__(self, index: int) -> E:
        return self.entries[index]

    def where(self, keep: Callable[[E], bool]) -> Journal[E]:
        return Journal(e for e in self.entries if keep(e))

    # ------------------------------------------------------------------ by kind
    def rpcs(self, verb: Optional[str] = None) -> Journal[RpcEntry]:
        """Guest RPCs, of one verb (``register``, ``check-for-event``, ...) or all."""
        return Journal(e for e in self.entries if isinstance(e, RpcEntry) and verb in (None, e.verb))

    def probes(self, name: Optional[str] = None, phase: Optional[str] = None) -> Journal[ProbeEntry]:
        """Hook probe records: ``started``, ``finished`` (with ``exit_code``), ``terminated``."""
        return Journal(
            e for e in self.entries
            if isinstance(e, ProbeEntry) and name in (None, e.name) and phase in (None, e.phase)
        )

    def probe_ends(self, name: str) -> Journal[ProbeEntry]:
        """The runs of hook ``name`` that ended, by themselves or stopped by a signal."""
        return self.probes(name).where(lambda e: e.phase in ("finished", "terminated"))

    def notes(self, what: Optional[Union[JournalEvent, str]] = None, **match: Any) -> Journal[ModelEntry]:
        """What the hypervisor did (``registered``, ``delivered``, ``acked``, ``forced``, ...), matching fields."""
        return Journal(
            e for e in self.entries
            if isinstance(e, ModelEntry)
            and what in (None, e.what)
            and all(e.details.get(key) == value for key, value in match.items())
        )

    # ------------------------------------------------------------------ by time
    def since(self, start: float) -> Journal[E]:
        return self.where(lambda e: e.time >= start)

    def between(self, start: float, end: float) -> Journal[E]:
        return self.where(lambda e: start <= e.time <= end)

    def first(self) -> Optional[E]:
        return self.entries[0] if self.entries else None

    def last(self) -> Optional[E]:
        return self.entries[-1] if self.entries else None

    # ------------------------------------------------------------------ what RPCs said
    def succeeded(self) -> Journal[RpcEntry]:
        """RPCs that went through (exit 0) and were not refused (``"result": true``)."""
        return self.rpcs().where(lambda e: e.exit_code == 0 and (reply_of(e) or {}).get("result") is True)

    def event_types(self) -> List[str]:
        """What each check-for-event call returned, in order."""
        return [event_type(e) for e in self.rpcs("check-for-event")]

    def fetched(self) -> List[str]:
        """The events a handler fetched, one per call, in order."""
        return [t for t in self.rpcs("check-for-event").succeeded().event_types() if t not in NO_EVENT]

    def tokens(self) -> List[str]:
        """The registration tokens the hypervisor handed out (to check that a log does not show them)."""
        replies = (reply_of(e) or {} for e in self.rpcs("register"))
        return [str(r["uniqueToken"]) for r in replies if r.get("uniqueToken")]

    def polling_since(self, since: float) -> bool:
        """Since ``since``, a handler registered and then polled, or polled twice (reusing a saved token).

        A poll after the registration says the handler reached its loop (and has saved its token, which it
        cannot do before the register reply). One poll alone is not enough: a handler killed by SIGKILL can
        leave a vmtoolsd call in flight.
        """
        registered, polls = False, 0
        for entry in self.since(since).rpcs().succeeded():
            if entry.verb == "register":
                registered = True
            elif entry.verb == "check-for-event":
                polls += 1
                if registered or polls >= 2:
                    return True
        return False

    def timeline(self, origin: float) -> List[Tuple[float, str]]:
        """The journal in the scenarios' words, each line with its second after ``origin``."""
        out: List[Tuple[float, str]] = []
        for entry in self.entries:
            text = describe(entry)
            if text:
                out.append((round(float(entry.time) - origin, 3), text))
        return out


    # ------------------------------------------------------------------ verdicts (None: as it should be)
    def out_of_order(self, expected: List[Tuple[float, str]], origin: float) -> Optional[str]:
        """Whether each (second, line) of ``expected`` happened, in this order (other things may come between)."""
        seen = self.timeline(origin)
        position = 0
        for second, what in expected:
            while position < len(seen) and seen[position] != (second, what):
                position += 1
            if position == len(seen):
                shown = "\n".join(f"  {s:>8g}  {w}" for s, w in seen)
                return f"expected '{what}' at second {second:g} (in this order); the timeline was:\n{shown}"
            position += 1
        return None

    def quiesced_once_after_start(self, operation_id: Optional[int]) -> Optional[str]:
        """The quiesce ran once for the operation, after its start event was fetched."""
        runs = self.probes("quiesce", "started")
        if not runs:
            return "the handler never ran its quiesce command"
        if len(runs) > 1:
            return f"the handler ran its quiesce command {len(runs)} times for one vMotion"
        delivered = self.notes(JournalEvent.DELIVERED, event="start", operation_id=operation_id).first()
        if delivered is None or delivered.time > runs[0].time:
            return "the quiesce command ran before the start event was fetched"
        return None

    def acked_after_quiesce(self, operation: OperationStatus) -> Optional[str]:
        """The operation was acked before its deadline, and only once the quiesce command had finished."""
        op_id = operation.operation_id
        acked = self.notes(JournalEvent.ACKED, operation_id=op_id).first()
        if acked is None:
            why = "it acked after the timeout" if self.notes(JournalEvent.LATE_ACK, operation_id=op_id) else \
                "it never acked"
            return (f"the handler did not ack operation {op_id} in time ({why}); the migration was forced at the "
                    f"{operation.notification_timeout} s timeout")
        if operation.deadline is not None and acked.time > operation.deadline:
            return f"the ack came {acked.time - operation.deadline:.1f} s after the timeout"
        started = self.probes("quiesce", "started").first()
        ended = self.probe_ends("quiesce").first()
        if started is None:
            return "the handler acked without running its quiesce command"
        if started.time > acked.time:
            return "the handler acked before it even started its quiesce command"
        if ended is None or ended.time > acked.time:
            return (f"the handler acked {acked.time - started.time:.2f} s after starting its quiesce command, "
                    "before that command had finished")
        return None

    def ack_timings(self, operation: OperationStatus) -> Dict[str, float]:
        """Start to ack, the quiesce's length, and the ack's delay after it (for an operation acked in time)."""
        acked = self.notes(JournalEvent.ACKED, operation_id=operation.operation_id).first()
        started, ended = self.probes("quiesce", "started").first(), self.probe_ends("quiesce").first()
        if acked is None or started is None or ended is None:
            return {}
        return {
            "start_to_ack_s": acked.time - operation.requested_at,
            "quiesce_s": ended.time - started.time,
            "ack_after_quiesce_s": acked.time - ended.time,
        }

    def refused_registration_since(self, since: float) -> Optional[str]:
        """The reply to a registration refused since ``since``, if any."""
        for entry in self.rpcs("register").since(since):
            if '"result": false' in (entry.stdout + entry.stderr):
                return (entry.stdout or entry.stderr).strip()
        return None


_SIMPLE = {
    JournalEvent.VMOTION_REQUESTED: "vMotion requested",
    JournalEvent.ACKED: "ack received",
    JournalEvent.ACKED_TIMEOUT_CHANGE: "timeout-change acked",
    JournalEvent.FORCED: "migration forced at the timeout",
    JournalEvent.MIGRATION_STARTED: "migration started",
    JournalEvent.REBOOTED: "VM rebooted",
}


def describe(e: Entry) -> Optional[str]:
    """One journal entry as a line of a scenario's ``the timeline was`` table (None: not told there)."""
    if isinstance(e, ProbeEntry):
        phase = e.phase
        if phase == "finished" and e.exit_code:
            phase = f"failed with exit status {e.exit_code}"
        elif phase == "terminated":
            phase = "stopped"
        return f"{e.name} {phase}"
    if not isinstance(e, ModelEntry):
        return None
    what = e.what
    if what in _SIMPLE:
        return _SIMPLE[what]
    if what in (JournalEvent.REGISTERED, JournalEvent.UNREGISTERED):
        return f'app "{e.app}" {what.value}'
    if what == JournalEvent.DELIVERED:
        return f"{e.details['event']} delivered"
    if what == JournalEvent.MIGRATION_ENDED:
        return f"migration ended: {e.details['op_status']}"
    return None
