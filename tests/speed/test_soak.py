"""The soak: same seed, same sequence; the bundled handler holds every invariant; broken handlers are caught
with their seed, invariant and step, and the saved reproducer fails the same way when replayed.

Seeds for the bundled-handler runs: ``VMOTION_SOAK_SEEDS=FIRST-LAST`` (default 0-1). Those runs play the handler's
core on virtual time (milliseconds each), so a long campaign is
``VMOTION_SOAK_SEEDS=0-199 pytest tests/speed/test_soak.py -k holds``; against the handler process it is
``vmotion-sim soak --seed 0 --runs 200 --speed 20 --jobs 4``.
"""

from __future__ import annotations

import json
import os
import re
import shlex
import subprocess
import sys
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Any, Dict, List, Tuple

import pytest

from simulator.cli import main
from simulator.processes import stop_process
from simulator.soak.runner import SOAK_HANDLER_CMD, SoakRun, timeout_for
from simulator.soak.steps import KINDS, draw_steps, run_seed

REPO = Path(__file__).resolve().parents[2]
BROKEN = [sys.executable, str(REPO / "tests" / "conformance" / "broken_handler.py")]
SPEED = 20.0
# Where a test is not about clock agreement, a higher speed: what it checks is read on the simulated clock.
# The broken handler never acks, so its run is forced whatever the load; one run at x400 is 0.45 s of wall time
# (the soak, its shrink's replays, the test's replay: 7 runs). Only its register must come through: a vmtoolsd call
# waits 300 s on its clock, 0.75 s of wall time at x400 (8 of these soaks at once, with their replays, held at x500).
NEVER_ACKS_SPEED = 400.0
# What it takes to shrink the run to the vMotion alone: the first replay, ddmin's three (no action, the hook alone,
# the vMotion alone) and the check of the result. The shrink's quality is tests/incident/test_shrink.py's.
NEVER_ACKS_SHRINK_TRIALS = 5
# The naive handler polls every 10 s and acks 30 s after a start: at x50 that is 0.2 s and 0.6 s of wall time, its
# ack ~75 s inside the deadline (1.5 s of wall time for a loaded machine).
NAIVE_SPEED = 50.0
# Its run: the clean cycle (180 s), a kill and restart, 86.9 s, a vMotion, 18.1 s: the restart bound (105 s at x50)
# has just passed at the end of step 4, the shortest such run of the first 3000 seeds (seed 11's took 139 s).
NAIVE_SEED = 2074
# The bundled handler polls every second, 25 ms of wall time at x40: one vMotion with a fast quiesce is acked
# ~100 s before the deadline.
JOBS_SPEED = 40.0
# The bundled handler as the soak starts it, with two settings of its own for the speed. A vmtoolsd call it counts as
# hung after 10 s is 0.25 s of wall time at x40: under -n 4 a register came later than that, its retry was refused
# (one app per VM) and the operation forced. A poll every 4 s, not every second: two handlers starting a vmtoolsd
# each 25 ms of wall time loaded the machine that their acks then waited on.
JOBS_HANDLER = [*shlex.split(SOAK_HANDLER_CMD), "--interval", "4", "--rpc-timeout", "120"]


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
def test_the_bundled_handler_holds_every_invariant(seed: int) -> None:
    steps = draw_steps(run_seed(seed, 0), 3, timeout_for(SPEED))
    run = SoakRun(steps, seed=seed, virtual=True)
    violation = run.play()
    assert violation is None, f"seed {seed}: {violation}"
    # the whole sequence was played against the core: every vMotion it asked for, each acked and unquiesced
    vmotions = [s for s in steps if s["do"] == "vmotion"]
    operations = run.sim.status().operations
    assert 1 <= len(operations) <= len(vmotions) and all(op.phase == "done" for op in operations), operations
    assert not run.sim.status().registrations and "stopped" in str(run.handler_log)


def _soak(*args: str, cwd: Path, command: str = "soak") -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "simulator", command, *args], cwd=cwd, capture_output=True,
                          text=True, timeout=300)


def test_soak_virtual_plays_the_bundled_core_and_reports_each_run(tmp_path: Path) -> None:
    done = _soak("--virtual", "--seed", "0", "--runs", "2", "--steps", "3", "--jobs", "2", "--json",
                 "--junitxml", "soak.xml", "--report", "out", cwd=tmp_path)
    assert done.returncode == 0, done.stdout + done.stderr
    # check --json's object, each run a scenario, with the soak's own section.
    results = json.loads(done.stdout)
    assert (results["format"], results["format_version"]) == ("vmotion-check", 1)
    assert [(s["name"], s["verdict"]) for s in results["scenarios"]] == [
        ("soak: seed 0 run 0", "passed"), ("soak: seed 0 run 1", "passed")]
    assert all(s["operations"] for s in results["scenarios"])  # the vMotions each run played, with their margins
    assert results["summary"] == {"passed": 2, "failed": 0, "warnings": []}
    assert results["soak"] == {"seed": 0, "runs": 2, "steps": 3, "speed": None, "virtual": True, "violation": None}
    assert done.stderr.splitlines() == ["seed 0 run 0: 5 steps, every invariant held",
                                        "seed 0 run 1: 5 steps, every invariant held"]
    cases = list(ET.parse(tmp_path / "soak.xml").getroot().iter("testcase"))
    assert [c.get("name") for c in cases] == ["seed 0 run 0", "seed 0 run 1"]
    assert all(c.find("failure") is None for c in cases)
    assert "2 passed, 0 failed" in (tmp_path / "out" / "index.html").read_text()


def _at_once(arguments: List[List[str]], cwd: Path, command: str = "soak") -> List[subprocess.CompletedProcess[str]]:
    """Several ``vmotion-sim COMMAND`` at once: independent runs that spend their wall time waiting on clocks."""
    started = [subprocess.Popen([sys.executable, "-m", "simulator", command, *args], cwd=cwd, text=True,
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE) for args in arguments]
    try:
        outputs = [proc.communicate(timeout=300) for proc in started]
        return [subprocess.CompletedProcess(p.args, p.returncode, out, err) for p, (out, err) in zip(started, outputs)]
    finally:
        for proc in started:
            stop_process(proc)


def _never_acks_soak(directory: Path) -> Dict[str, Any]:
    """One soak of a handler that never acks, with every output: its stdout, JUnit XML and report directory."""
    command = ["--", *BROKEN, "--flaw", "never-acks", "--quiesce", "{quiesce}", "--unquiesce", "{unquiesce}"]
    # A few replays shrink its reproducer: one vMotion left unacked is all it needs.
    done = _soak("--seed", "3", "--steps", "2", "--speed", f"{NEVER_ACKS_SPEED:g}", "--junitxml", "soak.xml",
                 "--report", "out", "--shrink-trials", str(NEVER_ACKS_SHRINK_TRIALS), *command, cwd=directory)
    return {"returncode": done.returncode, "stdout": done.stdout, "stderr": done.stderr}


@pytest.fixture(scope="session")
def never_acks_soak(_speed_tools: None, tmp_path_factory: pytest.TempPathFactory) -> Tuple[Path, Dict[str, Any]]:
    """(the directory it ran in, its exit status and output), the soak run once for the tests that read it
    (under pytest-xdist they share a worker: tests/conftest.py's SHARED_SET_UPS)."""
    directory = tmp_path_factory.mktemp("never-acks-soak")
    return directory, _never_acks_soak(directory)


def test_a_handler_that_never_acks_is_caught_and_its_reproducer_fails_the_same_way(
    never_acks_soak: Tuple[Path, Dict[str, Any]], tmp_path: Path
) -> None:
    directory, first = never_acks_soak
    assert first["returncode"] == 1, first["stderr"]
    assert "seed 3 run 0: clean-start-acked broken at step 2" in first["stdout"]
    saved = directory / "out" / "soak-3-0.json"
    doc = json.loads(saved.read_text())
    assert (doc["format"], doc["version"]) == ("vmotion-incident-scenario", 2)
    # It expects the broken invariant alone, as played: what else its last replay showed (an end event missed
    # under load) is timing, and `vmotion-sim run` exits 0 when the same invariant breaks.
    assert doc["expect"] == ["invariant:clean-start-acked"], doc["expect"]
    # Shrunk to the vMotion alone (the played run, kept beside it, also set the quiesce hook), in the replays given.
    played = json.loads((directory / "out" / "soak-3-0.played.json").read_text())
    assert [a["do"] for a in played["actions"]] == ["hook", "vmotion"]
    assert played["expect"] == ["invariant:clean-start-acked"]
    assert [a["do"] for a in doc["actions"]] == ["vmotion"] and doc["name"].endswith("(shrunk)")
    replays = re.search(r"shrunk from 2 to 1 actions in (\d+) replays", first["stdout"])
    assert replays is not None and int(replays.group(1)) <= NEVER_ACKS_SHRINK_TRIALS, first["stdout"]
    assert doc["settings"]["seed"] == played["settings"]["seed"] == run_seed(3, 0)
    # soak --replay is vmotion-sim run: exit 0 when the same invariant breaks again
    again = _soak("--replay", str(saved), "--json", cwd=tmp_path)
    assert again.returncode == 0, again.stdout + again.stderr
    verdict = json.loads(again.stdout)
    assert verdict["reproduced"] and "invariant:clean-start-acked" in verdict["observed"], verdict


def test_a_handler_that_keeps_no_state_leaks_its_registration_on_sigkill(_speed_tools: None, tmp_path: Path) -> None:
    reproducer = tmp_path / "kill.json"
    reproducer.write_text(json.dumps({
        "format": "vmotion-soak-reproducer", "version": 1, "seed": None, "run": None, "speed": 40,
        "handler": " ".join([*BROKEN, "--flaw", "keeps-no-state", "--quiesce", "{quiesce}",
                             "--unquiesce", "{unquiesce}"]),
        # at x40 the restart bound is 5 s + 2 s x 40: the first check after it is step 1's
        "steps": [{"do": "kill-restart", "wait": 90.0}, {"do": "wait", "wait": 10.0}],
    }))
    done = _soak("--replay", str(reproducer), "--json", "--report", "out", "--shrink-trials", "0", cwd=tmp_path)
    assert done.returncode == 1, done.stderr
    verdict = json.loads(done.stdout)["soak"]["violation"]
    assert (verdict["invariant"], verdict["step"]) == ("restart-leaks-nothing", 1), verdict


def _soak_here(capsys: pytest.CaptureFixture[str], *args: str) -> Tuple[int, str]:
    """``vmotion-sim soak ARGS`` through its entry point in this process: (exit status, stderr). For refusals,
    which end before anything runs: a process start each would cost more than the rest of the test."""
    capsys.readouterr()
    try:
        code = main(["soak", *args])
    except SystemExit as exit:
        code = int(exit.code or 0)
    return code, capsys.readouterr().err


def test_bad_usage_is_one_line_and_exit_2(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                          capsys: pytest.CaptureFixture[str]) -> None:
    bad = _soak("--runs", "0", cwd=tmp_path)  # as a process too
    assert bad.returncode == 2 and bad.stderr.count("\n") == 1 and "Traceback" not in bad.stderr
    monkeypatch.chdir(tmp_path)
    for args in (["--runs", "0"], ["--jobs", "0"], ["--speed", "0"]):
        code, err = _soak_here(capsys, *args)
        assert code == 2 and err.count("\n") == 1, args
    for args in (["--speed", "20"], ["--", "./my-handler"], ["--replay", "junk.json"]):
        code, err = _soak_here(capsys, "--virtual", *args)
        assert code == 2 and err.count("\n") == 1 and "--virtual plays the bundled handler's core" in err, args
    (tmp_path / "junk.json").write_text("{}")
    code, err = _soak_here(capsys, "--replay", "junk.json")
    assert code == 2 and "not a soak reproducer" in err


def test_the_soak_writes_junit_and_an_html_report_as_check_does_each_run_a_scenario_named_by_its_seed(
    never_acks_soak: Tuple[Path, Dict[str, Any]],
) -> None:
    tmp_path, done = never_acks_soak
    assert done["returncode"] == 1, done["stderr"]
    [case] = list(ET.parse(tmp_path / "soak.xml").getroot().iter("testcase"))
    assert (case.get("classname"), case.get("name")) == ("soak", "seed 3 run 0")
    failure = case.find("failure")
    assert failure is not None and "clean-start-acked broken at step 2" in str(failure.get("message"))
    assert "start" in str(case.findtext("system-out"))  # the run's journal as a timeline
    page = (tmp_path / "out" / "index.html").read_text()
    assert "soak: seed 3 run 0" in page and "0 passed, 1 failed" in page
    assert list((tmp_path / "out").glob("*seed-3-run-0.journal.json")) and (tmp_path / "out" / "soak-3-0.json").exists()


def test_jobs_play_runs_at_once_and_report_them_in_order(_speed_tools: None, tmp_path: Path) -> None:
    """Two handler processes on two simulated VMs at once (a virtual run is test_soak_virtual_...): the clean cycle
    (--steps 0) is all it takes to show they do not get in each other's way."""
    done = _soak("--seed", "5", "--runs", "2", "--steps", "0", "--jobs", "2", "--speed", f"{JOBS_SPEED:g}", "--json",
                 "--", *JOBS_HANDLER, cwd=tmp_path)
    assert done.returncode == 0, done.stdout + done.stderr
    results = json.loads(done.stdout)
    assert [(s["name"], s["verdict"]) for s in results["scenarios"]] == [
        ("soak: seed 5 run 0", "passed"), ("soak: seed 5 run 1", "passed")]
    assert results["soak"]["violation"] is None and results["soak"]["speed"] == JOBS_SPEED


def test_a_naive_shell_handler_gets_a_violation_that_its_seed_reproduces(_speed_tools: None, tmp_path: Path) -> None:
    """Polls slowly, sleeps after every event, never unregisters: the soak says which invariant, at which step."""
    naive = ["--", str(Path(__file__).with_name("naive_handler.sh"))]
    # The same seed twice, at once.
    runs = _at_once([["--seed", str(NAIVE_SEED), "--steps", "2", "--speed", f"{NAIVE_SPEED:g}", "--json", "--report",
                            f"r{i}", "--shrink-trials", "0", *naive] for i in (1, 2)], cwd=tmp_path)
    assert all(run.returncode == 1 for run in runs), [run.stderr for run in runs]
    verdicts = [json.loads(run.stdout)["soak"]["violation"] for run in runs]
    assert json.loads(runs[0].stdout)["scenarios"][-1]["verdict"] == "failed"
    assert verdicts[0]["seed"] == NAIVE_SEED
    found = (verdicts[0]["invariant"], verdicts[0]["step"])
    # The seed kills and restarts it at step 3: it kept no token, so its old registration locks it out. The
    # invariant is checked once the restart bound (5 s + 2 s x 50) has passed: after step 4's wait.
    assert found == ("restart-leaks-nothing", 4), verdicts[0]
    assert (verdicts[1]["invariant"], verdicts[1]["step"]) == found
    # The reproducer is a scenario file: its actions are the run's steps at their seconds, its expect the invariant;
    # vmotion-sim run plays it against the same command and exits 0 when the same invariant breaks.
    doc = json.loads(Path(tmp_path / verdicts[0]["reproducer"]).read_text())
    assert doc["format"] == "vmotion-incident-scenario" and doc["expect"] == ["invariant:restart-leaks-nothing"]
    assert [a["do"] for a in doc["actions"]][-3:] == ["kill", "restart", "vmotion"] and doc["speed"] == NAIVE_SPEED
    replayed = _soak("--json", verdicts[0]["reproducer"], *naive, cwd=tmp_path, command="run")
    assert replayed.returncode == 0, replayed.stdout + replayed.stderr
    verdict = json.loads(replayed.stdout)
    assert verdict["reproduced"] and "invariant:restart-leaks-nothing" in verdict["observed"], verdict


def test_a_naive_handler_that_never_unregisters_fails_the_sigterm_invariant(_speed_tools: None, tmp_path: Path) -> None:
    reproducer = tmp_path / "calm.json"
    reproducer.write_text(json.dumps({
        "format": "vmotion-soak-reproducer", "version": 1, "seed": None, "run": None, "speed": NAIVE_SPEED,
        "handler": str(Path(__file__).with_name("naive_handler.sh")), "steps": [{"do": "wait", "wait": 5.0}],
    }))
    done = _soak("--replay", str(reproducer), "--json", "--report", "out", "--shrink-trials", "0", cwd=tmp_path)
    assert done.returncode == 1, done.stderr
    verdict = json.loads(done.stdout)["soak"]["violation"]
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
    bundled = ["--", "{python}", "-m", "handler", "--name", "{name}", "--quiesce", "{quiesce}", "--unquiesce",
               "{unquiesce}", "--state-file", "{state_file}"]
    # the file's own command and speed; and the bundled handler's command
    reproduced, held = _at_once([["--json", str(scenario)], ["--json", str(scenario), *bundled]], tmp_path, "run")
    assert reproduced.returncode == 0, reproduced.stdout + reproduced.stderr
    assert "invariant:sigterm-clean" in json.loads(reproduced.stdout)["observed"]
    assert held.returncode == 5, held.stdout + held.stderr
    assert json.loads(held.stdout)["observed"] == []


@pytest.mark.parametrize("content", ["[" * 100_000, '{"format": "vmotion-soak-reproducer"}', "[]"])
def test_a_replay_file_that_is_not_a_reproducer_is_bad_usage_in_one_line(
    tmp_path: Path, content: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / "bad.json").write_text(content)
    monkeypatch.chdir(tmp_path)
    code, err = _soak_here(capsys, "--replay", "bad.json")
    assert code == 2 and "bad.json is not a soak reproducer" in err, err
    assert len(err.splitlines()) == 1
