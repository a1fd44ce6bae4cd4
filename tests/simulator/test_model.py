"""The hypervisor's rules, driven through the in-process Simulator on virtual time."""

from __future__ import annotations

import json
import re

import pytest

from simulator import Knobs, ManualClock, Simulator, SimulatorError
from simulator.harness.journal import Journal
from tests.simulator.guest import Guest

T0 = 1_666_994_660.0


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock(T0)


@pytest.fixture
def sim(clock: ManualClock) -> Simulator:
    return Simulator(clock, host_timeout=120, migration_seconds=15, seed=7)


@pytest.fixture
def guest(sim: Simulator) -> Guest:
    return Guest(sim)


def refusal(guest: Guest, verb: str, args: object) -> str:
    reply = guest.rpc(verb, args)
    assert reply["result"] is False
    return str(reply["errorMessage"])


# ---------------------------------------------------------------- registration


def test_register_returns_a_token_shaped_like_the_observed_ones(guest: Guest) -> None:
    token = guest.register()
    assert re.fullmatch(r"52[0-9a-f]{6}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}", token)


def test_list_shows_apps_but_never_tokens(sim: Simulator, guest: Guest) -> None:
    token = guest.register("crdb")
    reply = sim.call("vm-operation-notification.list")
    assert json.loads(reply.stdout)["info"] == [{"appName": "crdb", "notificationTypes": ["sla-miss"]}]
    assert token not in reply.stdout


def test_a_second_app_is_refused_with_the_documented_text(guest: Guest) -> None:
    guest.register("first")
    message = refusal(guest, "register", {"appName": "second", "notificationTypes": ["sla-miss"]})
    assert message == (
        "vm-operation-notification.register: Invalid input: Failed to register additional apps. Max allowed "
        "limit of 1 concurrent apps already registered., please see schema for detail and examples"
    )


def test_the_app_limit_is_a_knob(clock: ManualClock) -> None:
    guest = Guest(Simulator(clock, knobs=Knobs(max_apps=2)))
    assert guest.register("a") != guest.register("b")
    assert "limit of 2 concurrent" in refusal(guest, "register", {"appName": "c", "notificationTypes": ["sla-miss"]})


def test_register_is_refused_on_a_disabled_vm(clock: ManualClock) -> None:
    guest = Guest(Simulator(clock, enabled=False))
    message = refusal(guest, "register", {"appName": "demo", "notificationTypes": ["sla-miss"]})
    assert message == (
        "vm-operation-notification.register: Invalid input: VM operation notification not enabled on this VM, "
        "please see schema for detail and examples"
    )


def test_register_is_refused_while_the_host_is_at_its_default_of_zero(clock: ManualClock) -> None:
    guest = Guest(Simulator(clock, host_timeout=0, vm_timeout=60))
    message = refusal(guest, "register", {"appName": "demo", "notificationTypes": ["sla-miss"]})
    assert "Invalid input: VM operation notification timeout is not configured" in message


def test_unknown_notification_types_are_refused(guest: Guest) -> None:
    message = refusal(guest, "register", {"appName": "demo", "notificationTypes": ["sla-hit"]})
    assert "Unsupported notification type 'sla-hit'" in message


def test_unregister_frees_the_slot_and_a_second_unregister_is_refused(guest: Guest) -> None:
    token = guest.register()
    assert guest.unregister(token) == {"version": "1.0.0", "result": True}
    assert "Could not find application with the token." in refusal(guest, "unregister", {"uniqueToken": token})
    guest.register("next")


@pytest.mark.parametrize("verb", ["check-for-event", "unregister"])
def test_unknown_tokens_are_refused(guest: Guest, verb: str) -> None:
    assert "Could not find application with the token." in refusal(guest, verb, {"uniqueToken": "52-nope"})


def test_effective_timeout_is_the_smaller_of_host_and_vm(clock: ManualClock) -> None:
    assert Guest(Simulator(clock, host_timeout=120, vm_timeout=60)).rpc(
        "register", {"appName": "a", "notificationTypes": ["sla-miss"]}
    )["notificationTimeoutInSec"] == 60
    assert Guest(Simulator(clock, host_timeout=30, vm_timeout=60)).rpc(
        "register", {"appName": "a", "notificationTypes": ["sla-miss"]}
    )["notificationTimeoutInSec"] == 30
    # an unset (-1) or 0 VM value falls back to the host's
    for vm_timeout in (None, 0, -1):
        reply = Guest(Simulator(clock, host_timeout=90, vm_timeout=vm_timeout)).rpc(
            "register", {"appName": "a", "notificationTypes": ["sla-miss"]}
        )
        assert reply["notificationTimeoutInSec"] == 90


# ---------------------------------------------------------------- one operation


def test_an_acked_vmotion_runs_start_ack_migration_end(sim: Simulator, clock: ManualClock, guest: Guest) -> None:
    token = guest.register()
    op_id = sim.vmotion()
    start = guest.check(token)
    assert start["eventType"] == "start"
    assert start["operationId"] == op_id and op_id > 2**53
    assert start["eventGenTimeInSec"] == int(T0)
    assert start["notificationTimeoutInSec"] == 120
    assert sim.operation(op_id)["phase"] == "waiting-ack"
    clock.advance(7)
    assert guest.ack(token, op_id)["ackStatus"] == "ack_received"
    assert sim.operation(op_id)["phase"] == "migrating"
    clock.advance(14.9)
    assert "eventType" not in guest.check(token)
    clock.advance(0.1)
    end = guest.check(token)
    assert (end["eventType"], end["opStatus"], end["operationId"]) == ("end", "success", op_id)
    assert end["eventGenTimeInSec"] == int(T0 + 7 + 15)
    op = sim.operation(op_id)
    assert (op["phase"], op["acked"], op["forced"]) == ("done", True, False)


def test_a_timeout_forces_the_migration_at_the_deadline(sim: Simulator, clock: ManualClock, guest: Guest) -> None:
    token = guest.register()
    op_id = sim.vmotion()
    clock.advance(119.999)
    assert sim.operation(op_id)["phase"] == "waiting-ack"
    clock.advance(0.001)
    op = sim.operation(op_id)
    assert (op["phase"], op["forced"], op["acked"]) == ("migrating", True, False)
    assert op["migration_started_at"] == T0 + 120
    clock.advance(3600)  # far later: the end still carries the time it happened
    events = guest.drain(token)
    assert [e["eventType"] for e in events] == ["start", "end"]
    assert events[1]["eventGenTimeInSec"] == int(T0 + 135)


def test_ack_after_the_force_is_refused_by_default(sim: Simulator, clock: ManualClock, guest: Guest) -> None:
    token = guest.register()
    op_id = sim.vmotion()
    clock.advance(121)
    message = refusal(guest, "ack-event", {"uniqueToken": token, "operationId": op_id})
    assert "Operation is no longer waiting for an acknowledgement." in message


def test_late_duplicate_and_unknown_acks_follow_their_knobs(clock: ManualClock) -> None:
    knobs = Knobs(ack_after_timeout="ack_too_late", ack_duplicate="error", ack_unknown_operation="no_such_op")
    sim = Simulator(clock, knobs=knobs)
    guest = Guest(sim)
    token = guest.register()
    op_id = sim.vmotion()
    assert guest.ack(token, 12345)["ackStatus"] == "no_such_op"
    clock.advance(121)
    assert guest.ack(token, op_id)["ackStatus"] == "ack_too_late"
    op2 = (clock.advance(100), sim.vmotion())[1]
    guest.ack(token, op2)
    assert "already acknowledged" in refusal(guest, "ack-event", {"uniqueToken": token, "operationId": op2})


def test_only_one_event_per_call_oldest_first(sim: Simulator, clock: ManualClock, guest: Guest) -> None:
    token = guest.register()
    sim.set(vm_timeout=60)
    op_id = sim.vmotion()
    clock.advance(200)
    first = guest.check(token)
    second = guest.check(token)
    third = guest.check(token)
    assert [first["eventType"], second["eventType"], third["eventType"]] == ["timeout-change", "start", "end"]
    assert second["operationId"] == third["operationId"] == op_id
    assert guest.check(token) == {"version": "1.0.0", "result": True}


def test_a_failed_migration_ends_with_the_failure_status(sim: Simulator, clock: ManualClock, guest: Guest) -> None:
    token = guest.register()
    op_id = sim.vmotion(outcome="failure", migration_seconds=3)
    guest.check(token)
    guest.ack(token, op_id)
    clock.advance(3)
    end = guest.check(token)
    assert (end["eventType"], end["opStatus"]) == ("end", "failure")
    assert sim.operation(op_id)["outcome"] == "failure"


def test_a_second_vmotion_while_one_is_in_flight_is_refused(sim: Simulator, guest: Guest) -> None:
    guest.register()
    sim.vmotion()
    with pytest.raises(SimulatorError, match="still in flight"):
        sim.vmotion()


def test_without_registrations_the_migration_is_not_held(sim: Simulator) -> None:
    op_id = sim.vmotion()
    assert sim.operation(op_id)["phase"] == "migrating"


def test_with_the_feature_off_the_migration_runs_unnotified(clock: ManualClock) -> None:
    sim = Simulator(clock, host_timeout=120, knobs=Knobs(max_apps=1))
    guest = Guest(sim)
    token = guest.register()
    sim.set(host_timeout=0)
    guest.drain(token)  # the timeout-change
    op_id = sim.vmotion()
    assert sim.operation(op_id)["notified"] is False
    clock.advance(60)
    assert guest.drain(token) == []


def test_unregistering_releases_the_hold(sim: Simulator, guest: Guest) -> None:
    token = guest.register()
    op_id = sim.vmotion()
    guest.unregister(token)
    op = sim.operation(op_id)
    assert (op["phase"], op["forced"]) == ("migrating", False)


# ---------------------------------------------------------------- timeouts and config changes


def test_a_timeout_change_queues_an_event_with_old_and_new_values(sim: Simulator, guest: Guest) -> None:
    token = guest.register()
    sim.set(vm_timeout=60)
    event = guest.check(token)
    assert event["eventType"] == "timeout-change"
    assert (event["notificationTimeoutInSec"], event["newNotificationTimeoutInSec"]) == (120, 60)
    assert "opType" not in event
    assert event["operationId"] // 1_000_000 == event["eventGenTimeInSec"]  # a microsecond timestamp [S1 OBS]
    assert guest.ack(token, event["operationId"])["ackStatus"] == "ack_received"


def test_a_change_that_keeps_the_effective_timeout_queues_nothing(sim: Simulator, guest: Guest) -> None:
    token = guest.register()
    sim.set(vm_timeout=300)  # min(120, 300) is still 120
    assert guest.drain(token) == []


def test_a_timeout_change_does_not_move_a_running_deadline_by_default(
    sim: Simulator, clock: ManualClock, guest: Guest
) -> None:
    guest.register()
    op_id = sim.vmotion()
    sim.set(vm_timeout=30)
    clock.advance(60)
    assert sim.operation(op_id)["phase"] == "waiting-ack"


def test_the_knob_makes_a_timeout_change_move_the_deadline(clock: ManualClock) -> None:
    sim = Simulator(clock, knobs=Knobs(timeout_change_moves_deadline=True))
    Guest(sim).register()
    op_id = sim.vmotion()
    clock.advance(10)
    sim.set(vm_timeout=30)
    clock.advance(20)
    op = sim.operation(op_id)
    assert (op["forced"], op["migration_started_at"]) == (True, T0 + 30)


def test_destination_timeout_is_reported_separately(clock: ManualClock) -> None:
    sim = Simulator(clock, host_timeout=120, dest_host_timeout=90)
    guest = Guest(sim)
    token = guest.register()
    sim.vmotion()
    start = guest.check(token)
    assert (start["notificationTimeoutInSec"], start["destNotificationTimeoutInSec"]) == (120, 90)


def test_turning_the_vm_flag_off_stops_rpcs_of_registered_apps(sim: Simulator, guest: Guest) -> None:
    token = guest.register()
    sim.set(enabled=False)
    assert "not enabled on this VM" in refusal(guest, "check-for-event", {"uniqueToken": token})
    sim.set(enabled=True)
    assert guest.check(token)["result"] is True  # the registration was kept (knob disable_drops_registrations)


def test_bad_settings_are_refused(sim: Simulator) -> None:
    with pytest.raises(SimulatorError, match="host_timeout"):
        sim.set(host_timeout=-5)


def test_minus_one_unsets_the_vm_timeout_as_vsphere_shows_it(sim: Simulator, guest: Guest) -> None:
    token = guest.register()
    sim.set(vm_timeout=60)
    sim.set(vm_timeout=-1)
    assert (sim.status()["config"]["vm_timeout"], sim.status()["effective_timeout"]) == (None, 120)
    changes = [(e["notificationTimeoutInSec"], e["newNotificationTimeoutInSec"]) for e in guest.drain(token)]
    assert changes == [(120, 60), (60, 120)]


@pytest.mark.parametrize(
    "changes",
    [
        {"dest_host_timeout": -7},
        {"host_timeout": True},
        {"host_timeout": None},
        {"vm_timeout": -2},
        {"vm_timeout": 1.5},
        {"enabled": "false"},
    ],
)
def test_settings_of_the_wrong_kind_are_refused_and_change_nothing(sim: Simulator, changes: dict[str, object]) -> None:
    before = sim.status()["config"]
    with pytest.raises(SimulatorError):
        sim.set(**changes)
    assert sim.status()["config"] == before


@pytest.mark.parametrize("seconds", [float("nan"), float("inf"), -1.0])
def test_time_moves_only_by_finite_amounts(sim: Simulator, clock: ManualClock, seconds: float) -> None:
    with pytest.raises(SimulatorError):
        sim.advance(seconds)
    with pytest.raises(SimulatorError):
        sim.vmotion(migration_seconds=seconds)
    with pytest.raises(SimulatorError):
        sim.fault(latency=seconds)
    assert clock.now() == T0
    assert sim.status()["operations"] == []


# ---------------------------------------------------------------- reboot, knobs, faults


def test_a_reboot_drops_every_registration_and_queue(sim: Simulator, guest: Guest) -> None:
    token = guest.register()
    op_id = sim.vmotion()
    sim.reboot()
    assert "Could not find application" in refusal(guest, "check-for-event", {"uniqueToken": token})
    assert sim.status()["registrations"] == []
    assert sim.operation(op_id)["phase"] == "migrating"  # nobody is left to wait for
    guest.register("after-reboot")


def test_stale_starts_are_delivered_unless_the_purge_knob_is_on(clock: ManualClock) -> None:
    for purge, expected in ((False, ["start", "end"]), (True, ["end"])):
        sim = Simulator(clock, knobs=Knobs(purge_stale_starts=purge))
        guest = Guest(sim)
        token = guest.register()
        sim.vmotion()
        clock.advance(200)
        assert [e["eventType"] for e in guest.drain(token)] == expected


def test_late_registrants_get_the_start_only_with_the_knob(clock: ManualClock) -> None:
    sim = Simulator(clock, knobs=Knobs(deliver_start_to_late_registrants=True))
    sim.set(host_timeout=100)
    op_id = sim.vmotion(migration_seconds=0)  # nobody registered: runs at once
    clock.advance(1)
    guest = Guest(sim)
    token = guest.register()
    op2 = (clock.advance(1), sim.vmotion())[1]
    assert guest.check(token)["operationId"] == op2 != op_id


def test_the_queue_limit_drops_new_events(clock: ManualClock) -> None:
    sim = Simulator(clock, knobs=Knobs(queue_limit=1))
    guest = Guest(sim)
    token = guest.register()
    sim.set(vm_timeout=60)
    sim.set(vm_timeout=30)
    assert [e["newNotificationTimeoutInSec"] for e in guest.drain(token)] == [60]


@pytest.mark.parametrize(
    ("envelope", "stdout", "stderr", "exit_code"),
    [
        ("json-stdout", '{"version":"1.0.0", "result": false, "errorMessage": "{m}" }\n', "", 0),
        ("json-stderr", "", '{"version":"1.0.0", "result": false, "errorMessage": "{m}" }\n', 1),
        ("text-stderr", "", "{m}\n", 1),
    ],
)
def test_error_envelopes(clock: ManualClock, envelope: str, stdout: str, stderr: str, exit_code: int) -> None:
    sim = Simulator(clock, knobs=Knobs(error_envelope=envelope))
    message = (
        "vm-operation-notification.unregister: Invalid input: Could not find application with the token., "
        "please see schema for detail and examples"
    )
    result = sim.call('vm-operation-notification.unregister {"uniqueToken": "x"}')
    assert result == (stdout.replace("{m}", message), stderr.replace("{m}", message), exit_code)


def test_unknown_verbs_get_the_rpc_layers_unknown_command(sim: Simulator) -> None:
    assert sim.call("vm-operation-notification.cancel {}") == ("", "Unknown command\n", 1)


def test_channel_down_answers_as_outside_a_vm_and_loses_nothing(sim: Simulator, guest: Guest) -> None:
    token = guest.register()
    sim.vmotion()
    sim.fault(channel_down=True, remaining=1)
    check = f'vm-operation-notification.check-for-event {{"uniqueToken": "{token}"}}'
    assert sim.call(check) == ("", "Unable to send command to VMware hypervisor.\n", 1)
    assert guest.check(token)["eventType"] == "start"  # the fault is spent; the event was still queued


def test_garbled_and_truncated_replies_are_not_json(sim: Simulator, guest: Guest) -> None:
    sim.fault(garble=True)
    result = sim.call("vm-operation-notification.list")
    with pytest.raises(ValueError):
        json.loads(result.stdout)
    sim.fault(truncate=True)
    result = sim.call("vm-operation-notification.list")
    assert not result.stdout.endswith("\n")
    assert '{"version":"1.0.0", "result": true, "info": [     {"appName"'.startswith(result.stdout[:20])
    sim.fault()
    assert guest.rpc("list")["result"] is True


def test_latency_is_spent_on_the_injected_clock(sim: Simulator, clock: ManualClock, guest: Guest) -> None:
    sim.fault(latency=2.5)
    guest.rpc("list")
    assert clock.now() == T0 + 2.5


def test_an_unsupported_host_answers_unknown_command(sim: Simulator) -> None:
    sim.fault(unsupported=True)
    assert sim.call("vm-operation-notification.list") == ("", "Unknown command\n", 1)


def test_the_journal_records_every_rpc_in_time_order(sim: Simulator, clock: ManualClock, guest: Guest) -> None:
    token = guest.register()
    clock.advance(5)
    guest.check(token)
    rpcs = list(Journal(sim.journal()).rpcs())
    assert [(e.verb, e.time, e.exit_code) for e in rpcs] == [
        ("register", T0, 0),
        ("check-for-event", T0 + 5, 0),
    ]
    assert rpcs[1].stdout == '{"version":"1.0.0", "result": true }\n'


def test_status_never_shows_tokens(sim: Simulator, guest: Guest) -> None:
    token = guest.register()
    sim.vmotion()
    assert token not in json.dumps(sim.status().as_dict())


def test_reset_forgets_everything(sim: Simulator, guest: Guest) -> None:
    guest.register()
    sim.vmotion()
    sim.reset()
    status = sim.status()
    assert (status["registrations"], status["operations"], sim.journal()) == ([], [], [])


def test_a_120_second_timeout_scenario_runs_on_virtual_time(sim: Simulator, clock: ManualClock, guest: Guest) -> None:
    token = guest.register()
    op_id = sim.vmotion()
    for _ in range(120):  # a handler polling every second that never acks
        guest.check(token)
        clock.sleep(1)
    assert sim.operation(op_id)["forced"] is True
    assert clock.now() - T0 == 120


# ---------------------------------------------------------------- operation ids (issue 10, C6)


@pytest.mark.parametrize("start", [13_000_000_000_000.0, 18_000_000_000_000.0, 253_402_300_799.0])
def test_operation_ids_stay_within_64_bits_and_are_acked_at_any_clock_time(start: float) -> None:
    sim = Simulator(ManualClock(start), host_timeout=120, seed=7)
    guest = Guest(sim)
    token = guest.register()
    seen = []
    for _ in range(3):
        op_id = sim.vmotion()
        seen.append(op_id)
        assert 0 <= op_id < 2**64
        assert guest.check(token)["operationId"] == op_id
        assert guest.ack(token, op_id)["ackStatus"] == "ack_received"
        sim.advance(20)
        guest.drain(token)
    sim.set(host_timeout=60)
    assert 0 <= guest.check(token)["operationId"] < 2**64  # the timeout-change id too
    assert len(set(seen)) == 3
