"""The cluster knobs change what the what-if answers, each in the way its row in the README says."""

from __future__ import annotations

import math

import pytest

from tests.cluster.run import evacuate, evacuate_json

N, C, Q, M = 10, 4, 6, 20
BASE = ["--vms", str(N), "--concurrency", str(C), "--quiesce", str(Q), "--migration-seconds", str(M),
        "--timeout", "120", "--aligned-polls"]


def test_by_default_a_vm_is_notified_when_its_migration_takes_a_slot_and_waits_for_its_ack_in_it() -> None:
    out = evacuate_json(*BASE)
    for row in out["vms"]:
        assert row["notified"] == row["admitted"]
        assert row["migration"][0] == row["released"]
    assert out["total_seconds"] == math.ceil(N / C) * (Q + M)
    # Each full wave holds every slot while the quiesces run: two full waves of 4.
    assert out["all_slots_waiting_seconds"] == 2 * Q


def test_notified_at_maintenance_start_every_quiesce_runs_at_once_and_only_migrations_queue() -> None:
    out = evacuate_json(*BASE, "--knob", "notify=maintenance-start")
    assert {row["notified"] for row in out["vms"]} == {0.0}
    assert {row["released"] for row in out["vms"]} == {float(Q)}
    assert out["total_seconds"] == Q + math.ceil(N / C) * M
    # The VMs queued behind the first wave stay quiesced while they wait for a slot.
    late = out["vms"][-1]
    assert late["unquiesced"] - late["quiesce"][0] > 2 * M


def test_when_a_held_migration_keeps_no_slot_slots_are_never_all_waiting_on_acks() -> None:
    out = evacuate_json(*BASE, "--knob", "wait_holds_slot=false")
    assert out["all_slots_waiting_seconds"] == 0.0
    for row in out["vms"]:
        assert row["admitted"] >= row["released"]
    assert out["total_seconds"] == Q + math.ceil(N / C) * M


def test_a_slow_quiesce_holding_every_slot_is_what_the_all_slots_waiting_figure_shows() -> None:
    held = evacuate_json(*BASE[:4], "--quiesce", "100", "--migration-seconds", "5", "--timeout", "120",
                         "--aligned-polls")
    free = evacuate_json(*BASE[:4], "--quiesce", "100", "--migration-seconds", "5", "--timeout", "120",
                         "--aligned-polls", "--knob", "wait_holds_slot=false")
    assert held["all_slots_waiting_seconds"] == 2 * 100
    assert held["total_seconds"] > 2 * free["total_seconds"]


def test_a_knob_that_does_not_exist_or_a_value_it_does_not_take_is_a_usage_error() -> None:
    for knob in ("notify=whenever", "wait_holds_slot=maybe", "queue_limit=3", "notify"):
        outcome = evacuate("--vms", "2", "--knob", knob)
        assert outcome.exit_code == 2
        assert len(outcome.stderr.strip().splitlines()) == 1 and "Traceback" not in outcome.stderr


KNOBS = [[], ["--knob", "notify=maintenance-start"], ["--knob", "wait_holds_slot=false"],
         ["--knob", "notify=maintenance-start", "--knob", "wait_holds_slot=false"]]


@pytest.mark.parametrize("knobs", KNOBS, ids=["default", "maintenance-start", "slot-free", "both"])
@pytest.mark.parametrize("seed", [1, 2])
def test_under_any_knobs_every_vm_leaves_once_and_a_slot_never_holds_two_vms(knobs: list[str], seed: int) -> None:
    timeouts = ",".join(str(t) for t in [30, 0, 10, 120, 45, 0, 20, 30, 60, 15, 30, 90, 5])
    out = evacuate_json("--timeout", timeouts, "--concurrency", "3", "--quiesce", "uniform:1:40",
                        "--migration-seconds", "uniform:2:25", "--seed", str(seed), *knobs)
    holds = []
    for row in out["vms"]:
        start, end = row["migration"]
        assert 0 <= row["admitted"] <= start < end <= out["total_seconds"]
        assert row["released"] <= start
        taken = row["admitted"] if "wait_holds_slot=false" not in knobs else start
        holds.append((row["slot"], taken, end))
    for slot in {h[0] for h in holds}:
        spans = sorted((a, b) for s, a, b in holds if s == slot)
        assert all(b <= a_next for (_, b), (a_next, _) in zip(spans, spans[1:])), spans
    assert {h[0] for h in holds} <= {1, 2, 3}
    assert out["not_notified"] == ["vm-02", "vm-06"]
    # A guest that was notified fetched its end and unquiesced (the handler's own doing) after its migration.
    for row in out["vms"]:
        if row["quiesce"] is not None:
            assert row["unquiesced"] >= row["migration"][1]


def test_a_vm_left_waiting_for_a_slot_past_the_handlers_end_timeout_is_unquiesced_by_its_own_handler() -> None:
    # All notified at once, one slot, migrations of 2,000 s: the handler waits an hour (its --end-timeout)
    # past the 60 s deadline for an end event, then unquiesces on its own, wherever the migration stands.
    out = evacuate_json("--vms", "4", "--concurrency", "1", "--timeout", "60", "--quiesce", "5",
                        "--migration-seconds", "2000", "--aligned-polls", "--knob", "notify=maintenance-start")
    unquiesced = [row["unquiesced"] for row in out["vms"]]
    assert unquiesced == [2005.0, 3660.0, 3660.0, 3660.0]
    assert [row["migration"][0] for row in out["vms"]] == [5.0, 2005.0, 4005.0, 6005.0]
    assert out["total_seconds"] == 8005.0
