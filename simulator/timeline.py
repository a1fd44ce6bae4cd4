"""A readable timeline of a journal: what the guest asked, what the hypervisor did, and when."""

from __future__ import annotations

from typing import Any, Callable, Dict, Iterable, List, Mapping, Optional

from simulator.model.journal_events import JournalEvent
from simulator.redaction import TOKEN_SHAPE
from simulator.untrusted_json import json_value


def redact(text: str) -> str:
    """Tokens are bearer credentials: keep the first 8 characters, enough to tell two apart."""
    return TOKEN_SHAPE.sub(lambda m: m.group(0)[:8] + "-****-****-****-************", text)


def _short(operation_id: Any) -> str:
    text = str(operation_id)
    return "…" + text[-6:] if len(text) > 8 else text


def _rpc_line(entry: Mapping[str, Any]) -> str:
    verb = entry.get("verb") or entry["request"].partition(" ")[0]
    out = (entry.get("stdout") or entry.get("stderr") or "").strip()
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
    elif entry.get("exit_code"):
        summary = f"exit {entry['exit_code']}: {out}"
    return f"guest      {verb:<16} {redact(summary)}"


_META = {"seq", "time", "kind", "what"}

_MODEL: Dict[str, Callable[[Mapping[str, Any]], str]] = {
    JournalEvent.REGISTERED.value: lambda e: f"app {e['app']} registered (effective timeout {e['timeout']} s)",
    JournalEvent.UNREGISTERED.value: lambda e: f"app {e['app']} unregistered",
    JournalEvent.VMOTION_REQUESTED.value: lambda e: (
        f"vMotion requested, operation {_short(e['operation_id'])}"
        + ("" if e["notified"] else " (notifications not in effect: runs at once)")
    ),
    JournalEvent.QUEUED.value: lambda e: f"{e['event']} event queued for {e['app']}",
    JournalEvent.ACKED.value: lambda e: f"ack from {e['app']} after {e['waited']:.1f} s",
    JournalEvent.FORCED.value: lambda e: f"timeout: migration forced, {e['missing_acks']} ack(s) missing",
    JournalEvent.MIGRATION_STARTED.value: lambda e: "migration running" + (" (forced)" if e["forced"] else ""),
    JournalEvent.MIGRATION_ENDED.value: lambda e: f"migration ended: {e['op_status']}",
    JournalEvent.REBOOTED.value: lambda e: "VM rebooted: registrations dropped",
    JournalEvent.HOLD_RELEASED.value: lambda e: f"hold released ({e['why']})",
    JournalEvent.CONFIGURED.value: lambda e: "settings changed: "
    + ", ".join(f"{k}={v}" for k, v in e.items() if k not in _META),
}


def render(journal: Iterable[Mapping[str, Any]], start: Optional[float] = None) -> List[str]:
    entries = list(journal)
    if not entries:
        return ["(nothing happened)"]
    origin = entries[0]["time"] if start is None else start
    lines = []
    for e in entries:
        stamp = f"+{e['time'] - origin:8.3f}s  "
        if e["kind"] == "rpc":
            lines.append(stamp + _rpc_line(e))
        elif e["kind"] == "model" and e["what"] in _MODEL:
            lines.append(stamp + "hypervisor " + _MODEL[e["what"]](e))
        elif e["kind"] == "probe":
            lines.append(stamp + f"hook       {e['name']} {e['phase']}")
    return lines
