"""A readable timeline of a journal: what the guest asked, what the hypervisor did, and when."""

from __future__ import annotations

from typing import Any, Callable, Dict, Iterable, List, Optional

from simulator.journal_entry import Entry, ModelEntry, ProbeEntry, RpcEntry
from simulator.model.journal_events import JournalEvent
from simulator.redaction import TOKEN_SHAPE
from simulator.untrusted_json import json_value


def redact(text: str) -> str:
    """Tokens are bearer credentials: keep the first 8 characters, enough to tell two apart."""
    return TOKEN_SHAPE.sub(lambda m: m.group(0)[:8] + "-****-****-****-************", text)


def _short(operation_id: Any) -> str:
    text = str(operation_id)
    return "…" + text[-6:] if len(text) > 8 else text


def _rpc_line(entry: RpcEntry) -> str:
    verb = entry.verb or entry.request.partition(" ")[0]
    out = (entry.stdout or entry.stderr).strip()
    summary = out
    try:
        reply = json_value(out)
    except ValueError:
        reply = None
    if isinstance(reply, dict):
        if reply.get("result") is False:
            summary = "refused: " + str(reply.get("errorMessage", ""))
        elif "eventType" in reply:
            summary = f"{reply['eventType']} event, operation {_short(reply.get('operationId'))}"
            if reply["eventType"] == "start":
                summary += f", {reply.get('notificationTimeoutInSec')} s to ack"
            elif reply["eventType"] == "end":
                summary += f", {reply.get('opStatus')}"
            elif reply["eventType"] == "timeout-change":
                old, new = reply.get("notificationTimeoutInSec"), reply.get("newNotificationTimeoutInSec")
                summary += f", {old} s -> {new} s"
        elif "ackStatus" in reply:
            summary = f"{reply['ackStatus']} for operation {_short(reply.get('operationId'))}"
        elif "uniqueToken" in reply:
            summary = f"registered, timeout {reply.get('notificationTimeoutInSec')} s"
        elif "info" in reply:
            summary = f"{len(reply['info'])} app(s) registered"
        else:
            summary = "nothing pending" if verb == "check-for-event" else "ok"
    elif entry.exit_code:
        summary = f"exit {entry.exit_code}: {out}"
    return f"guest      {verb:<16} {redact(summary)}"


_MODEL: Dict[JournalEvent, Callable[[Dict[str, Any]], str]] = {  # each told from the note's details
    JournalEvent.REGISTERED: lambda d: f"app {d['app']} registered (effective timeout {d['timeout']} s)",
    JournalEvent.UNREGISTERED: lambda d: f"app {d['app']} unregistered",
    JournalEvent.VMOTION_REQUESTED: lambda d: (
        f"vMotion requested, operation {_short(d['operation_id'])}"
        + ("" if d["notified"] else " (notifications not in effect: runs at once)")
    ),
    JournalEvent.QUEUED: lambda d: f"{d['event']} event queued for {d['app']}",
    JournalEvent.ACKED: lambda d: f"ack from {d['app']} after {d['waited']:.1f} s",
    JournalEvent.FORCED: lambda d: f"timeout: migration forced, {d['missing_acks']} ack(s) missing",
    JournalEvent.MIGRATION_STARTED: lambda d: "migration running" + (" (forced)" if d["forced"] else ""),
    JournalEvent.MIGRATION_ENDED: lambda d: f"migration ended: {d['op_status']}",
    JournalEvent.REBOOTED: lambda d: "VM rebooted: registrations dropped",
    JournalEvent.HOLD_RELEASED: lambda d: f"hold released ({d['why']})",
    JournalEvent.CONFIGURED: lambda d: "settings changed: " + ", ".join(f"{k}={v}" for k, v in d.items()),
}


def render(journal: Iterable[Entry], start: Optional[float] = None) -> List[str]:
    entries = list(journal)
    if not entries:
        return ["(nothing happened)"]
    origin = entries[0].time if start is None else start
    lines = []
    for e in entries:
        stamp = f"+{e.time - origin:8.3f}s  "
        if isinstance(e, RpcEntry):
            lines.append(stamp + _rpc_line(e))
        elif isinstance(e, ModelEntry) and e.what in _MODEL:
            lines.append(stamp + "hypervisor " + _MODEL[e.what](e.details))
        elif isinstance(e, ProbeEntry):
            lines.append(stamp + f"hook       {e.name} {e.phase}")
    return lines
