"""``Handler.run()`` itself on virtual time: the loop drains, keeps its poll grid when calls take time, acts
once on a start delivered twice, and unquiesces when the registration is lost while the application is
quiesced. (Other tests drive ``step()``; these catch a loop that only looks right step by step.)"""

from __future__ import annotations

import json
from typing import List

from handler.state import FileStateStore
from simulator import Simulator
from simulator.harness.virtual import ScriptedHooks, VirtualTime
from simulator.rpc import RpcResult
from tests.handler.virtual import make_handler, rpcs


def test_run_drains_queued_events_without_sleeping_between_them(
    sim: Simulator, timeline: VirtualTime, hooks: ScriptedHooks, store: FileStateStore
) -> None:
    def three_timeout_changes() -> None:
        for seconds in (110, 100, 90):
            sim.set(host_timeout=seconds)

    # Three timeout-changes queued between two polls: fetched (and acked) one per call, back to back.
    timeline.at(10.5, three_timeout_changes)
    make_handler(sim, timeline, hooks, store, stop_at=14).run()
    checks = [c["t"] for c in rpcs(sim, "check-for-event")]
    assert [t for t in checks if 10 < t < 12] == [11, 11, 11, 11]  # 3 events, then the empty reply
    assert [t for t in checks if t >= 12] == [12, 13]  # then the interval again
    assert [a["t"] for a in rpcs(sim, "ack-event")] == [11, 11, 11]


def test_run_keeps_its_polls_on_the_interval_grid_when_calls_take_time(
    sim: Simulator, timeline: VirtualTime, hooks: ScriptedHooks, store: FileStateStore
) -> None:
    """Each poll starts `interval` after the previous one started: a call's own time must not stretch it."""

    def slow_vmtoolsd(command: str) -> RpcResult:
        timeline.advance(0.3)  # every call costs 0.3 virtual seconds before it reaches the hypervisor
        return sim.call(command)

    make_handler(sim, timeline, hooks, store, stop_at=20, transport=slow_vmtoolsd).run()
    checks = [round(c["t"], 6) for c in rpcs(sim, "check-for-event")]
    first = checks[0]
    assert checks == [round(first + k, 6) for k in range(len(checks))]  # 1 s apart, not 1.3 s
    assert len(checks) >= 19


def test_a_start_delivered_twice_is_quiesced_and_acked_once(
    sim: Simulator, timeline: VirtualTime, hooks: ScriptedHooks, store: FileStateStore
) -> None:
    replayed: List[RpcResult] = []

    def replays_a_start(command: str) -> RpcResult:
        """A hypervisor that delivers the same start event again on the next check-for-event."""
        if replayed and "check-for-event" in command:
            return replayed.pop()
        result = sim.call(command)
        if '"eventType": "start"' in result.stdout:
            replayed.append(result)
        return result

    hooks.script("quiesce", seconds=2)
    timeline.at(5, sim.vmotion)
    make_handler(sim, timeline, hooks, store, stop_at=60, transport=replays_a_start).run()
    assert len(hooks.of("quiesce")) == 1
    (op,) = sim.status()["operations"]
    acked = [json.loads(a["request"].split(" ", 1)[1])["operationId"] for a in rpcs(sim, "ack-event")]
    assert acked == [op["operation_id"]]
    assert [r.env["VMOTION_REASON"] for r in hooks.of("unquiesce")] == ["end"]


def test_a_registration_lost_while_quiesced_unquiesces_and_registers_again(
    sim: Simulator, timeline: VirtualTime, hooks: ScriptedHooks, store: FileStateStore
) -> None:
    # Quiesced at 5, acked at 7; the VM reboots during the 15 s migration: no end event will ever come.
    hooks.script("quiesce", seconds=2)
    hooks.script("unquiesce", seconds=1)
    timeline.at(5, sim.vmotion)
    timeline.at(10.5, sim.reboot)
    make_handler(sim, timeline, hooks, store, stop_at=30).run()
    (quiesce,) = hooks.of("quiesce")
    (unquiesce,) = hooks.of("unquiesce")
    assert unquiesce.env["VMOTION_REASON"] == "registration-lost"
    assert unquiesce.env["VMOTION_OPERATION_ID"] == quiesce.env["VMOTION_OPERATION_ID"]
    assert unquiesce.started == 11  # at the first poll after the reboot
    assert [r["t"] for r in rpcs(sim, "register")] == [0, 12]  # after the unquiesce (1 s)


def test_the_handler_keeps_polling_while_a_long_unquiesce_runs(
    sim: Simulator, timeline: VirtualTime, hooks: ScriptedHooks, store: FileStateStore
) -> None:
    # An unquiesce may take minutes (an application warming up again). The handler must stay live: a start
    # that comes meanwhile is fetched at once (so its deadline is planned from when it was seen), and it is
    # quiesced for only after the unquiesce has finished.
    hooks.script("quiesce", seconds=1)
    hooks.script("unquiesce", seconds=100)
    timeline.at(3, sim.vmotion)
    timeline.at(40.5, sim.vmotion)
    make_handler(sim, timeline, hooks, store, stop_at=200).run()

    first_unquiesce = hooks.of("unquiesce")[0]
    began, ended = first_unquiesce.started, first_unquiesce.started + 100
    polls = [c["t"] for c in rpcs(sim, "check-for-event") if began < c["t"] < ended]
    assert len(polls) >= 90  # about one per interval (1 s) throughout the 100 s
    fetched = [c["t"] for c in rpcs(sim, "check-for-event") if '"eventType": "start"' in c["stdout"]]
    assert fetched[1] == 41  # the second start, seen at the first poll after it, mid-unquiesce
    second_quiesce = hooks.of("quiesce")[1]
    assert second_quiesce.started >= ended  # one hook at a time: the application is unquiesced first
    acks = rpcs(sim, "ack-event")
    assert len(acks) == 2 and acks[1]["t"] == second_quiesce.started + 1


def test_a_registration_lost_during_a_quiesce_stops_it_unquiesces_and_registers_again(
    sim: Simulator, timeline: VirtualTime, hooks: ScriptedHooks, store: FileStateStore
) -> None:
    # The VM reboots 7 s into a 100 s quiesce: the ack can no longer be sent (its token is gone), so holding
    # the application quiesced until the deadline serves nothing. The poll made while the hook runs finds out.
    hooks.script("quiesce", seconds=100)
    hooks.script("unquiesce", seconds=1)
    timeline.at(3, sim.vmotion)
    timeline.at(10.5, sim.reboot)
    make_handler(sim, timeline, hooks, store, stop_at=40).run()
    (quiesce,) = hooks.of("quiesce")
    assert quiesce.started == 3 and quiesce.ended == 11 and quiesce.outcome == "killed"
    (unquiesce,) = hooks.of("unquiesce")
    assert unquiesce.env["VMOTION_REASON"] == "registration-lost" and unquiesce.started == 11
    assert [r["t"] for r in rpcs(sim, "register")] == [0, 12]
    assert rpcs(sim, "ack-event") == []  # no ack sent with a token known to be gone
