"""Name the guest's mistake when the journal shows it, so a failed check says "it acked an operation the VM
never sent" instead of "it never acked".

Each finding is one sentence about something the handler did over the wire, read off the journal alone.
"""

from __future__ import annotations

from typing import Any, Dict, Iterable, List, Optional, Set

from simulator.harness.journal import reply_of
from simulator.journal_entry import Entry, ModelEntry, RpcEntry
from simulator.model.journal_events import JournalEvent
from simulator.report.operations import operation_spans
from simulator.timeline import redact
from simulator.untrusted_json import json_value


def _body(entry: RpcEntry) -> Dict[str, Any]:
    _, _, text = entry.request.partition(" ")
    try:
        obj = json_value(text)
    except ValueError:
        return {}
    return obj if isinstance(obj, dict) else {}


def _refused(entry: RpcEntry) -> bool:
    return bool(entry.exit_code) or (reply_of(entry) or {}).get("result") is False


def _raw_id(value: Any) -> Optional[int]:
    """The id as the guest wrote it; a float (or a string of one) is kept as the integer it rounds to."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, str):
        try:
            return int(value) if value.isdigit() else int(float(value))
        except (ValueError, OverflowError):
            return None
    return None


def _short(op_id: int) -> str:
    text = str(op_id)
    return "…" + text[-6:] if len(text) > 8 else text


def guest_mistakes(journal: Iterable[Entry]) -> List[str]:
    entries = sorted(journal, key=lambda e: (e.time, e.seq))
    spans = {op.operation_id: op for op in operation_spans(entries)}
    sent: Set[int] = set()
    timeout_change_ids: Set[int] = set()
    tokens: List[str] = []  # tokens handed out, oldest first
    registered: Optional[str] = None  # the token of the live registration
    found: List[str] = []

    def note(text: str) -> None:
        if text not in found:
            found.append(text)

    for e in entries:
        if isinstance(e, ModelEntry) and e.what == JournalEvent.REBOOTED:
            registered = None
            continue
        if not isinstance(e, RpcEntry):
            continue
        verb, body, reply = e.verb, _body(e), reply_of(e) or {}
        when = float(e.time)
        if verb == "register":
            if registered is not None and not _refused(e):
                note("it registered again while its registration was still live, without unregistering first")
            elif registered is not None:
                note("it sent a second register while already registered (refused: one app per VM)")
            token = reply.get("uniqueToken")
            if isinstance(token, str):
                registered = token
                tokens.append(token)
        elif verb == "unregister" and not _refused(e):
            if body.get("uniqueToken") == registered:
                registered = None
        elif verb == "check-for-event":
            event_id = _raw_id(reply.get("operationId"))
            if event_id is not None:
                sent.add(event_id)
                if reply.get("eventType") == "timeout-change":
                    timeout_change_ids.add(event_id)
        elif verb == "ack-event":
            token, raw = body.get("uniqueToken"), body.get("operationId")
            acked = _raw_id(raw)
            if isinstance(token, str) and token in tokens and token != registered:
                note("it acked with the token of an earlier registration (" + redact(token) + "), not its current one")
            if acked is None or acked in timeout_change_ids:
                continue
            if acked not in sent:
                near = next((s for s in sorted(sent) if float(s) == float(acked)), None)
                if near is not None:
                    note(f"it acked operation {acked}, which the VM never sent: the VM sent {near}, the same "
                         "number once rounded through a 64-bit float (parse operationId as an integer)")
                else:
                    note(f"it acked operation {_short(acked)}, which the VM never sent")
                continue
            span = spans.get(acked)
            if span is not None and span.migration_ended_at is not None and when >= span.migration_ended_at:
                note(f"it acked operation {_short(acked)} after that operation had already ended")
    return found


def token_exposures(journal: Iterable[Entry]) -> List[str]:
    """Warnings about how the guest handled its token, whatever the verdict: a token on a vmtoolsd command line
    is readable by every local user in ``/proc/PID/cmdline`` (``--cmdfile`` keeps it off)."""
    exposed = [e for e in journal if isinstance(e, RpcEntry) and e.token_in_argv]
    if not exposed:
        return []
    verbs = sorted({str(e.verb) for e in exposed})
    return [f"it put its token on a vmtoolsd command line in {len(exposed)} call(s) ({', '.join(verbs)}): any "
            "local user can read it from /proc/PID/cmdline; pass the request with --cmdfile instead"]
