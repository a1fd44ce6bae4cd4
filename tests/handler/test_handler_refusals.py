"""Refusals of token calls: "can't tell" keeps the registration, an unexplained loss is still found."""

from __future__ import annotations

import pytest

from handler.protocol import list_request
from handler.state import FileStateStore
from simulator import Knobs, ManualClock, Simulator
from tests.handler.virtual import ScriptedHooks, Timeline, make_handler, rpcs


def test_a_restart_while_notifications_are_disabled_keeps_the_still_valid_registration(
    sim: Simulator, timeline: Timeline, hooks: ScriptedHooks, store: FileStateStore
) -> None:
    first = make_handler(sim, timeline, hooks, store)
    assert first.start()
    sim.set_config(enabled=False)
    first.shutdown()  # SIGTERM: the unregister is refused, the token stays in the state file
    assert len(sim.status()["registrations"]) == 1

    start = timeline.elapsed()
    timeline.at(start + 30, lambda: sim.set_config(enabled=True))
    timeline.at(start + 60, sim.vmotion)
    make_handler(sim, timeline, hooks, store, stop_at=start + 120).run()
    assert len(rpcs(sim, "register")) == 1  # the registration was kept, not dropped and re-registered
    (op,) = sim.status()["operations"]
    assert op["acked"] is True and op["forced"] is False
    assert len(hooks.of("quiesce")) == 1 and len(hooks.of("unquiesce")) == 1
    assert sim.status()["registrations"] == []  # nothing leaked


WORDINGS = ["Invalid application handle.", "No such registration", "Request refused", "Application is disabled"]


@pytest.mark.parametrize("wording", WORDINGS)
def test_a_lost_registration_is_recognised_whatever_the_refusal_says(
    wording: str, clock: ManualClock, timeline: Timeline, hooks: ScriptedHooks, store: FileStateStore
) -> None:
    sim = Simulator(clock=clock, migration_seconds=15.0, knobs=Knobs(unknown_token_reason=wording))
    hooks.script("quiesce", seconds=2)
    timeline.at(1, sim.vmotion)
    timeline.at(6, sim.reboot)  # acked at 3, migrating: the registration (and the end event) are gone
    timeline.at(40, sim.vmotion)
    make_handler(sim, timeline, hooks, store, stop_at=100).run()
    assert [u.env["VMOTION_REASON"] for u in hooks.of("unquiesce")] == ["registration-lost", "end"]
    assert hooks.of("unquiesce")[0].started < 10  # not left quiesced until end_timeout
    assert len(rpcs(sim, "register")) == 2
    second = sim.status()["operations"][1]
    assert second["acked"] is True and second["forced"] is False
    assert sim.status()["registrations"] == []


def test_refusals_that_nothing_explains_count_as_a_loss_after_a_few(
    clock: ManualClock, timeline: Timeline, hooks: ScriptedHooks, store: FileStateStore
) -> None:
    sim = Simulator(clock=clock, knobs=Knobs(unknown_token_reason="Request refused"))

    def transport(rpc: str):  # type: ignore[no-untyped-def]
        if rpc == list_request():  # a host whose list cannot be used: the refusals stay unexplained
            return sim.call("vm-operation-notification.nonsense")
        return sim.call(rpc)

    timeline.at(5, sim.reboot)
    timeline.at(60, sim.vmotion)
    make_handler(sim, timeline, hooks, store, stop_at=100, transport=transport).run()
    refused = [r for r in rpcs(sim, "check-for-event") if r["exit_code"] != 0 or "false" in r["stdout"]]
    assert len(refused) == 3  # MAX_UNEXPLAINED_REFUSALS, then a new registration
    assert len(rpcs(sim, "register")) == 2
    assert sim.status()["operations"][0]["acked"] is True
    assert sim.status()["registrations"] == []
