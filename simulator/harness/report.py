"""One verdict per scenario (``scenario``, ``passed``, ``reason``, ``timings``), written as JSON for
``--vmotion-report`` and ``vmotion-sim check``."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Dict, Iterator

import pytest

SCENARIO_PROPERTY = "vmotion_scenario"  # user property: the scenario's name, for --vmotion-report


def is_scenario(item: pytest.Item) -> bool:
    return "_pytest_bdd_example" in getattr(item, "fixturenames", ())


def scenario_name(item: pytest.Item) -> str:
    """``Feature: Scenario`` (pytest-bdd's docstring of the test), with the example's id for an outline."""
    doc = (getattr(getattr(item, "obj", None), "__doc__", None) or item.name).strip()
    callspec = getattr(item, "callspec", None)
    return f"{doc} [{callspec.id}]" if callspec is not None and callspec.id else doc


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

    def pytest_runtest_logreport(self, report: pytest.TestReport) -> None:
        name = next((value for key, value in report.user_properties if key == SCENARIO_PROPERTY), None)
        if name is None:
            return
        verdict = self.verdicts.setdefault(
            report.nodeid, {"scenario": name, "passed": True, "reason": "", "timings": {}}
        )
        for key, value in report.user_properties:
            if key == "timing" and isinstance(value, dict):
                verdict["timings"].update(value)
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
