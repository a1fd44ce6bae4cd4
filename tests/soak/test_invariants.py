"""The soak's invariants as pure functions over a journal the test writes itself (a simulator on a manual clock,
with this test as the hooks' probes), so each rule is seen to break and to hold."""

from __future__ import annotations

from typing import List, Optional, Tuple

from simulator import ManualClock, Simulator
from simulator.harness.journal import Journal
from simulator.soak import invariants


def journal(*probes: Tuple[float, str, str]) -> Journal:
    """Hook starts at their seconds: (t, "quiesce" | "unquiesce", operation id)."""
    clock = ManualClock()
    t0 = clock.now()
    sim = Simulator(clock)
    for t, hook, op in probes:
        clock.advance(t0 + t - clock.now())
        sim.record_probe(hook, "started", env={"VMOTION_OPERATION_ID": op})
    return Journal(sim.journal())


def kills_at(*seconds: float) -> invariants.Run:
    t0 = ManualClock().now()
    run = invariants.Run(timeout=120, restart_bound=45, origin=t0)
    run.steps = [(t0 + t, {"do": "kill-restart"}) for t in seconds]
    return run


def broken(j: Journal, run: Optional[invariants.Run] = None) -> Optional[str]:
    return invariants.unquiesce_follows_quiesce(j, run or kills_at())


def test_each_unquiesce_follows_the_quiesce_of_its_own_operation() -> None:
    assert broken(journal((1, "quiesce", "7"), (5, "unquiesce", "7"), (9, "quiesce", "8"), (12, "unquiesce", "8"))) is None
    found = broken(journal((1, "quiesce", "7"), (5, "unquiesce", "8")))
    assert found is not None and "operation 8" in found
    found = broken(journal((5, "unquiesce", "7")))
    assert found is not None and "operation 7" in found and "5.0 s" in found


def test_a_second_unquiesce_of_one_operation_is_a_mistake_unless_a_crash_came_between() -> None:
    twice = journal((1, "quiesce", "7"), (5, "unquiesce", "7"), (30, "unquiesce", "7"))
    found = broken(twice)
    assert found is not None and "twice" in found
    # Killed during its unquiesce, a handler cannot know whether that hook finished: it runs it again.
    assert broken(twice, kills_at(6)) is None
    assert broken(twice, kills_at(31)) is not None  # a crash after both explains nothing
    # A probe reports when its hook runs, which may be after the handler that launched it was killed.
    assert broken(twice, kills_at(3)) is None
    late = journal((10, "quiesce", "7"), (15, "unquiesce", "7"), (30, "unquiesce", "7"))
    assert broken(late, kills_at(5)) is not None  # a crash before the operation's quiesce explains nothing


def test_a_crash_before_a_quiesce_was_seen_to_start_allows_its_unquiesce() -> None:
    # A hook killed with its handler may die before its probe reports: the state file said "quiescing", so the
    # restarted handler unquiesces an operation whose quiesce left no trace. A crash must come between.
    lone = journal((1, "quiesce", "7"), (2, "unquiesce", "7"), (40, "unquiesce", "9"))
    assert broken(lone) is not None
    assert broken(lone, kills_at(20)) is None


def test_nothing_left_quiesced_pairs_every_quiesce_with_a_later_unquiesce() -> None:
    assert invariants.nothing_left_quiesced(journal((1, "quiesce", "7"), (5, "unquiesce", "7"))) is None
    left: List[Tuple[float, str, str]] = [(1, "quiesce", "7"), (5, "unquiesce", "7"), (9, "quiesce", "8")]
    found = invariants.nothing_left_quiesced(journal(*left), kills_at())
    assert found is not None and "9.0 s" in found


def test_a_crash_before_the_operation_was_even_requested_excuses_nothing() -> None:
    clock = ManualClock()
    t0 = clock.now()
    sim = Simulator(clock)
    clock.advance(30)
    op = str(sim.vmotion())
    clock.advance(10)
    sim.record_probe("unquiesce", "started", env={"VMOTION_OPERATION_ID": op})
    j, ops = Journal(sim.journal()), sim.status().operations
    run = kills_at(20)
    assert run.origin == t0
    assert invariants.unquiesce_follows_quiesce(j, run, ops) is not None  # crashed before the vMotion began
    assert invariants.unquiesce_follows_quiesce(j, kills_at(35), ops) is None
