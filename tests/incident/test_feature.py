"""`--feature` writes a scenario as Gherkin; a three-line test module runs it with pytest-bdd, as a user's CI would
(pytest run by pytester in this process: the same collection and steps, without a second interpreter)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from simulator.incident.feature import to_feature
from simulator.incident.scenario import from_dict
from tests.incident.test_cli import SLOW_QUIESCE

TEST_MODULE = '''
from pytest_bdd import scenarios
from simulator.incident.steps import *  # noqa: F403
scenarios("incident.feature")
'''


def run_feature(pytester: pytest.Pytester, feature: str) -> subprocess.CompletedProcess[str]:
    (pytester.path / "incident.feature").write_text(feature)
    (pytester.path / "test_incident.py").write_text(TEST_MODULE)
    # Hypothesis's plugin (a dev tool of ours, not a user's) imports all of hypothesis for its end-of-run summary.
    result = pytester.runpytest_inprocess("-q", "-p", "no:cacheprovider", "-p", "no:hypothesispytest", str(pytester.path))
    return subprocess.CompletedProcess([], int(result.ret), result.stdout.str(), result.stderr.str())


def test_a_replayed_incident_becomes_a_passing_regression_test(tmp_path: Path, pytester: pytest.Pytester) -> None:
    source = tmp_path / "scenario.json"
    source.write_text(json.dumps({**SLOW_QUIESCE, "knobs": {"ack_after_timeout": "error"},
                                  "handler": {"on_quiesce_failure": "no-ack"},
                                  "actions": SLOW_QUIESCE["actions"] + [{"at": 30, "do": "reboot"},
                                                                        {"at": 20, "do": "set", "host_timeout": 12}],
                                  "expect": ["forced-migration", "quiesce-killed", "registration-lost"]}))
    done = subprocess.run([sys.executable, "-m", "simulator", "shrink", "--feature", str(tmp_path / "f.feature"),
                           str(source)], capture_output=True, text=True, timeout=120, check=False)
    assert done.returncode == 0, done.stderr
    feature = (tmp_path / "f.feature").read_text()
    assert "Then the outcome is forced-migration, quiesce-killed, registration-lost" in feature
    result = run_feature(pytester, feature)
    assert result.returncode == 0 and "1 passed" in result.stdout, result.stdout + result.stderr


def test_the_regression_test_fails_when_the_outcome_changes(pytester: pytest.Pytester) -> None:
    feature = to_feature(from_dict(SLOW_QUIESCE)).replace("Then the outcome is quiesce-killed",
                                                           "Then the outcome is nothing wrong")
    result = run_feature(pytester, feature)
    assert result.returncode == 1 and "the run shows ['quiesce-killed']" in result.stdout
