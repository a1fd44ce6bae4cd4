"""`--feature` writes a scenario as Gherkin; a three-line test module runs it with pytest-bdd, as a user's CI would."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from simulator.incident.feature import to_feature
from simulator.incident.scenario import from_dict
from tests.incident.test_cli import SLOW_QUIESCE

TEST_MODULE = '''
from pytest_bdd import scenarios
from simulator.incident.steps import *  # noqa: F403
scenarios("incident.feature")
'''


def run_feature(directory: Path, feature: str) -> subprocess.CompletedProcess[str]:
    (directory / "incident.feature").write_text(feature)
    (directory / "test_incident.py").write_text(TEST_MODULE)
    return subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", str(directory)],
                          capture_output=True, text=True, timeout=120, cwd=directory, check=False)


def test_a_replayed_incident_becomes_a_passing_regression_test(tmp_path: Path) -> None:
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
    suite = tmp_path / "suite"
    suite.mkdir()
    result = run_feature(suite, feature)
    assert result.returncode == 0 and "1 passed" in result.stdout, result.stdout + result.stderr


def test_the_regression_test_fails_when_the_outcome_changes(tmp_path: Path) -> None:
    feature = to_feature(from_dict(SLOW_QUIESCE)).replace("Then the outcome is quiesce-killed",
                                                           "Then the outcome is nothing wrong")
    result = run_feature(tmp_path, feature)
    assert result.returncode == 1 and "the run shows ['quiesce-killed']" in result.stdout
