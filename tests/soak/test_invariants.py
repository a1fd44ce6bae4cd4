"""The soak's invariants as pure functions over a journal the test writes itself (a simulator on a manual clock,
with this test as the hooks' probes), so each rule is seen to break and to hold."""

from __future__ import annotations

import json
from typing import List, Optional, Tuple

from simulator import ManualClock, Simulator
from simulator.harness.journal import Journal
from simulator.journal_entry import Entry
from simulator.soak import invariants


def journal(*probes: Tuple[float, str, str]) -> Journal[Entry]:
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


def broken(j: Journal[Entry], run: Optional[invariants.Run] = None) -> Optional[str]:
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


def test_a_restart_is_judged_by_its_own_window_not_by_a_later_reboot() -> None:
    clock = ManualClock()
    sim = Simulator(clock)
    run = kills_at(10)
    t0 = run.origin
    register = 'vm-operation-notification.register {"appName": "app", "notificationTypes": ["sla-miss"]}'
    clock.advance(t0 + 12 - clock.now())
    token = json.loads(sim.call(register).stdout)["uniqueToken"]
    for second in range(13, 60):
        clock.advance(t0 + second - clock.now())
        sim.call(f'vm-operation-notification.check-for-event {{"uniqueToken": "{token}"}}')
    assert invariants.restarted_handler_registered(Journal(sim.journal()), sim.status(), run, clock.now()) is None
    sim.reboot()  # the registration is gone, rightly, until the handler notices
    run.steps.append((clock.now(), {"do": "reboot"}))
    assert invariants.restarted_handler_registered(Journal(sim.journal()), sim.status(), run, clock.now()) is None
    without_the_reboot = kills_at(10)
    found = invariants.restarted_handler_registered(Journal(sim.journal()), sim.status(), without_the_reboot,
                                                    clock.now())
    assert found == "0 registrations 45 s after a restart"


def test_a_forced_start_breaks_clean_start_acked_unless_a_slow_unquiesce_held_its_quiesce_back() -> None:
    clock = ManualClock()
    sim = Simulator(clock, host_timeout=120)
    run = kills_at()
    clock.advance(run.origin + 300 - clock.now())
    sim.call('vm-operation-notification.register {"appName": "app", "notificationTypes": ["sla-miss"]}')
    sim.vmotion()
    clock.advance(200)  # never acked: forced at its timeout
    ops = sim.status().operations
    assert ops[0].forced
    found = invariants.clean_starts_acked(ops, run)
    assert found is not None and "was forced" in found
    # A 180 s unquiesce from an operation before: one hook at a time, so this quiesce could not start in time.
    run.steps.append((run.origin + 100, {"do": "hook", "hook": "unquiesce", "behaviour": "past-deadline"}))
    assert invariants.clean_starts_acked(ops, run) is None
    run.steps.append((run.origin + 150, {"do": "hook", "hook": "unquiesce", "behaviour": "fast"}))
    assert invariants.clean_starts_acked(ops, run) is None  # fast again, but within the guard before the start
    run.steps[-2:] = [(run.origin + 10, {"do": "hook", "hook": "unquiesce", "behaviour": "past-deadline"}),
                      (run.origin + 20, {"do": "hook", "hook": "unquiesce", "behaviour": "fast"})]
    assert invariants.clean_starts_acked(ops, run) is not None  # long over by then
