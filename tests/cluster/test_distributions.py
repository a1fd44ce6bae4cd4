"""Durations per VM: the forms ``--quiesce`` and ``--migration-seconds`` take, and the extension point."""

from __future__ import annotations

import random
from typing import List

import pytest

from simulator.cluster import Constant, LogNormal, Uniform, parse_distribution, register_distribution


def test_the_three_built_in_forms() -> None:
    assert parse_distribution("5") == Constant(5.0)
    assert parse_distribution("0.25") == Constant(0.25)
    assert parse_distribution("uniform:2:8") == Uniform(2.0, 8.0)
    assert parse_distribution("lognormal:2.5:0.5") == LogNormal(2.5, 0.5)


def test_draws_stay_in_range_and_follow_the_seed() -> None:
    uniform = parse_distribution("uniform:2:8")
    draws = [uniform.draw(random.Random(i)) for i in range(200)]
    assert min(draws) >= 2 and max(draws) <= 8 and len(set(draws)) == 200
    lognormal = parse_distribution("lognormal:2:0.5")
    a = [lognormal.draw(random.Random("x")) for _ in range(3)]
    assert a == [lognormal.draw(random.Random("x")) for _ in range(3)]
    many = sorted(lognormal.draw(r) for r in [random.Random(i) for i in range(2001)])
    assert 6.5 < many[1000] < 8.3  # median exp(2) = 7.39


@pytest.mark.parametrize("text", ["", "x", "-1", "inf", "uniform:1", "uniform:a:b", "uniform:3:1", "lognormal:1",
                                  "lognormal:1:-2", "lognormal:50:1", "empirical:trace.json", "normal:1:2"])
def test_bad_forms_are_refused_with_a_reason(text: str) -> None:
    with pytest.raises(ValueError) as refused:
        parse_distribution(text)
    assert str(refused.value) and "\n" not in str(refused.value)


def test_a_registered_kind_is_accepted_everywhere_a_duration_is() -> None:
    class Cycle:
        def __init__(self, values: List[float]) -> None:
            self.values = values

        def draw(self, rng: random.Random) -> float:
            return self.values[rng.randrange(len(self.values))]

        def describe(self) -> str:
            return "cycle"

    register_distribution("cycle", lambda words: Cycle([float(w) for w in words]))
    assert parse_distribution("cycle:1:2:3").draw(random.Random(0)) in (1.0, 2.0, 3.0)
    from tests.cluster.run import evacuate_json

    out = evacuate_json("--vms", "4", "--quiesce", "cycle:3:4")
    assert {row["quiesce_seconds"] for row in out["vms"]} <= {3.0, 4.0}
