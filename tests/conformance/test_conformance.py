"""`pytest --gherkin --handler-cmd` against the bundled handler, started by its own command line, and
`vmotion-sim check` against deliberately broken handlers (``broken_handler.py``), whose flaws must be reported
with a readable reason. The bundled handler's checks are the baseline gate's runs (``test_baseline_gate.py``)
and, for every scenario under xdist, the installed wheel's (``tests/packaging``)."""

from __future__ import annotations

import concurrent.futures
import json
import shlex
import subprocess
import sys
from pathlib import Path
from typing import Dict, List

import pytest

from tests.conformance.deadlines import at_speed

REPO = Path(__file__).resolve().parents[2]
FEATURES = REPO / "simulator" / "harness" / "scenarios"
BROKEN = Path(__file__).with_name("broken_handler.py")
PY = shlex.quote(sys.executable)
BUNDLED = "{handler} --name bundled --interval 0.2 --quiesce {quiesce} --unquiesce {unquiesce} --state-file {state_file}"
CONFORMANCE_SCENARIOS = 10
ACKED_SCENARIO = "acks_before_the_timeout"  # -k expression of the scenario an ack flaw fails


def broken(flaw: str) -> List[str]:
    return [sys.executable, str(BROKEN), "--flaw", flaw, "--quiesce", "{quiesce}", "--unquiesce", "{unquiesce}"]


def check(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "simulator", "check", *args],
        capture_output=True, text=True, timeout=300, stdin=subprocess.DEVNULL,
    )


# The module's checks of real handlers, each by `vmotion-sim check` as a user runs it. Each mostly waits on its
# scenarios' real timeouts, so the `checks` fixture runs them all at once; every test reads its own.
CHECKS: Dict[str, List[str]] = {
    "acks early": ["-k", ACKED_SCENARIO, "--", *broken("acks-before-quiesce-ends")],
    "keeps no state": ["--json", "-k", "restarted", "--", *broken("keeps-no-state")],
}


@pytest.fixture(scope="module")
def checks() -> Dict[str, subprocess.CompletedProcess[str]]:
    with concurrent.futures.ThreadPoolExecutor(len(CHECKS)) as pool:
        futures = {name: pool.submit(check, *args) for name, args in CHECKS.items()}
        return {name: future.result() for name, future in futures.items()}


def test_gherkin_with_a_handler_command_selects_every_conformance_scenario_and_only_those(
    pytester: pytest.Pytester,
) -> None:
    # Which scenarios run is a matter of selection: collecting shows it. The full run of all of them, with the
    # bundled handler, is tests/packaging's `vmotion-sim check`, from the installed wheel.
    result = pytester.runpytest_subprocess(str(FEATURES), "--gherkin", "--handler-cmd", BUNDLED, "--collect-only",
                                           "-q", "-p", "no:cacheprovider")
    result.stdout.fnmatch_lines([f"*{CONFORMANCE_SCENARIOS}/* tests collected (* deselected)*"])
    out = result.stdout.str()
    assert "sigterm.feature" in out and "restart.feature" in out
    assert "registration" not in out.lower()  # not handler behaviour: deselected


def test_gherkin_with_a_handler_command_prints_each_step_of_the_scenario(pytester: pytest.Pytester) -> None:
    result = pytester.runpytest_subprocess(str(FEATURES), "--gherkin", "--handler-cmd", BUNDLED, "-k",
                                           "sigterm_while_idle", "-p", "no:cacheprovider")
    result.assert_outcomes(passed=1)
    out = result.stdout.str()
    assert "Feature: Stopping the handler with SIGTERM" in out
    assert "Scenario: SIGTERM while idle" in out
    assert "Given the handler runs as a process on real time" in out  # each step is shown


def test_gherkin_reports_a_handler_that_never_acks_on_screen_and_in_the_verdicts(pytester: pytest.Pytester) -> None:
    # One run waits out the timeout (at speed where it can: only the deadline has to pass); the terminal and the
    # --vmotion-report file (what `vmotion-sim check` prints) are both read from it.
    report = pytester.path / "verdicts.json"
    result = pytester.runpytest_subprocess(
        str(FEATURES), "--gherkin", "--handler-cmd", shlex.join(broken("never-acks")), "-k", ACKED_SCENARIO,
        "-p", "no:cacheprovider", "--vmotion-report", str(report), *at_speed(),
    )
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(["*the handler did not ack operation * in time (it never acked)*forced*"])
    [verdict] = json.loads(report.read_text())
    assert verdict["passed"] is False
    assert "it never acked" in verdict["reason"] and "forced" in verdict["reason"]


def test_check_fails_a_handler_that_acks_before_its_quiesce_finished(
    checks: Dict[str, subprocess.CompletedProcess[str]],
) -> None:
    done = checks["acks early"]
    assert done.returncode == 1, done.stdout + done.stderr
    assert "FAILED" in done.stdout
    assert "acked before it even started its quiesce command" in done.stdout, done.stdout
    assert done.stdout.splitlines()[-1] == "0 passed, 1 failed"


def test_check_fails_a_handler_whose_registration_leaks_when_it_is_killed(
    checks: Dict[str, subprocess.CompletedProcess[str]],
) -> None:
    """With the one-app limit, a registration left by a SIGKILL refuses the restarted handler's registration."""
    done = checks["keeps no state"]
    assert done.returncode == 1, done.stdout + done.stderr
    scenarios = json.loads(done.stdout)["scenarios"]
    assert len(scenarios) == 2 and all(v["verdict"] == "failed" for v in scenarios)
    for v in scenarios:
        assert v["reason"].startswith("the handler exited (1) without registering"), v
        assert v["reason"].count("Max allowed limit of 1 concurrent apps") == 1, v  # its log, shown once


def test_check_says_so_in_one_line_when_no_scenario_matches() -> None:
    done = check("-k", "no_such_scenario")
    assert done.returncode == 2
    assert done.stderr.strip() == "vmotion-sim check: no conformance scenario matched"
    assert "Traceback" not in done.stderr


def test_check_says_so_in_one_line_when_the_selection_is_not_an_expression() -> None:
    done = check("-k", "no such")
    assert (done.returncode, done.stderr) == (2, "vmotion-sim check: -k 'no such' is not a valid selection expression\n")


KNOWN = "{quiesce}, {unquiesce}, {handler}, {state_file}, {state_dir}, {name}, {socket}, {vmtoolsd}, {python}"


def test_check_names_a_misspelled_placeholder() -> None:
    done = check("--", "./my-handler", "--on-start", "{quiesc}")
    assert (done.returncode, done.stderr) == (
        2, f"vmotion-sim check: unknown placeholder {{quiesc}} in the handler command (known: {KNOWN})\n"
    )


def test_gherkin_names_a_misspelled_placeholder(pytester: pytest.Pytester) -> None:
    result = pytester.runpytest_subprocess(str(FEATURES), "--handler-cmd", "./h --on-end {unquiesce} {quiesc}",
                                           "-p", "no:cacheprovider")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines([f"ERROR: --handler-cmd: unknown placeholder {{quiesc}} in the handler command (known: {KNOWN})"])
