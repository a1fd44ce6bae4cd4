"""Whatever the inputs, an evacuation keeps the host's rules: every VM leaves once, a slot holds one VM at a
time, a migration never moves before its hold ends, and the figures add up."""

from __future__ import annotations

from typing import List, Tuple

from hypothesis import given, settings
from hypothesis import strategies as st

from simulator.cluster import ClusterKnobs, Constant, EvacuationPlan, Uniform, evacuate
from simulator.cluster.distributions import Distribution

durations: st.SearchStrategy[Distribution] = st.one_of(
    st.builds(Constant, st.integers(0, 80).map(float)),
    st.tuples(st.floats(0, 40), st.floats(0, 60)).map(lambda ab: Uniform(min(ab), max(ab))),
)


@settings(max_examples=60, deadline=None)
@given(
    timeouts=st.lists(st.integers(0, 90), min_size=1, max_size=14),
    concurrency=st.integers(1, 5),
    quiesce=durations,
    migration=durations,
    interval=st.sampled_from([0.5, 1.0, 3.0]),
    margin=st.sampled_from([0.0, 2.0, 7.5]),
    policy=st.sampled_from(["ack-anyway", "no-ack"]),
    notify=st.sampled_from(["task-start", "maintenance-start"]),
    holds=st.booleans(),
    aligned=st.booleans(),
    seed=st.integers(0, 3),
)
def test_an_evacuation_keeps_the_hosts_rules(
    timeouts: List[int], concurrency: int, quiesce: Distribution, migration: Distribution, interval: float,
    margin: float, policy: str, notify: str, holds: bool, aligned: bool, seed: int,
) -> None:
    plan = EvacuationPlan(vms=len(timeouts), concurrency=concurrency, timeouts=tuple(timeouts), quiesce=quiesce,
                          migration_seconds=migration, interval=interval, safety_margin=margin,
                          on_quiesce_failure=policy, knobs=ClusterKnobs(notify=notify, wait_holds_slot=holds),
                          seed=seed, aligned_polls=aligned)
    result = evacuate(plan)
    held: List[Tuple[int, float, float]] = []
    for r in result.records:
        assert r.migration is not None and r.released is not None and r.admitted is not None
        assert r.notified is not None and r.slot is not None
        start, end = r.migration
        assert r.released <= start <= end and r.admitted <= start
        assert end - start == r.migration_seconds or abs(end - start - r.migration_seconds) < 1e-6
        if r.timeout == 0:
            assert not (r.acked or r.forced) and r.quiesce is None and r.released == r.notified
        else:
            assert r.acked != r.forced
            assert r.released <= r.notified + r.timeout + 1e-6  # never held past the timeout
            assert r.forced == (abs(r.released - (r.notified + r.timeout)) < 1e-6 and not r.acked)
            if r.quiesce is not None:
                # The handler never lets a quiesce run past its deadline (whole-second event time, minus margin).
                assert r.quiesce[1] <= r.notified + r.timeout - margin + 1e-6
            assert r.unquiesced is not None or r.quiesce is None
        held.append((r.slot, r.admitted if holds else start, end))
    for slot in range(concurrency):
        spans = sorted((a, b) for s, a, b in held if s == slot)
        assert all(b <= a2 + 1e-9 for (_, b), (a2, _) in zip(spans, spans[1:]))
    assert result.total_seconds == max(r.ended for r in result.records)
    assert abs(sum(result.critical_phases().values()) - result.total_seconds) < 1e-6
    assert 0 <= result.all_slots_waiting_seconds() <= result.total_seconds
