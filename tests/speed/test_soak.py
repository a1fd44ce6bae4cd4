"""The soak: same seed, same sequence; the bundled handler holds every invariant; broken handlers are caught
with their seed, invariant and step, and the saved reproducer fails the same way when replayed.

Seeds for the bundled-handler runs: ``VMOTION_SOAK_SEEDS=FIRST-LAST`` (default 0-1), so a long campaign is
``VMOTION_SOAK_SEEDS=0-199 pytest -n 8 tests/speed/test_soak.py -k holds`` spread by pytest-xdist.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import List

import pytest

from simulator.soak.runner import SoakRun, timeout_for
from simulator.soak.steps import KINDS, draw_steps, run_seed

REPO = Path(__file__).resolve().parents[2]
BROKEN = [sys.executable, str(REPO / "tests" / "conformance" / "broken_handler.py")]
SPEED = 20.0


def _seeds() -> List[int]:
    first, _, last = os.environ.get("VMOTION_SOAK_SEEDS", "0-1").partition("-")
    return list(range(int(first), int(last or first) + 1))


def test_the_same_seed_draws_the_same_sequence_and_another_seed_another() -> None:
    one = draw_steps(run_seed(7, 0), 20, 120)
    assert one == draw_steps(run_seed(7, 0), 20, 120)
    assert one != draw_steps(run_seed(7, 1), 20, 120) and one != draw_steps(run_seed(8, 0), 20, 120)
    assert one[:2] == [{"do": "hook", "hook": "quiesce", "behaviour": "fast", "wait": 0.0},
                       {"do": "vmotion", "outcome": "success", "wait": 180.0}]
    kinds = {s["do"] for seed in range(30) for s in draw_steps(run_seed(seed, 0), 10, 120)}
    assert kinds == set(KINDS)


@pytest.mark.parametrize("seed", _seeds())
def test_the_bundled_handler_holds_every_invariant(_speed_tools: None, seed: int) -> None:
    steps = draw_steps(run_seed(seed, 0), 3, timeout_for(SPEED))
    violation = SoakRun(steps, speed=SPEED, seed=seed).play()
    assert violation is None, f"seed {seed}: {violation}"


def _soak(*args: str, cwd: Path, command: str = "soak") -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "simulator", command, *args], cwd=cwd, capture_output=True,
                          text=True, timeout=300)


def test_a_handler_that_never_acks_is_caught_and_its_reproducer_fails_the_same_way(
    _speed_tools: None, tmp_path: Path
) -> None:
    command = ["--", *BROKEN, "--flaw", "never-acks", "--quiesce", "{quiesce}", "--unquiesce", "{unquiesce}"]
    first = _soak("--seed", "3", "--steps", "2", "--speed", f"{SPEED:g}", "--report", "out", *command, cwd=tmp_path)
    assert first.returncode == 1, first.stderr
    assert "seed 3 run 0: clean-start-acked broken at step 2" in first.stdout
    saved = tmp_path / "out" / "soak-3-0.json"
    doc = json.loads(saved.read_text())
    assert (doc["format"], doc["version"], doc["expect"]) == ("vmotion-incident-scenario", 2,
                                                              ["invariant:clean-start-acked"])
    # soak --replay is vmotion-sim run: exit 0 when the same invariant breaks again
    again = _soak("--replay", str(saved), "--json", cwd=tmp_path)
    assert again.returncode == 0, again.stdout + again.stderr
    verdict = json.loads(again.stdout)
    assert verdict["reproduced"] and "invariant:clean-start-acked" in verdict["observed"], verdict


def test_a_handler_that_keeps_no_state_leaks_its_registration_on_sigkill(_speed_tools: None, tmp_path: Path) -> None:
    reproducer = tmp_path / "kill.json"
    reproducer.write_text(json.dumps({
        "format": "vmotion-soak-reproducer", "version": 1, "seed": None, "run": None, "speed": SPEED,
        "handler": " ".join([*BROKEN, "--flaw", "keeps-no-state", "--quiesce", "{quiesce}",
                             "--unquiesce", "{unquiesce}"]),
        "steps": [{"do": "kill-restart", "wait": 60.0}, {"do": "wait", "wait": 10.0}],
    }))
    done = _soak("--replay", str(reproducer), "--json", "--report", "out", cwd=tmp_path)
    assert done.returncode == 1, done.stderr
    verdict = json.loads(done.stdout)
    assert (verdict["invariant"], verdict["step"]) == ("restart-leaks-nothing", 1), verdict


def test_bad_usage_is_one_line_and_exit_2(tmp_path: Path) -> None:
    for args in (["--runs", "0"], ["--jobs", "0"], ["--speed", "0"]):
        bad = _soak(*args, cwd=tmp_path)
        assert bad.returncode == 2 and bad.stderr.count("\n") == 1, args
    (tmp_path / "junk.json").write_text("{}")
    junk = _soak("--replay", "junk.json", cwd=tmp_path)
    assert junk.returncode == 2 and "not a soak reproducer" in junk.stderr


def test_the_soak_writes_junit_and_an_html_report_as_check_does_each_run_a_scenario_named_by_its_seed(
    _speed_tools: None, tmp_path: Path
) -> None:
    command = ["--", *BROKEN, "--flaw", "never-acks", "--quiesce", "{quiesce}", "--unquiesce", "{unquiesce}"]
    done = _soak("--seed", "3", "--steps", "2", "--speed", f"{SPEED:g}", "--junitxml", "soak.xml", "--report", "out",
                 *command, cwd=tmp_path)
    assert done.returncode == 1, done.stderr
    [case] = list(ET.parse(tmp_path / "soak.xml").getroot().iter("testcase"))
    assert (case.get("classname"), case.get("name")) == ("soak", "seed 3 run 0")
    failure = case.find("failure")
    assert failure is not None and "clean-start-acked broken at step 2" in str(failure.get("message"))
    assert "start" in str(case.findtext("system-out"))  # the run's journal as a timeline
    page = (tmp_path / "out" / "index.html").read_text()
    assert "soak: seed 3 run 0" in page and "0 passed, 1 failed" in page
    assert list((tmp_path / "out").glob("*seed-3-run-0.journal.json")) and (tmp_path / "out" / "soak-3-0.json").exists()


def test_jobs_play_runs_at_once_and_report_them_in_order(_speed_tools: None, tmp_path: Path) -> None:
    done = _soak("--seed", "5", "--runs", "2", "--steps", "1", "--jobs", "2", "--speed", f"{SPEED:g}", "--json",
                 cwd=tmp_path)
    assert done.returncode == 0, done.stdout + done.stderr
    verdicts = [json.loads(line) for line in done.stdout.splitlines()]
    assert [(v["run"], v["held"]) for v in verdicts] == [(0, True), (1, True)]


def test_a_naive_shell_handler_gets_a_violation_that_its_seed_reproduces(_speed_tools: None, tmp_path: Path) -> None:
    """Polls slowly, sleeps after every event, never unregisters: the soak says which invariant, at which step."""
    naive = ["--", str(Path(__file__).with_name("naive_handler.sh"))]
    runs = [_soak("--seed", "11", "--steps", "2", "--speed", f"{SPEED:g}", "--json", "--report", f"r{i}", *naive,
                  cwd=tmp_path) for i in (1, 2)]
    verdicts = [json.loads(run.stdout) for run in runs]
    assert all(run.returncode == 1 for run in runs), [run.stderr for run in runs]
    assert verdicts[0]["seed"] == 11
    found = (verdicts[0]["invariant"], verdicts[0]["step"])
    # Seed 11 kills and restarts it at step 3: it kept no token, so its old registration locks it out.
    assert found == ("restart-leaks-nothing", 3), verdicts[0]
    assert (verdicts[1]["invariant"], verdicts[1]["step"]) == found
    # The reproducer is a scenario file: its actions are the run's steps at their seconds, its expect the invariant;
    # vmotion-sim run plays it against the same command and exits 0 when the same invariant breaks.
    doc = json.loads(Path(tmp_path / verdicts[0]["reproducer"]).read_text())
    assert doc["format"] == "vmotion-incident-scenario" and doc["expect"] == ["invariant:restart-leaks-nothing"]
    assert [a["do"] for a in doc["actions"]][-2:] == ["kill", "restart"] and doc["speed"] == SPEED
    replayed = _soak("--json", verdicts[0]["reproducer"], *naive, cwd=tmp_path, command="run")
    assert replayed.returncode == 0, replayed.stdout + replayed.stderr
    verdict = json.loads(replayed.stdout)
    assert verdict["reproduced"] and "invariant:restart-leaks-nothing" in verdict["observed"], verdict


def test_a_naive_handler_that_never_unregisters_fails_the_sigterm_invariant(_speed_tools: None, tmp_path: Path) -> None:
    reproducer = tmp_path / "calm.json"
    reproducer.write_text(json.dumps({
        "format": "vmotion-soak-reproducer", "version": 1, "seed": None, "run": None, "speed": SPEED,
        "handler": str(Path(__file__).with_name("naive_handler.sh")), "steps": [{"do": "wait", "wait": 5.0}],
    }))
    done = _soak("--replay", str(reproducer), "--json", "--report", "out", cwd=tmp_path)
    assert done.returncode == 1, done.stderr
    verdict = json.loads(done.stdout)
    assert (verdict["invariant"], verdict["step"]) == ("sigterm-clean", 2), verdict


def test_a_scenario_file_with_a_terminate_tells_a_handler_that_exits_registered_from_one_that_unregisters(
    _speed_tools: None, tmp_path: Path
) -> None:
    """The soak's sigterm-clean invariant as a scenario file's expect: the naive handler breaks it, the bundled
    handler does not, so the same file reproduces against one and not the other."""
    naive = str(Path(__file__).with_name("naive_handler.sh"))
    scenario = tmp_path / "terminate.json"
    scenario.write_text(json.dumps({
        "format": "vmotion-incident-scenario", "version": 2, "name": "SIGTERM leaves a registration",
        "settings": {"host_timeout": 120}, "actions": [{"at": 10, "do": "terminate"}], "duration": 10.5,
        "expect": ["invariant:sigterm-clean"], "command": naive, "speed": SPEED, "begin": "registered",
    }))
    reproduced = _soak("--json", str(scenario), cwd=tmp_path, command="run")  # the file's own command and speed
    assert reproduced.returncode == 0, reproduced.stdout + reproduced.stderr
    assert "invariant:sigterm-clean" in json.loads(reproduced.stdout)["observed"]
    bundled = ["--", "{python}", "-m", "handler", "--name", "{name}", "--quiesce", "{quiesce}", "--unquiesce",
               "{unquiesce}", "--state-file", "{state_file}"]
    held = _soak("--json", str(scenario), *bundled, cwd=tmp_path, command="run")
    assert held.returncode == 5, held.stdout + held.stderr
    assert json.loads(held.stdout)["observed"] == []


@pytest.mark.parametrize("content", ["[" * 100_000, '{"format": "vmotion-soak-reproducer"}', "[]"])
def test_a_replay_file_that_is_not_a_reproducer_is_bad_usage_in_one_line(tmp_path: Path, content: str) -> None:
    (tmp_path / "bad.json").write_text(content)
    done = _soak("--replay", "bad.json", cwd=tmp_path)
    assert done.returncode == 2 and "bad.json is not a soak reproducer" in done.stderr, done.stderr
    assert len(done.stderr.splitlines()) == 1
