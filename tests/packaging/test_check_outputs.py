"""``vmotion-sim check`` as a user's CI runs it: from the installed wheel, in an empty project directory, with a
handler of theirs written in bash, its results as JSON, JUnit XML and an HTML page opened in a real browser."""

from __future__ import annotations

import json
import os
import re
import shlex
from pathlib import Path
from typing import Any, Dict

import junitparser
import pytest
import yaml

from tests.browser import distinct_colours, rendered_dom, screenshot
from tests.packaging.conftest import REPO, run, user_env

# A naive handler, as people write them: vmtoolsd --cmd (its token on the command line), replies picked apart
# with sed, and the operationId passed through awk, whose numbers are doubles: the ack names an id 2^53 cannot hold.
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
    sleep 0.2
done
"""
ACKED = "acks_before_the_timeout"  # -k: the scenario whose quiesce takes 1 s of an 8 s timeout


@pytest.fixture
def project(tmp_path: Path) -> Path:
    (tmp_path / "handler.sh").write_text(NAIVE_BASH_HANDLER)
    (tmp_path / "handler.sh").chmod(0o755)
    return tmp_path


def test_a_naive_bash_handler_fails_with_its_mistake_named_in_every_output(venv: Path, project: Path) -> None:
    done = run([str(venv / "bin" / "vmotion-sim"), "check", "-k", ACKED, "--json", "--junitxml", "out/junit.xml",
                "--report", "out/report", "--", "./handler.sh", "{name}", "{quiesce}", "{unquiesce}"],
               project, user_env(venv))
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
    assert shlex.split(results["handler_command"]) == ["./handler.sh", "{name}", "{quiesce}", "{unquiesce}"]

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
    dom = rendered_dom(page)
    for scenario in results["scenarios"]:
        assert scenario["name"] in dom.replace("&amp;", "&")
    assert dom.count('data-verdict="passed"') == len(results["scenarios"])
    assert dom.count('<svg') == len(results["scenarios"]) and dom.count('class="timeline"') == len(results["scenarios"])
    assert distinct_colours(screenshot(page, full_check / "shot.png")) > 10


def test_the_junit_file_of_a_full_check_is_read_by_a_junit_library(full_check: Path) -> None:
    results = json.loads((full_check / "results.json").read_text())
    [suite] = list(junitparser.JUnitXml.fromfile(str(full_check / "junit.xml")))
    assert (suite.tests, suite.failures, suite.errors) == (len(results["scenarios"]), 0, 0)
    props = {p.name: p.value for p in suite.properties()}
    assert props["harness_version"] == results["harness_version"] and props["knob.max_apps"] == "1"


def test_the_github_action_runs_the_check_with_its_inputs(venv: Path, project: Path) -> None:
    """The composite action's shell steps, run here as GitHub would, with the installed harness and its inputs."""
    action = yaml.safe_load((REPO / "action.yml").read_text())
    inputs = {name: spec.get("default", "") for name, spec in action["inputs"].items()}
    inputs.update({
        "handler-command": "./handler.sh {name} {quiesce} {unquiesce}", "select": ACKED,
        "knobs": "error_envelope=json-stderr ack_after_timeout=error", "output-dir": "ci-out",
    })
    steps = [s for s in action["runs"]["steps"] if "run" in s and s["name"] != "Install the harness"]
    env = user_env(venv)
    for step in steps:
        step_env = {k: re.sub(r"\$\{\{ inputs\.([\w-]+) \}\}", lambda m: inputs[m.group(1)], v)
                    for k, v in step.get("env", {}).items()}
        done = run(["bash", "-e", "-c", step["run"]], project, {**env, **step_env})
        assert done.returncode == 1, done.stdout + done.stderr  # the naive handler fails: so does the step
    results = json.loads((project / "ci-out" / "results.json").read_text())
    assert results["knobs"]["error_envelope"] == "json-stderr"
    assert (project / "ci-out" / "junit.xml").exists() and (project / "ci-out" / "report" / "index.html").exists()


def test_the_gitlab_job_in_the_readme_runs_as_written(venv: Path, project: Path) -> None:
    """The README's GitLab CI job: its script lines, in order, in a shell, with the handler command it names."""
    readme = (REPO / "README.md").read_text()
    block = re.search(r"```yaml\n(vmotion-check:\n.*?)```", readme, re.S)
    assert block, "the README's GitLab job is gone"
    job = yaml.safe_load(block.group(1))["vmotion-check"]
    script = "\n".join(line for line in job["script"] if not line.startswith("pip install"))
    variables = {k: str(v) for k, v in job.get("variables", {}).items()}
    variables["HANDLER_COMMAND"] = "./handler.sh {name} {quiesce} {unquiesce}"
    variables["CHECK_ARGS"] = f"-k {ACKED}"
    done = run(["bash", "-e", "-c", script], project, {**user_env(venv), **variables})
    assert done.returncode == 1, done.stdout + done.stderr
    for artifact in job["artifacts"]["reports"]["junit"], *job["artifacts"]["paths"]:
        assert (project / artifact).exists(), artifact
    assert os.path.getsize(project / job["artifacts"]["reports"]["junit"]) > 0
