"""What any source tells about an incident, as one list of guest-visible facts in time order.

Each importer turns its lines into ``Observation``s; ``reconstruct`` turns observations into the incident
(settings, events, hooks, acks against their deadlines, outcome). Running a scenario produces observations
too (from the simulator's journal), so an outcome means the same thing whichever way it was obtained.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Dict, List, Optional

from handler.protocol import (
    EndEvent,
    RpcRejected,
    StartEvent,
    TimeoutChangeEvent,
    TransportError,
    interpret,
    parse_event,
)
from simulator.untrusted_json import json_value

# kinds: register, unregister, poll, event, ack, hook, stop, reboot, config, vmotion, forced, rpc-error
OUTCOMES = {
    "forced-migration": "a migration started without this app's ack (timeout passed, ack late or refused)",
    "app-left-quiesced": "a quiesce ran and no unquiesce followed it",
    "double-quiesce": "the application was quiesced again while still quiesced",
    "leaked-registration": "the handler stopped registered, or a register was refused by an old registration",
    "missed-end": "a handled migration's end event was never fetched",
    "unquiesce-without-quiesce": "an unquiesce ran with no quiesce before it",
    "quiesce-killed": "a quiesce still running at its deadline was killed",
    "registration-lost": "the hypervisor forgot the registration (a reboot), the handler had to register again",
}


@dataclass
class Observation:
    t: float  # seconds since the source's first line
    kind: str
    operation_id: Optional[int] = None
    ok: bool = True
    details: Dict[str, Any] = field(default_factory=dict)

    def as_dict(self) -> Dict[str, Any]:
        out: Dict[str, Any] = {"t": round(self.t, 3), "kind": self.kind}
        if self.operation_id is not None:
            out["operation_id"] = self.operation_id
        if not self.ok:
            out["ok"] = False
        out.update(self.details)
        return out


def payload_of(request: str) -> Dict[str, Any]:
    _, _, text = request.partition(" ")
    try:
        obj = json_value(text) if text.strip() else {}
    except ValueError:
        return {}
    return obj if isinstance(obj, dict) else {}


def observe_rpc(t: float, request: str, stdout: str, stderr: str, exit_code: int) -> List[Observation]:
    """The facts one guest RPC shows: a registration, an event fetched, an ack, or a refusal."""
    verb = request.split(" ", 1)[0].rpartition(".")[2]
    payload = payload_of(request)
    try:
        reply = interpret(stdout, stderr, exit_code)
    except RpcRejected as refused:
        kind = {"register": "register", "unregister": "unregister", "ack-event": "ack"}.get(verb, "rpc-error")
        return [Observation(t, kind, _int_or_none(payload.get("operationId")), ok=False,
                            details={"verb": verb, "reason": refused.reason})]
    except TransportError as failed:
        return [Observation(t, "rpc-error", ok=False, details={"verb": verb, "reason": failed.kind})]
    if verb == "register":
        return [Observation(t, "register", details={"timeout": reply.get("notificationTimeoutInSec")})]
    if verb == "unregister":
        return [Observation(t, "unregister")]
    if verb == "ack-event":
        return [Observation(t, "ack", _int_or_none(payload.get("operationId")),
                            details={"status": reply.get("ackStatus")})]
    if verb == "check-for-event":
        try:
            event = parse_event(reply)
        except TransportError:
            return [Observation(t, "poll")]
        return [Observation(t, "poll")] + ([] if event is None else [event_observation(t, reply)])
    return []


def event_observation(t: float, reply: Dict[str, Any]) -> Observation:
    """A fetched event (a check-for-event reply, or the dict a log printed)."""
    event = parse_event(reply)
    details: Dict[str, Any] = {"event": reply.get("eventType"), "gen": reply.get("eventGenTimeInSec")}
    if isinstance(event, StartEvent):
        details["timeout"] = event.notification_timeout
    elif isinstance(event, TimeoutChangeEvent):
        details.update(timeout=event.notification_timeout, new_timeout=event.new_notification_timeout)
    elif isinstance(event, EndEvent):
        details["op_status"] = event.op_status
    return Observation(t, "event", _int_or_none(reply.get("operationId")), details=details)


def _int_or_none(value: Any) -> Optional[int]:
    return value if isinstance(value, int) and not isinstance(value, bool) else None
