"""The guest RPCs of vSphere 8 vMotion notifications: request strings out, typed replies in.

Pure functions only (no I/O). Request grammar and reply shapes follow protocol.md section 3; the error
envelope is UNKNOWN (protocol.md section 7), so every envelope seen in the wild or plausible is accepted:
JSON with ``result: false`` on stdout (exit 0) or on stderr (exit 1), and plain text on stderr (exit 1).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any, Dict, List, Optional, Union

RPC_PREFIX = "vm-operation-notification."
NOTIFICATION_TYPES = ["sla-miss"]  # the only value ever seen [S1-S5]

# Texts the transport layer itself produces (protocol.md section 2) [S8].
CHANNEL_DOWN_TEXT = "Unable to send command to VMware hypervisor"
UNKNOWN_COMMAND_TEXT = "Unknown command"



# ---------------------------------------------------------------------------------------------- requests


def _rpc(verb: str, payload: Optional[Dict[str, Any]]) -> str:
    if payload is None:
        return RPC_PREFIX + verb
    # json.dumps keeps Python ints exact, so a 64-bit operationId is sent as a bare integer [S1 OBS].
    return f"{RPC_PREFIX}{verb} {json.dumps(payload)}"


def register_request(app_name: str) -> str:
    return _rpc("register", {"appName": app_name, "notificationTypes": list(NOTIFICATION_TYPES)})


def list_request() -> str:
    return _rpc("list", None)


def unregister_request(token: str) -> str:
    return _rpc("unregister", {"uniqueToken": token})


def check_for_event_request(token: str) -> str:
    return _rpc("check-for-event", {"uniqueToken": token})


def ack_event_request(token: str, operation_id: int) -> str:
    return _rpc("ack-event", {"uniqueToken": token, "operationId": operation_id})


def verb_of(request: str) -> str:
    """``vm-operation-notification.ack-event {...}`` -> ``ack-event`` (for logs and metrics)."""
    head = request.split(" ", 1)[0]
    return head[len(RPC_PREFIX) :] if head.startswith(RPC_PREFIX) else head


# ------------------------------------------------------------------------------------------------ errors


class RpcError(Exception):
    """Base class of everything that can go wrong with one RPC."""


class TransportError(RpcError):
    """The reply never arrived intact: retry with backoff.

    ``kind`` is one of: ``missing`` (no vmtoolsd), ``hang`` (subprocess timeout), ``channel-down`` (not in a VM
    or the backdoor is unavailable), ``unsupported`` (host without the feature), ``exit-1`` (other failure),
    ``garbled`` (not JSON), ``truncated`` (JSON cut short), ``malformed`` (JSON without the expected fields),
    ``os-error``.
    """

    def __init__(self, kind: str, detail: str) -> None:
        super().__init__(f"{kind}: {detail}")
        self.kind = kind
        self.detail = detail


class RpcRejected(RpcError):
    """The hypervisor answered and said no (``result: false``). Retrying the same request will not help.

    ``reason`` classifies the known messages (protocol.md section 7): ``unknown-token``, ``limit-reached``,
    ``not-enabled`` or ``other``.
    """

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message
        self.reason = classify_rejection(message)


def classify_rejection(message: str) -> str:
    text = message.lower()
    if "could not find application" in text or "token" in text:
        return "unknown-token"
    if "max allowed limit" in text or "additional apps" in text:
        return "limit-reached"
    if "not enabled" in text or "disabled" in text:
        return "not-enabled"
    return "other"


# ------------------------------------------------------------------------------------------------ events


@dataclass(frozen=True)
class StartEvent:
    operation_id: int
    event_gen_time: int
    notification_timeout: int
    dest_notification_timeout: Optional[int]
    op_type: str
    event_type: str = "start"


@dataclass(frozen=True)
class EndEvent:
    operation_id: int
    event_gen_time: int
    op_status: str
    op_type: str
    event_type: str = "end"


@dataclass(frozen=True)
class TimeoutChangeEvent:
    operation_id: int
    event_gen_time: int
    notification_timeout: int  # the old value [S1 OBS]
    new_notification_timeout: int
    event_type: str = "timeout-change"


@dataclass(frozen=True)
class UnknownEvent:
    event_type: str
    operation_id: Optional[int]
    fields: Dict[str, Any]


Event = Union[StartEvent, EndEvent, TimeoutChangeEvent, UnknownEvent]


@dataclass(frozen=True)
class Registration:
    unique_token: str
    notification_timeout: Optional[int]


@dataclass(frozen=True)
class AckReply:
    operation_id: Optional[int]
    ack_status: str


# ----------------------------------------------------------------------------------------------- replies


def _loads(text: str) -> Any:
    """json.loads that tells truncation from garbage; integers stay exact Python ints."""
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        stripped = text.strip()
        # Cut short: it started as a JSON object but never closed it.
        if stripped.startswith("{") and not stripped.endswith("}"):
            raise TransportError("truncated", _excerpt(text)) from exc
        raise TransportError("garbled", _excerpt(text)) from exc


def _excerpt(text: str, limit: int = 200) -> str:
    one_line = text.strip().replace("\n", "\\n")
    return one_line if len(one_line) <= limit else one_line[:limit] + "..."


def _rejection_text(obj: Dict[str, Any]) -> str:
    message = obj.get("errorMessage")
    return message if isinstance(message, str) and message else "result is false (no errorMessage)"


def interpret(stdout: str, stderr: str, exit_code: int) -> Dict[str, Any]:
    """Turn one vmtoolsd outcome into the reply object, or raise TransportError / RpcRejected."""
    if exit_code != 0:
        text = (stderr.strip() or stdout.strip())
        if text.startswith("{"):
            try:
                obj = json.loads(text)
            except json.JSONDecodeError:
                obj = None
            if isinstance(obj, dict) and obj.get("result") is False:
                raise RpcRejected(_rejection_text(obj))
        if CHANNEL_DOWN_TEXT in text:
            raise TransportError("channel-down", text)
        if text == UNKNOWN_COMMAND_TEXT or text.startswith(UNKNOWN_COMMAND_TEXT):
            raise TransportError("unsupported", text)
        # The observed error pattern "<rpc>: Invalid input: <reason>, please see schema..." as plain text.
        if "Invalid input" in text or "please see schema" in text:
            raise RpcRejected(text)
        raise TransportError("exit-1", f"exit {exit_code}: {_excerpt(text) or '(no output)'}")
    if not stdout.strip():
        raise TransportError("garbled", "empty reply")
    obj = _loads(stdout)
    if not isinstance(obj, dict) or "result" not in obj:
        raise TransportError("garbled", _excerpt(stdout))
    if obj["result"] is not True:
        raise RpcRejected(_rejection_text(obj))
    return obj


def _int_field(obj: Dict[str, Any], key: str) -> int:
    value = obj.get(key)
    # bool is an int subclass and a float would have lost the low bits of a 64-bit id: both are malformed.
    if isinstance(value, bool) or not isinstance(value, int):
        raise TransportError("malformed", f"{key} is not an integer: {value!r}")
    return value


def _opt_int_field(obj: Dict[str, Any], key: str) -> Optional[int]:
    return _int_field(obj, key) if key in obj else None


def _str_field(obj: Dict[str, Any], key: str, default: str) -> str:
    value = obj.get(key, default)
    return value if isinstance(value, str) else str(value)


def parse_register(obj: Dict[str, Any]) -> Registration:
    token = obj.get("uniqueToken")
    if not isinstance(token, str) or not token:
        raise TransportError("malformed", "register reply without uniqueToken")
    return Registration(unique_token=token, notification_timeout=_opt_int_field(obj, "notificationTimeoutInSec"))


def parse_event(obj: Dict[str, Any]) -> Optional[Event]:
    """The reply of check-for-event: None when nothing is pending, else one typed event."""
    event_type = obj.get("eventType")
    if event_type is None:
        return None
    if event_type == "start":
        return StartEvent(
            operation_id=_int_field(obj, "operationId"),
            event_gen_time=_int_field(obj, "eventGenTimeInSec"),
            notification_timeout=_int_field(obj, "notificationTimeoutInSec"),
            dest_notification_timeout=_opt_int_field(obj, "destNotificationTimeoutInSec"),
            op_type=_str_field(obj, "opType", "unknown"),
        )
    if event_type == "end":
        return EndEvent(
            operation_id=_int_field(obj, "operationId"),
            event_gen_time=_int_field(obj, "eventGenTimeInSec"),
            op_status=_str_field(obj, "opStatus", "unknown"),
            op_type=_str_field(obj, "opType", "unknown"),
        )
    if event_type == "timeout-change":
        return TimeoutChangeEvent(
            operation_id=_int_field(obj, "operationId"),
            event_gen_time=_int_field(obj, "eventGenTimeInSec"),
            notification_timeout=_int_field(obj, "notificationTimeoutInSec"),
            new_notification_timeout=_int_field(obj, "newNotificationTimeoutInSec"),
        )
    op = obj.get("operationId")
    return UnknownEvent(
        event_type=str(event_type),
        operation_id=op if isinstance(op, int) and not isinstance(op, bool) else None,
        fields=dict(obj),
    )


def parse_list(obj: Dict[str, Any]) -> Optional[List[str]]:
    """The appNames of a list reply; None when its shape is not the one known (protocol.md section 3.2)."""
    info = obj.get("info")
    if not isinstance(info, list):
        return None
    names = [entry.get("appName") for entry in info if isinstance(entry, dict)]
    if len(names) != len(info) or not all(isinstance(n, str) for n in names):
        return None
    return [str(n) for n in names]


def parse_ack(obj: Dict[str, Any]) -> AckReply:
    op = obj.get("operationId")
    return AckReply(
        operation_id=op if isinstance(op, int) and not isinstance(op, bool) else None,
        ack_status=_str_field(obj, "ackStatus", ""),
    )
