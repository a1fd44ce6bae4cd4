"""The README's scenario file is a real one: it loads, and it reproduces its incident on virtual time."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from simulator.incident.scenario import from_dict
from simulator.incident.virtual import run_virtual

README = (Path(__file__).parents[2] / "README.md").read_text()


def test_the_readme_scenario_reproduces_its_incident() -> None:
    section = README.split("### The scenario file", 1)[1]
    block = section.split("```json", 1)[1].split("```", 1)[0]
    scenario = from_dict(json.loads(block))
    assert sorted(run_virtual(scenario).outcome) == scenario.expect == ["forced-migration", "quiesce-killed"]


def test_the_readme_gherkin_scenario_passes(pytester: pytest.Pytester) -> None:
    from tests.incident.test_feature import run_feature

    block = README.split("```gherkin", 1)[1].split("```", 1)[0]
    result = run_feature(pytester, block)
    assert result.returncode == 0 and "1 passed" in result.stdout, result.stdout
