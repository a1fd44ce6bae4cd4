"""A scenario's ``settings.seed`` draws the simulator's operation ids, so a saved soak run replays with the ids it had."""

from __future__ import annotations

import copy
from typing import List

import pytest

from simulator.incident.scenario import Scenario, ScenarioError, from_dict
from simulator.incident.virtual import run_virtual


def _scenario(seed: object) -> Scenario:
    return from_dict({"format": "vmotion-incident-scenario", "version": 2, "name": "seeded",
                  "settings": {"host_timeout": 10, "seed": seed}, "actions": [{"at": 1, "do": "vmotion"}],
                  "duration": 40})


def _ids(scenario: Scenario) -> List[int]:
    return [op.operation_id for op in run_virtual(copy.deepcopy(scenario)).operations]


def test_the_same_seed_gives_the_same_operation_ids_and_another_seed_others() -> None:
    first = _ids(_scenario(7))
    assert len(first) == 1
    assert _ids(_scenario(7)) == first
    assert _ids(_scenario(8)) != first


@pytest.mark.parametrize("seed", ["7", 1.5, True, None])
def test_a_seed_that_is_not_a_whole_number_is_refused_in_one_line(seed: object) -> None:
    with pytest.raises(ScenarioError, match="seed"):
        _scenario(seed)
