"""Requests and replies against the observed bytes of protocol.md section 3 [S1 OBS]."""

from __future__ import annotations

import json

import pytest

from handler import protocol as p

START = ('{"version":"1.0.0", "result": true, "eventType": "start",  "opType": "host-migration", '
         '"eventGenTimeInSec": 1666994660, "notificationTimeoutInSec": 120, "destNotificationTimeoutInSec": 120, '
         '"notificationTypes": ["sla-miss"],  "operationId": 6279072957175440971 }\n')
END = ('{"version":"1.0.0",  "result": true, "eventType": "end",  "opType": "host-migration", "opStatus": "success", '
       '"eventGenTimeInSec": 1666730200, "notificationTypes": ["sla-miss"],  "operationId": 6279072692702276663 }\n')
TIMEOUT_CHANGE = ('{"version":"1.0.0",  "result": true, "eventType": "timeout-change",  "eventGenTimeInSec": '
                  '1666736715, "notificationTimeoutInSec": 120, "newNotificationTimeoutInSec": 60, '
                  '"notificationTypes": ["sla-miss"],  "operationId": 1666736715415723 }\n')
REGISTER = ('{"version":"1.0.0", "result": true, "guaranteed": true, "uniqueToken": '
            '"52964f1a-6c7e-b373-b588-545b39581e1a", "notificationTimeoutInSec": 120 }\n')
ACK = '{"version":"1.0.0", "result": true, "operationId": 6279072957175440971,  "ackStatus": "ack_received" }\n'
NOTHING = '{"version":"1.0.0", "result": true }\n'
UNKNOWN_TOKEN = ("vm-operation-notification.unregister: Invalid input: Could not find application with the token., "
                 "please see schema for detail and examples")


def test_requests_match_what_clients_send() -> None:
    assert p.register_request("demo") == (
        'vm-operation-notification.register {"appName": "demo", "notificationTypes": ["sla-miss"]}')
    assert p.list_request() == "vm-operation-notification.list"
    assert p.check_for_event_request("t") == 'vm-operation-notification.check-for-event {"uniqueToken": "t"}'
    ack = p.ack_event_request("t", 6279072957175440971)
    assert ack.endswith('"operationId": 6279072957175440971}')  # a bare integer, every digit kept
    assert p.verb_of(ack) == "ack-event"


def test_the_largest_unsigned_64_bit_id_goes_through_the_handler_exactly() -> None:
    top = 2**64 - 1
    event = p.parse_event(p.interpret(START.replace("6279072957175440971", str(top)), "", 0))
    assert isinstance(event, p.StartEvent) and event.operation_id == top
    assert p.ack_event_request("t", event.operation_id).endswith(f'"operationId": {top}}}')


def test_start_event_keeps_the_64_bit_operation_id_exact() -> None:
    event = p.parse_event(p.interpret(START, "", 0))
    assert event == p.StartEvent(operation_id=6279072957175440971, event_gen_time=1666994660,
                                 notification_timeout=120, dest_notification_timeout=120, op_type="host-migration")
    assert isinstance(event.operation_id, int) and event.operation_id > 2**53


def test_end_and_timeout_change_events() -> None:
    end = p.parse_event(p.interpret(END, "", 0))
    assert isinstance(end, p.EndEvent) and end.op_status == "success" and end.operation_id == 6279072692702276663
    change = p.parse_event(p.interpret(TIMEOUT_CHANGE, "", 0))
    assert change == p.TimeoutChangeEvent(operation_id=1666736715415723, event_gen_time=1666736715,
                                          notification_timeout=120, new_notification_timeout=60)


def test_register_ack_and_nothing_pending() -> None:
    reg = p.parse_register(p.interpret(REGISTER, "", 0))
    assert reg.unique_token == "52964f1a-6c7e-b373-b588-545b39581e1a" and reg.notification_timeout == 120
    assert p.parse_ack(p.interpret(ACK, "", 0)) == p.AckReply(6279072957175440971, "ack_received")
    assert p.parse_event(p.interpret(NOTHING, "", 0)) is None


@pytest.mark.parametrize(
    ("stdout", "stderr", "code"),
    [
        (json.dumps({"version": "1.0.0", "result": False, "errorMessage": UNKNOWN_TOKEN}) + "\n", "", 0),
        ("", json.dumps({"version": "1.0.0", "result": False, "errorMessage": UNKNOWN_TOKEN}) + "\n", 1),
        ("", UNKNOWN_TOKEN + "\n", 1),
    ],
    ids=["json-stdout", "json-stderr", "text-stderr"],
)
def test_rejections_in_every_envelope(stdout: str, stderr: str, code: int) -> None:
    with pytest.raises(p.RpcRejected) as info:
        p.interpret(stdout, stderr, code)
    assert info.value.reason == "unknown-token"
    assert "Could not find application" in info.value.message


@pytest.mark.parametrize(
    ("stdout", "stderr", "code", "kind"),
    [
        ("", "Unable to send command to VMware hypervisor.\n", 1, "channel-down"),
        ("", "Unknown command\n", 1, "unsupported"),
        ("", "something odd\n", 1, "exit-1"),
        (START[: len(START) // 2], "", 0, "truncated"),
        ("\x1b[?garbled\x00 reply ###\n", "", 0, "garbled"),
        ("", "", 0, "garbled"),
        ("[1, 2]\n", "", 0, "garbled"),
    ],
)
def test_transport_failures_are_classified(stdout: str, stderr: str, code: int, kind: str) -> None:
    with pytest.raises(p.TransportError) as info:
        p.interpret(stdout, stderr, code)
    assert info.value.kind == kind


@pytest.mark.parametrize("bad", ["6.279072957175441e18", "true", '"6279072957175440971"'])
def test_an_operation_id_that_is_not_an_integer_is_malformed(bad: str) -> None:
    reply = START.replace("6279072957175440971", bad)
    with pytest.raises(p.TransportError) as info:
        p.parse_event(p.interpret(reply, "", 0))
    assert info.value.kind == "malformed"


def test_rejection_reasons() -> None:
    assert p.classify_rejection("vm-operation-notification.register: Invalid input: Failed to register additional "
                                "apps. Max allowed limit of 1 concurrent apps already registered.") == "limit-reached"
    assert p.classify_rejection("Invalid input: VM operation notification not enabled on this VM") == "not-enabled"
