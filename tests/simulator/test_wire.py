"""The reply renderer against the observed bytes, and the request parser against what real clients send."""

from __future__ import annotations

import pytest

from simulator import wire
from simulator.model import EndEvent, StartEvent, TimeoutChangeEvent
from tests.simulator import obs

TYPES = ("sla-miss",)


def test_register_reply_matches_observed_bytes() -> None:
    assert wire.render_register("52964f1a-6c7e-b373-b588-545b39581e1a", 120, True) == obs.REGISTER


def test_list_reply_matches_observed_bytes() -> None:
    assert wire.render_list([("demo", TYPES)]) == obs.LIST


def test_empty_reply_matches_observed_bytes() -> None:
    assert wire.render_ok() == obs.OK


def test_start_event_matches_observed_bytes() -> None:
    event = StartEvent(6279072957175440971, 1666994660, 120, 120, TYPES)
    assert wire.render_event(event) == obs.START


def test_end_event_matches_observed_bytes() -> None:
    event = EndEvent(6279072692702276663, 1666730200, "success", TYPES)
    assert wire.render_event(event) == obs.END


def test_timeout_change_event_matches_observed_bytes() -> None:
    event = TimeoutChangeEvent(1666736715415723, 1666736715, 120, 60, TYPES)
    assert wire.render_event(event) == obs.TIMEOUT_CHANGE


def test_ack_reply_matches_observed_bytes() -> None:
    assert wire.render_ack(6279072957175440971, "ack_received") == obs.ACK


def test_error_message_keeps_the_literal_period_comma() -> None:
    reason = "Failed to register additional apps. Max allowed limit of 1 concurrent apps already registered."
    assert wire.error_message("vm-operation-notification.register", reason) == (
        "vm-operation-notification.register: Invalid input: Failed to register additional apps. Max allowed "
        "limit of 1 concurrent apps already registered., please see schema for detail and examples"
    )


@pytest.mark.parametrize(
    "command",
    [
        # both key orders succeeded on a real host [S1 OBS], and the WSFC script's space before "}" [S4/S5]
        'vm-operation-notification.ack-event {"operationId": 6279072692702276663, "uniqueToken": "t"}',
        'vm-operation-notification.ack-event {"uniqueToken": "t", "operationId": 6279072957175440971}',
        'vm-operation-notification.ack-event {"uniqueToken": "t", "operationId": 6279072957175440971 }',
    ],
)
def test_ack_requests_from_real_clients_parse_with_exact_ids(command: str) -> None:
    request = wire.parse_request(command)
    assert request.verb == "ack-event"
    assert request.args["operationId"] in (6279072692702276663, 6279072957175440971)
    assert isinstance(request.args["operationId"], int)


@pytest.mark.parametrize("operation_id", [0, 2**53 + 1, 2**63, 2**64 - 1])
def test_ack_ids_cover_the_whole_unsigned_64_bit_range_exactly(operation_id: int) -> None:
    request = wire.parse_request(
        f'vm-operation-notification.ack-event {{"uniqueToken": "t", "operationId": {operation_id}}}'
    )
    assert request.args["operationId"] == operation_id


@pytest.mark.parametrize("command", ["vm-operation-notification.list", "vm-operation-notification.list "])
def test_list_is_accepted_bare_and_with_a_trailing_space(command: str) -> None:
    assert wire.parse_request(command).verb == "list"


@pytest.mark.parametrize(
    ("command", "reason"),
    [
        ("vm-operation-notification.register", "Missing JSON input"),
        ("vm-operation-notification.register {", "Malformed JSON"),
        ("vm-operation-notification.register []", "Expected a JSON object"),
        ('vm-operation-notification.register {"appName": "x"}', "Missing required field 'notificationTypes'"),
        ('vm-operation-notification.register {"appName": 1, "notificationTypes": []}', "Field 'appName' has the wrong type"),
        ('vm-operation-notification.register {"appName": " ", "notificationTypes": ["sla-miss"]}', "Field 'appName' must not be empty"),
        ('vm-operation-notification.ack-event {"uniqueToken": "t", "operationId": "12"}', "Field 'operationId' has the wrong type"),
        ('vm-operation-notification.ack-event {"uniqueToken": "t", "operationId": true}', "Field 'operationId' has the wrong type"),
        ('vm-operation-notification.ack-event {"uniqueToken": "t", "operationId": -1}', "Field 'operationId' is out of range"),
        ('vm-operation-notification.ack-event {"uniqueToken": "t", "operationId": 18446744073709551616}', "Field 'operationId' is out of range"),
        ('vm-operation-notification.check-for-event {}', "Missing required field 'uniqueToken'"),
    ],
)
def test_bad_input_is_refused_with_a_reason(command: str, reason: str) -> None:
    with pytest.raises(wire.BadRequest) as refused:
        wire.parse_request(command)
    assert refused.value.reason == reason


@pytest.mark.parametrize("command", ["", "bogus", "vm-operation-notification.cancel {}", "vm-operation-notification"])
def test_unknown_commands_are_unknown(command: str) -> None:
    with pytest.raises(wire.UnknownCommand):
        wire.parse_request(command)


def test_unknown_fields_are_refused_only_when_the_knob_says_so() -> None:
    command = 'vm-operation-notification.check-for-event {"uniqueToken": "t", "extra": 1}'
    assert wire.parse_request(command).args["extra"] == 1
    with pytest.raises(wire.BadRequest, match="extra"):
        wire.parse_request(command, reject_unknown_fields=True)
