"""eventGenTimeInSec is the host's clock: a guest clock that disagrees must not skip the quiesce, nor let it
outlast the hypervisor's real timeout (issue 10, H5). The simulator keeps the host's time, the handler a
clock offset from it, both on the same virtual time."""

from __future__ import annotations

import json
import logging
from pathlib import Path

import pytest

from handler.state import FileStateStore
from simulator import Simulator
from tests.handler.virtual import T0, Crash, ScriptedHooks, SkewedClock, Timeline, make_handler, rpcs

SKEW_WARNING = "clock skew: eventGenTimeInSec"


def test_a_guest_clock_12_s_ahead_still_quiesces_within_the_hosts_timeout(
    sim: Simulator, timeline: Timeline, hooks: ScriptedHooks, store: FileStateStore,
    caplog: pytest.LogCaptureFixture,
) -> None:
    sim.set_config(host_timeout=10)
    hooks.script("quiesce", seconds=3)
    timeline.at(5, sim.vmotion)
    make_handler(sim, timeline, hooks, store, stop_at=60, clock=SkewedClock(timeline, +12)).run()
    (quiesce,) = hooks.of("quiesce")  # before: "stale start", quiesce skipped
    assert quiesce.outcome == "ok"
    # Counted from the start of the last poll that found the queue empty (t=4, in the guest's time +12).
    assert quiesce.env["VMOTION_DEADLINE"] == str(int(T0 + 4 + 12 + 10 - 2))
    (op,) = sim.status()["operations"]
    assert op["acked"] is True and op["forced"] is False
    (warning,) = [r for r in caplog.records if SKEW_WARNING in r.getMessage()]
    assert warning.levelno == logging.WARNING and "host's clock is behind by about 11 s" in warning.getMessage()
    assert not any("stale start" in r.getMessage() for r in caplog.records)


def test_a_guest_clock_12_s_behind_kills_the_quiesce_before_the_hosts_real_timeout(
    sim: Simulator, timeline: Timeline, hooks: ScriptedHooks, store: FileStateStore,
    caplog: pytest.LogCaptureFixture,
) -> None:
    sim.set_config(host_timeout=10)
    hooks.script("quiesce", seconds=600)
    timeline.at(5, sim.vmotion)
    make_handler(sim, timeline, hooks, store, stop_at=60, clock=SkewedClock(timeline, -12)).run()
    (quiesce,) = hooks.of("quiesce")
    assert quiesce.outcome == "killed"
    assert quiesce.ended is not None and quiesce.ended == 4 + 10 - 2  # before: killed at 25, after the timeout
    (op,) = sim.status()["operations"]
    assert op["acked"] is True and op["forced"] is False
    assert any(SKEW_WARNING in r.getMessage() and "host's clock is ahead by about 13 s" in r.getMessage() for r in caplog.records)


@pytest.mark.parametrize("offset", [+0.9, -0.9, +1.5])
def test_clocks_that_agree_within_ntp_slack_trust_the_hosts_time(
    offset: float, sim: Simulator, timeline: Timeline, hooks: ScriptedHooks, store: FileStateStore,
    caplog: pytest.LogCaptureFixture,
) -> None:
    sim.set_config(host_timeout=30)
    timeline.at(5.5, sim.vmotion)
    make_handler(sim, timeline, hooks, store, stop_at=60, clock=SkewedClock(timeline, offset)).run()
    (quiesce,) = hooks.of("quiesce")
    assert quiesce.env["VMOTION_DEADLINE"] == str(int(T0 + 5 + 30 - 2))  # eventGenTimeInSec + timeout - margin
    assert not any(SKEW_WARNING in r.getMessage() for r in caplog.records)


def test_the_skew_is_recorded_in_the_state_file(
    sim: Simulator, timeline: Timeline, hooks: ScriptedHooks, store: FileStateStore, state_path: Path
) -> None:
    sim.set_config(host_timeout=10)
    hooks.script("quiesce", seconds=3)
    timeline.at(5, sim.vmotion)
    handler = make_handler(sim, timeline, hooks, store, clock=SkewedClock(timeline, +12))
    assert handler.start()
    while timeline.elapsed() < 10:
        if not handler.step():
            timeline.sleep(1)
    (record,) = json.loads(state_path.read_text())["operations"]
    assert record["phase"] == "acked" and record["clock_skew"] == record["event_gen_time"] - (T0 + 4 + 12)
    assert rpcs(sim, "ack-event")[0]["t"] == 8


def test_a_run_restarted_after_a_crash_mid_quiesce_acks_by_the_recorded_skew(
    sim: Simulator, timeline: Timeline, hooks: ScriptedHooks, store: FileStateStore
) -> None:
    sim.set_config(host_timeout=10)
    hooks.script("quiesce", seconds=1, crash=True)
    timeline.at(5, sim.vmotion)
    guest = SkewedClock(timeline, +12)
    with pytest.raises(Crash):
        make_handler(sim, timeline, hooks, store, clock=guest, stop_at=30).run()
    # By the host's eventGenTimeInSec (taken as is) the timeout passed 3 s ago; by the recorded skew 8 s are left.
    handler = make_handler(sim, timeline, hooks, store, clock=guest)
    assert handler.start()
    (op,) = sim.status()["operations"]
    assert op["acked"] is True and op["forced"] is False
