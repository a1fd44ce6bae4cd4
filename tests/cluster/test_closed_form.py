"""The cases with an answer on paper, matched by ``vmotion-sim evacuate --json`` (issue 15's Done-when).

N VMs, C slots, a constant quiesce q, a constant migration m, a poll interval p, timeout T, margin s;
k = ceil(N / C) waves. Under the default knobs:
- q well below T: nobody forced, total between k (q + m) and k (q + m + p): the guest's poll finds the
  start at most one interval late, once per wave;
- q above T: every quiesce cut at T - s and acked, total k (T - s + m);
- the same with the no-ack policy: every migration forced at T, total k (T + m).
"""

from __future__ import annotations

import math
from typing import List, Tuple

import pytest

from tests.cluster.run import evacuate_json

Case = Tuple[int, int, float, float, float]
CASES: List[Case] = [  # N, C, q, m, p; q + m a whole number of polls, so aligned polls meet every wave
    (12, 4, 5, 15, 1),
    (10, 3, 8, 20, 2),
    (1, 8, 5, 15, 1),
    (17, 8, 3, 10, 0.5),
    (40, 8, 10, 30, 5),
]
UNEVEN: List[Case] = [(10, 3, 7, 20, 2), (25, 4, 2.5, 11.25, 3)]  # waves that do not meet the polls


def waves(n: int, c: int) -> int:
    return math.ceil(n / c)


def common(n: int, c: int, q: float, m: float, p: float) -> list[str]:
    return ["--vms", str(n), "--concurrency", str(c), "--quiesce", str(q), "--migration-seconds", str(m),
            "--interval", str(p)]


@pytest.mark.parametrize(("n", "c", "q", "m", "p"), CASES + UNEVEN)
def test_a_quick_quiesce_is_acked_and_each_wave_costs_quiesce_plus_migration_plus_at_most_one_poll(
    n: int, c: int, q: float, m: float, p: float
) -> None:
    out = evacuate_json(*common(n, c, q, m, p), "--timeout", "120", "--seed", "7")
    k = waves(n, c)
    assert out["forced"] == [] and out["quiesce_cut"] == [] and out["acked"] == n
    assert k * (q + m) <= out["total_seconds"] <= k * (q + m + p)
    assert all(row["quiesce"][1] - row["quiesce"][0] == pytest.approx(q) for row in out["vms"])


@pytest.mark.parametrize(("n", "c", "q", "m", "p"), CASES)
def test_with_polls_aligned_to_the_waves_the_total_is_exactly_waves_times_quiesce_plus_migration(
    n: int, c: int, q: float, m: float, p: float
) -> None:
    out = evacuate_json(*common(n, c, q, m, p), "--timeout", "120", "--aligned-polls")
    assert out["total_seconds"] == waves(n, c) * (q + m)
    assert {row["margin"] for row in out["vms"]} == {120 - q}
    assert out["critical_path"]["seconds"] == {
        "polling": 0.0, "quiescing": waves(n, c) * q, "waiting_for_ack_or_timeout": 0.0,
        "waiting_for_slot": 0.0, "migrating": waves(n, c) * m,
    }


@pytest.mark.parametrize(("n", "c", "q", "m", "p"), CASES)
def test_a_quiesce_longer_than_the_timeout_is_cut_at_timeout_minus_margin_and_acked(
    n: int, c: int, q: float, m: float, p: float
) -> None:
    t, s = 60, 4
    out = evacuate_json(*common(n, c, 200, m, p), "--timeout", str(t), "--safety-margin", str(s), "--seed", "3")
    names = [row["vm"] for row in out["vms"]]
    assert out["quiesce_cut"] == names and out["forced"] == [] and out["acked"] == n
    assert out["total_seconds"] == waves(n, c) * (t - s + m)
    assert all(row["quiesce"][1] == row["notified"] + t - s for row in out["vms"])


@pytest.mark.parametrize(("n", "c", "q", "m", "p"), CASES)
def test_with_the_no_ack_policy_every_cut_quiesce_means_a_forced_migration(
    n: int, c: int, q: float, m: float, p: float
) -> None:
    t = 60
    out = evacuate_json(*common(n, c, 200, m, p), "--timeout", str(t), "--on-quiesce-failure", "no-ack", "--seed", "5")
    names = [row["vm"] for row in out["vms"]]
    assert out["forced"] == names and out["quiesce_cut"] == names and out["acked"] == 0
    assert out["total_seconds"] == waves(n, c) * (t + m)
    assert out["margins"]["max"] == 0.0


def test_a_fractional_migration_loses_at_most_a_second_per_wave_to_whole_second_event_times() -> None:
    # eventGenTimeInSec is whole seconds: a start queued at 133.5 s tells the guest 133, so its quiesce
    # deadline (and its ack) comes up to a second before T - s after the notification.
    n, c, t, s, m = 9, 2, 30, 2, 12.5
    out = evacuate_json("--vms", str(n), "--concurrency", str(c), "--quiesce", "100", "--migration-seconds",
                        str(m), "--timeout", str(t), "--safety-margin", str(s))
    k = waves(n, c)
    assert k * (t - s + m) - k <= out["total_seconds"] <= k * (t - s + m)
    assert len(out["quiesce_cut"]) == n and out["forced"] == []
