"""One verdict per scenario (``scenario``, ``passed``, ``reason``, ``timings``, and where the scenario served a
VM its ``journal`` and the ``handler_log``), written as JSON for ``--vmotion-report`` and ``vmotion-sim check``."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Dict, Iterator

import pytest

SCENARIO_PROPERTY = "vmotion_scenario"  # user property: the scenario's name, for --vmotion-report
JOURNAL_PROPERTY = "vmotion_journal"  # ... the simulated VM's journal (the fixture's teardown adds it)
HANDLER_LOG_PROPERTY = "vmotion_handler_log"  # ... what the handler processes wrote


def is_scenario(item: pytest.Item) -> bool:
    return "_pytest_bdd_example" in getattr(item, "fixturenames", ())


def scenario_name(item: pytest.Item, feature: str = "", scenario: str = "") -> str:
    """``Feature: Scenario``, with the example's id for an outline; never a file path, which says nothing to a
    reader and differs between machines. Without the names (a scenario that failed before it began) it is
    pytest-bdd's docstring of the test, whose feature part may be the feature file's path: its name is kept."""
    if not (feature and scenario):
        doc = (getattr(getattr(item, "obj", None), "__doc__", None) or item.name).strip()
        feature, _, scenario = doc.rpartition(": ")
        if feature.endswith(".feature"):
            feature = Path(feature).stem
    name = f"{feature}: {scenario}" if feature else scenario
    callspec = getattr(item, "callspec", None)
    return f"{name} [{callspec.id}]" if callspec is not None and callspec.id else name


def failure_reason(report: pytest.TestReport) -> str:
    """The first line a reader needs: the failed expectation's message, without pytest's decoration."""
    crash = getattr(report.longrepr, "reprcrash", None)
    text = crash.message if crash is not None else str(report.longrepr)
    for prefix in ("Failed: ", "AssertionError: "):
        if text.startswith(prefix):
            text = text[len(prefix) :]
    lines = [line.strip() for line in text.strip().splitlines() if line.strip()]
    return lines[0] if lines else "failed"


class VerdictReport:
    """Collects one verdict per scenario across setup, call and teardown, and writes them at the end.

    Under xdist the scenarios run in workers and only their reports reach the controller, which writes the
    file: so everything a verdict needs travels in the report's ``user_properties``.
    """

    def __init__(self, path: Path) -> None:
        self.path = path
        self.verdicts: Dict[str, Dict[str, Any]] = {}

    @pytest.hookimpl(hookwrapper=True)
    def pytest_runtest_makereport(self, item: pytest.Item, call: pytest.CallInfo[None]) -> Iterator[None]:
        if is_scenario(item) and not any(key == SCENARIO_PROPERTY for key, _ in item.user_properties):
            item.user_properties.append((SCENARIO_PROPERTY, scenario_name(item)))
        yield

    def pytest_bdd_before_scenario(self, request: pytest.FixtureRequest, feature: Any, scenario: Any) -> None:
        named = scenario_name(request.node, feature.name, scenario.name)
        props = request.node.user_properties
        props[:] = [(key, value) for key, value in props if key != SCENARIO_PROPERTY] + [(SCENARIO_PROPERTY, named)]

    def pytest_runtest_logreport(self, report: pytest.TestReport) -> None:
        name = next((value for key, value in report.user_properties if key == SCENARIO_PROPERTY), None)
        if name is None:
            return
        verdict = self.verdicts.setdefault(report.nodeid, {"passed": True, "reason": "", "timings": {}})
        verdict["scenario"] = name  # the call's report names it from the feature itself
        for key, value in report.user_properties:
            if key == "timing" and isinstance(value, dict):
                verdict["timings"].update(value)
            elif key == JOURNAL_PROPERTY and isinstance(value, list):
                verdict["journal"] = value
            elif key == HANDLER_LOG_PROPERTY and isinstance(value, str):
                verdict["handler_log"] = value
        if report.when == "call":
            verdict["timings"]["total_s"] = round(report.duration, 3)
        if report.failed and verdict["passed"]:
            verdict["passed"] = False
            verdict["reason"] = failure_reason(report)
        elif report.skipped:
            verdict["passed"] = False
            verdict["reason"] = "skipped: " + failure_reason(report)

    def pytest_sessionfinish(self, session: pytest.Session) -> None:
        if hasattr(session.config, "workerinput"):  # an xdist worker: the controller writes the file
            return
        self.path.write_text(json.dumps(list(self.verdicts.values()), indent=2) + "\n")
