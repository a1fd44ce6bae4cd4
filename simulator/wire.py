"""The exact bytes of the guest RPC: parsing the request string and rendering the replies.

The reply templates reproduce the observed output byte for byte, irregular spaces
included: ``"version":"1.0.0"`` without a space, two spaces before ``"opType"`` and ``"operationId"``, a space
before the closing brace. vmtoolsd adds the trailing newline; that is the transport's business, not this one's.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any, Dict, Optional, Sequence, Tuple

from simulator.model.events import EndEvent, Event, StartEvent, TimeoutChangeEvent

PREFIX = "vm-operation-notification."
VERBS = ("register", "list", "unregister", "check-for-event", "ack-event")

_HEAD = '{"version":"1.0.0", "result": true'
_HEAD_EVENT = '{"version":"1.0.0",  "result": true'  # end and timeout-change have two spaces [S1 OBS]


def _types(types: Sequence[str]) -> str:
    return json.dumps(list(types))


def _string(text: str) -> str:
    return json.dumps(text)


def render_ok() -> str:
    """Unregister, and check-for-event with nothing pending [S1 OBS]."""
    return _HEAD + " }"


def render_register(token: str, timeout: int, guaranteed: bool) -> str:
    return (
        f'{_HEAD}, "guaranteed": {"true" if guaranteed else "false"}, "uniqueToken": {_string(token)}, '
        f'"notificationTimeoutInSec": {timeout} }}'
    )


def render_list(apps: Sequence[Tuple[str, Sequence[str]]]) -> str:
    """Five spaces after ``[`` for the one-app sample [S1 OBS]; the zero- and many-app shapes are INF."""
    entries = ", ".join(
        f'{{"appName": {_string(name)}, "notificationTypes": {_types(types)}}}' for name, types in apps
    )
    if not entries:
        return f'{_HEAD}, "info": [] }}'
    return f'{_HEAD}, "info": [     {entries}] }}'


def render_event(event: Event) -> str:
    types = _types(event.notification_types)
    if isinstance(event, StartEvent):
        return (
            f'{_HEAD}, "eventType": "start",  "opType": {_string(event.op_type)}, '
            f'"eventGenTimeInSec": {event.event_gen_time}, "notificationTimeoutInSec": {event.notification_timeout}, '
            f'"destNotificationTimeoutInSec": {event.dest_notification_timeout}, "notificationTypes": {types},  '
            f'"operationId": {event.operation_id} }}'
        )
    if isinstance(event, EndEvent):
        return (
            f'{_HEAD_EVENT}, "eventType": "end",  "opType": {_string(event.op_type)}, '
            f'"opStatus": {_string(event.op_status)}, "eventGenTimeInSec": {event.event_gen_time}, '
            f'"notificationTypes": {types},  "operationId": {event.operation_id} }}'
        )
    if isinstance(event, TimeoutChangeEvent):
        return (
            f'{_HEAD_EVENT}, "eventType": "timeout-change",  "eventGenTimeInSec": {event.event_gen_time}, '
            f'"notificationTimeoutInSec": {event.notification_timeout}, '
            f'"newNotificationTimeoutInSec": {event.new_notification_timeout}, "notificationTypes": {types},  '
            f'"operationId": {event.operation_id} }}'
        )
    raise TypeError(f"not an event: {event!r}")


def render_ack(operation_id: int, ack_status: str) -> str:
    return f'{_HEAD}, "operationId": {operation_id},  "ackStatus": {_string(ack_status)} }}'


def error_message(rpc_name: str, reason: str) -> str:
    """The pattern of every recorded error text, literal ``., `` included [S2 VMW-CODE]."""
    return f"{rpc_name}: Invalid input: {reason}, please see schema for detail and examples"


def render_error(message: str) -> str:
    """The JSON error envelope VMware's daemon expects (``result`` false, ``errorMessage``) [S2]; shape INF."""
    return f'{{"version":"1.0.0", "result": false, "errorMessage": {_string(message)} }}'


# ---------------------------------------------------------------------- requests


class UnknownCommand(Exception):
    """Not an RPC the hypervisor has: the RPC layer answers ``Unknown command`` [S8]."""


class BadRequest(Exception):
    """A known verb with input it cannot use; ``reason`` goes into the Invalid input message."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


@dataclass(frozen=True)
class Request:
    verb: str
    rpc_name: str  # e.g. "vm-operation-notification.register", the prefix of every error message
    args: Dict[str, Any]


_SCHEMA: Dict[str, Dict[str, type]] = {
    "register": {"appName": str, "notificationTypes": list},
    "list": {},
    "unregister": {"uniqueToken": str},
    "check-for-event": {"uniqueToken": str},
    "ack-event": {"uniqueToken": str, "operationId": int},
}


def parse_request(command: str, reject_unknown_fields: bool = False) -> Request:
    """Split ``<rpc name><SP><json>`` and check the JSON against the verb's fields [S1-S5 requests]."""
    name, _, payload = command.partition(" ")
    if not name.startswith(PREFIX):
        raise UnknownCommand(name)
    verb = name[len(PREFIX):]
    if verb not in _SCHEMA:
        raise UnknownCommand(name)
    schema = _SCHEMA[verb]
    if not schema:  # `list` is sent bare [S1 OBS] or with a trailing space [S2]; anything after it is ignored
        return Request(verb, name, {})
    if not payload.strip():
        raise BadRequest("Missing JSON input")
    try:
        # Big integers stay exact: operationId is above 2**53 [S1 OBS].
        args = json.loads(payload)
    except (ValueError, RecursionError):  # RecursionError: nested deeper than the parser's stack
        raise BadRequest("Malformed JSON") from None
    if not isinstance(args, dict):
        raise BadRequest("Expected a JSON object")
    for key, kind in schema.items():
        if key not in args:
            raise BadRequest(f"Missing required field '{key}'")
        value = args[key]
        if isinstance(value, bool) or not isinstance(value, kind):
            raise BadRequest(f"Field '{key}' has the wrong type")
    if reject_unknown_fields:
        extra = sorted(set(args) - set(schema))
        if extra:
            raise BadRequest(f"Unknown field '{extra[0]}'")
    if verb == "register":
        if not args["appName"].strip():
            raise BadRequest("Field 'appName' must not be empty")
        if not all(isinstance(t, str) for t in args["notificationTypes"]):
            raise BadRequest("Field 'notificationTypes' must be a list of strings")
    if verb == "ack-event" and not 0 <= args["operationId"] < 2**64:
        raise BadRequest("Field 'operationId' is out of range")
    return Request(verb, name, args)


def verb_of(command: str) -> Optional[str]:
    """The verb of an RPC string, or None: for journals, which must not parse twice to get it wrong."""
    name = command.partition(" ")[0]
    return name[len(PREFIX):] if name.startswith(PREFIX) else None
