"""The manual clock: virtual time that moves only when told to, running scheduled actions at their times."""

from __future__ import annotations

from typing import List, Tuple

import pytest

from simulator import ManualClock, Simulator


def test_scheduled_actions_run_in_order_each_at_its_own_time() -> None:
    clock = ManualClock(100.0)
    seen: List[Tuple[str, float]] = []
    clock.call_at(130.0, lambda: seen.append(("b", clock.now())))
    clock.call_at(110.0, lambda: seen.append(("a", clock.now())))
    clock.call_later(30.0, lambda: seen.append(("b2", clock.now())))  # same time as b, scheduled later
    clock.sleep(25.0)
    assert seen == [("a", 110.0)] and clock.now() == 125.0
    clock.move_to(200.0)
    assert seen == [("a", 110.0), ("b", 130.0), ("b2", 130.0)] and clock.now() == 200.0


def test_an_action_that_is_already_due_runs_at_the_next_move() -> None:
    clock = ManualClock(100.0)
    seen: List[float] = []
    clock.call_at(50.0, lambda: seen.append(clock.now()))
    assert seen == []
    clock.advance(0)
    assert seen == [100.0]  # the clock never goes back to run it


def test_a_vmotion_scheduled_while_a_handler_sleeps_is_requested_at_its_second() -> None:
    clock = ManualClock(1_000.0)
    sim = Simulator(clock, host_timeout=120)
    clock.call_at(1_010.0, sim.vmotion)
    clock.sleep(60)
    (op,) = sim.status()["operations"]
    assert op["requested_at"] == 1_010.0 and op["phase"] == "done"  # nobody registered: not held


@pytest.mark.parametrize("bad", [float("nan"), float("inf")])
def test_a_clock_refuses_non_finite_moves(bad: float) -> None:
    with pytest.raises(ValueError):
        ManualClock().advance(bad)


def test_a_clock_does_not_go_backwards() -> None:
    clock = ManualClock(100.0)
    with pytest.raises(ValueError):
        clock.move_to(99.0)
    with pytest.raises(ValueError):
        clock.advance(-1)
