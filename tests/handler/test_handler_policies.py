"""Deadlines, quiesce-failure policies, timeout-change, stale starts and end events, on virtual time."""

from __future__ import annotations

import json
import logging
from typing import Any

import pytest

from handler.protocol import TransportError
from handler.state import FileStateStore
from simulator import Simulator
from simulator.harness.virtual import T0, ScriptedHooks, VirtualTime
from tests.handler.virtual import make_handler, rpcs


def _op(sim: Simulator) -> dict[str, Any]:
    (op,) = sim.status()["operations"]
    return dict(op)


def test_a_slow_quiesce_is_killed_at_the_deadline_and_acked_at_once(
    sim: Simulator, timeline: VirtualTime, hooks: ScriptedHooks, store: FileStateStore
) -> None:
    sim.set(host_timeout=30)
    hooks.script("quiesce", seconds=600)  # would outlast any timeout
    timeline.at(1, sim.vmotion)
    make_handler(sim, timeline, hooks, store, stop_at=100, safety_margin=2.0).run()

    (quiesce,) = hooks.of("quiesce")
    assert quiesce.outcome == "killed"
    assert quiesce.ended == 1 + 30 - 2  # eventGenTimeInSec + notificationTimeoutInSec - margin
    (ack,) = rpcs(sim, "ack-event")
    assert ack["t"] == quiesce.ended
    op = _op(sim)
    assert op["acked"] is True and op["forced"] is False  # the ack beat the hypervisor's timeout
    assert len(hooks.of("unquiesce")) == 1  # it did quiesce (partly), so it unquiesces after the end


def test_a_failing_quiesce_is_acked_anyway_by_default(
    sim: Simulator, timeline: VirtualTime, hooks: ScriptedHooks, store: FileStateStore,
    caplog: pytest.LogCaptureFixture,
) -> None:
    hooks.script("quiesce", seconds=3, exit_code=4)
    timeline.at(1, sim.vmotion)
    make_handler(sim, timeline, hooks, store, stop_at=40).run()
    (ack,) = rpcs(sim, "ack-event")
    assert ack["t"] == 4
    assert _op(sim)["acked"] is True
    assert any("exit status 4" in r.message and "ack-anyway" in r.message and r.levelno == logging.WARNING
               for r in caplog.records)
    assert len(hooks.of("unquiesce")) == 1


def test_a_failing_quiesce_is_not_acked_under_no_ack(
    sim: Simulator, timeline: VirtualTime, hooks: ScriptedHooks, store: FileStateStore,
    caplog: pytest.LogCaptureFixture,
) -> None:
    hooks.script("quiesce", seconds=3, exit_code=1)
    timeline.at(1, sim.vmotion)
    make_handler(sim, timeline, hooks, store, stop_at=200, on_quiesce_failure="no-ack").run()
    assert rpcs(sim, "ack-event") == []
    op = _op(sim)
    assert op["forced"] is True and op["phase"] == "done"  # the hypervisor went ahead at its timeout
    assert any("no-ack" in r.message and r.levelno == logging.ERROR for r in caplog.records)
    (unquiesce,) = hooks.of("unquiesce")  # the end still brings the application back
    assert unquiesce.env["VMOTION_OP_STATUS"] == "success"


def test_queued_timeout_change_and_start_are_drained_without_sleeping(
    sim: Simulator, timeline: VirtualTime, hooks: ScriptedHooks, store: FileStateStore
) -> None:
    hooks.script("quiesce", seconds=0)
    handler = make_handler(sim, timeline, hooks, store)
    assert handler.start()
    sim.set(host_timeout=60)  # queues timeout-change
    sim.vmotion()  # queues start
    timeline.advance(0.5)  # both are waiting when the handler next looks
    sleeps_before = len(timeline.sleeps)
    assert handler.step() and handler.step()
    assert not handler.step()
    assert len(timeline.sleeps) == sleeps_before  # no sleep between the events
    checks = rpcs(sim, "check-for-event")
    assert [c["t"] for c in checks] == [0.5, 0.5, 0.5]
    assert '"eventType": "timeout-change"' in checks[0]["stdout"]
    assert '"eventType": "start"' in checks[1]["stdout"]
    acks = [json.loads(a["request"].split(" ", 1)[1])["operationId"] for a in rpcs(sim, "ack-event")]
    tc_id = json.loads(checks[0]["stdout"])["operationId"]
    start_id = json.loads(checks[1]["stdout"])["operationId"]
    assert acks == [tc_id, start_id]  # the timeout-change is acked too, as VMware's sample does
    (quiesce,) = hooks.of("quiesce")
    assert quiesce.env["VMOTION_TIMEOUT"] == "60"


def test_timeout_change_ack_can_be_switched_off(
    sim: Simulator, timeline: VirtualTime, hooks: ScriptedHooks, store: FileStateStore
) -> None:
    handler = make_handler(sim, timeline, hooks, store, ack_timeout_change=False)
    assert handler.start()
    sim.set(host_timeout=60)
    assert handler.step()
    assert rpcs(sim, "ack-event") == []


def test_timeout_change_during_quiesce_replans_its_deadline(
    sim: Simulator, timeline: VirtualTime, hooks: ScriptedHooks, store: FileStateStore
) -> None:
    hooks.script("quiesce", seconds=100)
    timeline.at(1, sim.vmotion)
    timeline.at(10, lambda: sim.set(host_timeout=30))
    make_handler(sim, timeline, hooks, store, stop_at=150).run()
    (quiesce,) = hooks.of("quiesce")
    assert quiesce.outcome == "killed"
    assert quiesce.ended == 1 + 30 - 2  # the new timeout, counted from the start event
    acks = rpcs(sim, "ack-event")
    assert len(acks) == 2  # the timeout-change (while quiescing) and then the start
    assert acks[0]["t"] == 10 and acks[1]["t"] == 29


def test_a_timeout_that_grows_during_quiesce_keeps_the_earlier_deadline(
    sim: Simulator, timeline: VirtualTime, hooks: ScriptedHooks, store: FileStateStore
) -> None:
    sim.set(host_timeout=60)
    hooks.script("quiesce", seconds=100)
    timeline.at(10, sim.vmotion)
    timeline.at(20, lambda: sim.set(host_timeout=120))  # the simulator keeps the held deadline (knob)
    make_handler(sim, timeline, hooks, store, stop_at=200).run()
    (quiesce,) = hooks.of("quiesce")
    assert (quiesce.outcome, quiesce.ended) == ("killed", 10 + 60 - 2)
    assert quiesce.env["VMOTION_DEADLINE"] == str(int(T0 + 10 + 60 - 2))
    op = _op(sim)
    assert op["acked"] is True and op["forced"] is False


def test_a_stale_start_is_skipped_with_a_warning(
    sim: Simulator, timeline: VirtualTime, hooks: ScriptedHooks, store: FileStateStore,
    caplog: pytest.LogCaptureFixture,
) -> None:
    handler = make_handler(sim, timeline, hooks, store)
    assert handler.start()
    sim.vmotion()
    timeline.advance(125)  # the handler was stuck: the start is past its timeout when fetched
    assert handler.step()
    assert hooks.of("quiesce") == []
    assert rpcs(sim, "ack-event") == []
    assert any("stale start" in r.message and r.levelno == logging.WARNING for r in caplog.records)
    assert _op(sim)["forced"] is True
    # Its end: this handler never quiesced, so it does not unquiesce.
    timeline.advance(20)
    while handler.step():
        pass
    assert hooks.of("unquiesce") == []
    assert any("did not quiesce" in r.message for r in caplog.records)


def test_a_start_inside_the_safety_margin_is_acked_without_quiescing(
    sim: Simulator, timeline: VirtualTime, hooks: ScriptedHooks, store: FileStateStore
) -> None:
    handler = make_handler(sim, timeline, hooks, store, safety_margin=5)
    assert handler.start()
    sim.vmotion()
    timeline.advance(117)  # 3 s left: less than the margin, still before the hypervisor's timeout
    assert handler.step()
    assert hooks.of("quiesce") == []
    (ack,) = rpcs(sim, "ack-event")
    assert ack["t"] == 117
    assert _op(sim)["acked"] is True


def test_a_failed_migration_still_unquiesces(
    sim: Simulator, timeline: VirtualTime, hooks: ScriptedHooks, store: FileStateStore,
    caplog: pytest.LogCaptureFixture,
) -> None:
    timeline.at(1, lambda: sim.vmotion(outcome="failure"))
    make_handler(sim, timeline, hooks, store, stop_at=40).run()
    (unquiesce,) = hooks.of("unquiesce")
    assert unquiesce.env["VMOTION_OP_STATUS"] == "failure"
    assert any("did not move" in r.message and "opStatus=failure" in r.message for r in caplog.records)


def test_dry_run_registers_and_logs_but_runs_no_hook_and_sends_no_ack(
    sim: Simulator, timeline: VirtualTime, hooks: ScriptedHooks, store: FileStateStore,
    caplog: pytest.LogCaptureFixture,
) -> None:
    timeline.at(1, sim.vmotion)
    make_handler(sim, timeline, hooks, store, stop_at=200, dry_run=True).run()
    assert len(rpcs(sim, "register")) == 1 and len(rpcs(sim, "unregister")) == 1
    assert hooks.runs == []
    assert rpcs(sim, "ack-event") == []
    assert any("dry run: would run quiesce" in r.message for r in caplog.records)


def test_an_unknown_event_type_is_logged_and_skipped(
    sim: Simulator, timeline: VirtualTime, hooks: ScriptedHooks, store: FileStateStore,
    caplog: pytest.LogCaptureFixture,
) -> None:
    # A future eventType the simulator does not model: one reply is swapped on its way back.
    swapped: list[str] = []

    def transport(rpc: str):  # type: ignore[no-untyped-def]
        result = sim.call(rpc)
        if "check-for-event" in rpc and not swapped:
            swapped.append(rpc)
            return result._replace(stdout='{"version":"1.0.0", "result": true, "eventType": "suspend",  '
                                   '"eventGenTimeInSec": 1700000000, "operationId": 18446744073709551615 }\n')
        return result

    timeline.at(3, sim.vmotion)
    make_handler(sim, timeline, hooks, store, stop_at=40, transport=transport).run()
    assert any("unknown eventType 'suspend'" in r.message and "18446744073709551615" in r.message
               for r in caplog.records)
    assert len(hooks.of("quiesce")) == 1 and len(rpcs(sim, "ack-event")) == 1  # and the loop went on


def test_hook_environment_deadline_is_in_epoch_seconds(
    sim: Simulator, timeline: VirtualTime, hooks: ScriptedHooks, store: FileStateStore
) -> None:
    timeline.at(2.5, sim.vmotion)
    make_handler(sim, timeline, hooks, store, stop_at=10, safety_margin=1.5).run()
    (quiesce,) = hooks.of("quiesce")
    gen = int(quiesce.env["VMOTION_EVENT_GEN_TIME"])
    assert abs(gen - (T0 + 2.5)) < 1
    assert float(quiesce.env["VMOTION_DEADLINE"]) == gen + 120 - 1.5


def test_notifications_turned_off_mid_migration_unquiesce_without_waiting_for_the_end(
    sim: Simulator, timeline: VirtualTime, hooks: ScriptedHooks, store: FileStateStore,
    caplog: pytest.LogCaptureFixture,
) -> None:
    timeline.at(1, sim.vmotion)
    timeline.at(10, lambda: sim.set(enabled=False))  # the end (at 2 + 15) can no longer be fetched
    make_handler(sim, timeline, hooks, store, stop_at=300).run()
    assert _op(sim)["acked"] is True
    (unquiesce,) = hooks.of("unquiesce")
    assert unquiesce.env["VMOTION_REASON"] == "notifications-disabled"
    assert 10 <= unquiesce.started <= 11  # at the first poll refused, not at the stop
    assert any("notifications are disabled" in r.message and r.levelno == logging.WARNING for r in caplog.records)


def test_a_hung_vmtoolsd_during_the_quiesce_cannot_push_the_kill_past_the_deadline(
    sim: Simulator, timeline: VirtualTime, hooks: ScriptedHooks, store: FileStateStore
) -> None:
    """While the quiesce runs the handler polls for timeout-change; a hung call lasts rpc_timeout."""
    sim.set(host_timeout=30)
    hooks.script("quiesce", seconds=600)
    timeline.at(1, sim.vmotion)
    quiescing = {"on": False}

    def transport(rpc: str) -> Any:
        if quiescing["on"] and "check-for-event" in rpc:
            timeline.advance(10.0)  # the call hangs until the transport's timeout kills it
            raise TransportError("hang", "vmtoolsd did not answer within 10 s")
        reply = sim.call(rpc)
        quiescing["on"] = quiescing["on"] or '"eventType": "start"' in reply.stdout
        return reply

    make_handler(sim, timeline, hooks, store, stop_at=100, safety_margin=2.0, rpc_timeout=10.0,
                 transport=transport).run()
    (quiesce,) = hooks.of("quiesce")
    assert quiesce.ended == 1 + 30 - 2
    op = _op(sim)
    assert op["acked"] is True and op["forced"] is False
