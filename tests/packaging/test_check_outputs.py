"""``vmotion-sim check`` as a user's CI runs it: from the installed wheel, in an empty project directory, with a
handler of theirs written in bash, its results as JSON, JUnit XML and an HTML page opened in a real browser."""

from __future__ import annotations

import concurrent.futures
import json
import os
import re
import shlex
import subprocess
from pathlib import Path
from typing import Any, Dict, List, Tuple

import junitparser
import pytest
import yaml

from tests.browser import distinct_colours, rendered_dom, rendered_dom_and_screenshot
from tests.packaging.conftest import REPO, run, user_env

# A naive handler, as people write them: vmtoolsd --cmd (its token on the command line), replies picked apart
# with sed, and the operationId passed through awk, whose numbers are doubles: the ack names an id 2^53 cannot hold.
# It polls once a second: each poll forks, and the run waits out an 8-s timeout three times at once.
NAIVE_BASH_HANDLER = r"""#!/usr/bin/env bash
name=$1 quiesce=$2 unquiesce=$3
rpc() { vmtoolsd --cmd "vm-operation-notification.$1 $2"; }
token=$(rpc register "{\"appName\": \"$name\", \"notificationTypes\": [\"sla-miss\"]}" |
        sed -n 's/.*"uniqueToken": *"\([^"]*\)".*/\1/p')
trap 'rpc unregister "{\"uniqueToken\": \"$token\"}" >/dev/null; exit 0' TERM INT
while :; do
    event=$(rpc check-for-event "{\"uniqueToken\": \"$token\"}")
    case $event in
    *'"eventType": "start"'*)
        id=$(printf '%s' "$event" | sed -n 's/.*"operationId": *\([0-9]*\).*/\1/p')
        "$quiesce"
        id=$(awk -v id="$id" 'BEGIN { printf "%.0f", id + 0 }')
        rpc ack-event "{\"uniqueToken\": \"$token\", \"operationId\": $id}" >/dev/null ;;
    *'"eventType": "end"'*)
        "$unquiesce" ;;
    esac
    sleep 1
done
"""
ACKED = "acks_before_the_timeout"  # -k: the scenario whose quiesce takes 1 s of an 8 s timeout
HANDLER_COMMAND = "./handler.sh {name} {quiesce} {unquiesce}"  # as a user writes it in the action or the job
# The GitHub action's inputs for the naive handler (the rest keep their defaults).
ACTION_INPUTS = {
    "handler-command": HANDLER_COMMAND, "select": ACKED,
    "knobs": "error_envelope=json-stderr ack_after_timeout=error", "output-dir": "ci-out",
}
WAYS = ("command line", "github action", "gitlab job")
Runs = Dict[str, Tuple[Path, List[subprocess.CompletedProcess[str]]]]


def naive_project(directory: Path) -> Path:
    directory.mkdir()
    (directory / "handler.sh").write_text(NAIVE_BASH_HANDLER)
    (directory / "handler.sh").chmod(0o755)
    return directory


def action_steps(given: Dict[str, str]) -> List[Tuple[str, Dict[str, str]]]:
    """The composite action's shell steps (not the install: the wheel is installed), each with its environment
    as GitHub fills it in from the inputs ``given``."""
    action = yaml.safe_load((REPO / "action.yml").read_text())
    inputs = {name: spec.get("default", "") for name, spec in action["inputs"].items()}
    inputs.update(given)
    steps = [s for s in action["runs"]["steps"] if "run" in s and s["name"] != "Install the harness"]
    assert steps, "the action has no step that runs the check"
    return [(step["run"], {k: re.sub(r"\$\{\{ inputs\.([\w-]+) \}\}", lambda m: inputs[m.group(1)], v)
                           for k, v in step.get("env", {}).items()}) for step in steps]


def gitlab_job() -> Dict[str, Any]:
    readme = (REPO / "README.md").read_text()
    block = re.search(r"```yaml\n(vmotion-check:\n.*?)```", readme, re.S)
    assert block, "the README's GitLab job is gone"
    job: Dict[str, Any] = yaml.safe_load(block.group(1))["vmotion-check"]
    return job


def run_a_way(way: str, venv: Path, project: Path) -> List[subprocess.CompletedProcess[str]]:
    env = user_env(venv)
    if way == "command line":
        return [run([str(venv / "bin" / "vmotion-sim"), "check", "-k", ACKED, "--json", "--junitxml", "out/junit.xml",
                     "--report", "out/report", "--", *shlex.split(HANDLER_COMMAND)], project, env)]
    if way == "github action":  # the steps in order, each in its own shell, as GitHub runs them
        return [run(["bash", "-e", "-c", script], project, {**env, **step_env})
                for script, step_env in action_steps(ACTION_INPUTS)]
    job = gitlab_job()  # its script lines, in order, in one shell, with the handler command it names
    script = "\n".join(line for line in job["script"] if not line.startswith("pip install"))
    variables = {k: str(v) for k, v in job.get("variables", {}).items()}
    variables["HANDLER_COMMAND"] = HANDLER_COMMAND
    variables["CHECK_ARGS"] = f"-k {ACKED}"
    return [run(["bash", "-e", "-c", script], project, {**env, **variables})]


@pytest.fixture(scope="module")
def naive_runs(venv: Path, full_check_started: object, tmp_path_factory: pytest.TempPathFactory) -> Runs:
    """The naive handler checked the three ways a user's CI runs the check, at once: each way waits out the
    scenario's real 8-s timeout (the naive ack names an operation the VM never sent), so together they wait once,
    and while the full check (started first) waits on its own timeouts."""
    base = tmp_path_factory.mktemp("naive")
    projects = {way: naive_project(base / way.replace(" ", "-")) for way in WAYS}
    with concurrent.futures.ThreadPoolExecutor(len(WAYS)) as pool:
        futures = {way: pool.submit(run_a_way, way, venv, projects[way]) for way in WAYS}
        return {way: (projects[way], future.result()) for way, future in futures.items()}


def test_a_naive_bash_handler_fails_with_its_mistake_named_in_every_output(naive_runs: Runs) -> None:
    project, [done] = naive_runs["command line"]
    assert done.returncode == 1, done.stdout + done.stderr
    results: Dict[str, Any] = json.loads(done.stdout)
    [scenario] = results["scenarios"]
    assert scenario["verdict"] == "failed" and not scenario["name"].startswith("/")
    assert scenario["name"].startswith("A vMotion acknowledged in time: ")
    mistake = re.compile(r"it acked operation \d+, which the VM never sent: the VM sent \d+, the same number once "
                         r"rounded through a 64-bit float")
    assert mistake.search(scenario["reason"]), scenario["reason"]
    [warning] = results["summary"]["warnings"]
    assert "token on a vmtoolsd command line" in warning and "--cmdfile" in warning
    assert scenario["operations"][0]["forced"] is True
    assert shlex.split(results["handler_command"]) == shlex.split(HANDLER_COMMAND)

    [suite] = list(junitparser.JUnitXml.fromfile(str(project / "out" / "junit.xml")))
    [case] = list(suite)
    [failure] = case.result
    assert isinstance(failure, junitparser.Failure) and mistake.search(failure.message or "")
    assert "timeout: migration forced" in (case.system_out or "")

    page = project / "out" / "report" / "index.html"
    dom = rendered_dom(page)
    assert 'data-verdict="failed"' in dom and mistake.search(dom)
    journal = next((project / "out" / "report").glob("*.journal.json"))
    assert any(e.get("what") == "forced" for e in json.loads(journal.read_text()))
    assert next((project / "out" / "report").glob("*.handler.log")).exists()


def test_the_report_of_a_full_check_renders_in_a_real_browser(full_check: Path) -> None:
    page = full_check / "report" / "index.html"
    results = json.loads((full_check / "results.json").read_text())
    dom = rendered_dom_and_screenshot(page, full_check / "shot.png")
    for scenario in results["scenarios"]:
        assert scenario["name"] in dom.replace("&amp;", "&")
    assert dom.count('data-verdict="passed"') == len(results["scenarios"])
    assert dom.count('<svg') == len(results["scenarios"]) and dom.count('class="timeline"') == len(results["scenarios"])
    assert distinct_colours(full_check / "shot.png") > 10


def test_the_junit_file_of_a_full_check_is_read_by_a_junit_library(full_check: Path) -> None:
    results = json.loads((full_check / "results.json").read_text())
    [suite] = list(junitparser.JUnitXml.fromfile(str(full_check / "junit.xml")))
    assert (suite.tests, suite.failures, suite.errors) == (len(results["scenarios"]), 0, 0)
    props = {p.name: p.value for p in suite.properties()}
    assert props["harness_version"] == results["harness_version"] and props["knob.max_apps"] == "1"


def test_the_github_action_runs_the_check_with_its_inputs(naive_runs: Runs) -> None:
    """The composite action's shell steps, run here as GitHub would, with the installed harness and its inputs."""
    project, steps = naive_runs["github action"]
    for done in steps:
        assert done.returncode == 1, done.stdout + done.stderr  # the naive handler fails: so does the step
    results = json.loads((project / "ci-out" / "results.json").read_text())
    assert results["knobs"]["error_envelope"] == "json-stderr"
    assert (project / "ci-out" / "junit.xml").exists() and (project / "ci-out" / "report" / "index.html").exists()


def test_the_gitlab_job_in_the_readme_runs_as_written(naive_runs: Runs) -> None:
    """The README's GitLab CI job: its script lines, in order, in a shell, with the handler command it names."""
    project, [done] = naive_runs["gitlab job"]
    assert done.returncode == 1, done.stdout + done.stderr
    job = gitlab_job()
    for artifact in job["artifacts"]["reports"]["junit"], *job["artifacts"]["paths"]:
        assert (project / artifact).exists(), artifact
    assert os.path.getsize(project / job["artifacts"]["reports"]["junit"]) > 0


def test_the_github_action_passes_each_input_to_the_check(tmp_path: Path) -> None:
    """Each input becomes the option it names; a stand-in ``vmotion-sim`` records its arguments (the test above
    runs the real one)."""
    (tmp_path / "bin").mkdir()
    (tmp_path / "bin" / "vmotion-sim").write_text('#!/bin/sh\nprintf "%s\\n" "$@" > argv.txt\n')
    (tmp_path / "bin" / "vmotion-sim").chmod(0o755)
    env = {**os.environ, "PATH": f"{tmp_path / 'bin'}{os.pathsep}{os.environ['PATH']}"}
    for script, step_env in action_steps({**ACTION_INPUTS, "baseline": "base line.json"}):
        done = run(["bash", "-e", "-c", script], tmp_path, {**env, **step_env})
        assert done.returncode == 0, done.stdout + done.stderr
    assert (tmp_path / "argv.txt").read_text().splitlines() == [
        "check", "--junitxml", "ci-out/junit.xml", "--report", "ci-out/report", "--json",
        "--knob", "error_envelope=json-stderr", "--knob", "ack_after_timeout=error", "-k", ACKED,
        "--baseline", "base line.json", "--", *shlex.split(HANDLER_COMMAND),
    ]
