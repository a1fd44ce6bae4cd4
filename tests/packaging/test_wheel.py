"""The built wheel, installed with its ``[check]`` extra into a fresh virtual environment outside the checkout,
used from a directory that holds packages of its own named ``handler`` and ``simulator``: ours run, not theirs.

This is also the suite's one full conformance run of the bundled handler (``vmotion-sim check``, every scenario).
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any, Dict, List

import pytest

REPO = Path(__file__).resolve().parents[2]
CONFORMANCE_SCENARIOS = 10
CYCLE_TIMINGS = {"start_to_ack_s", "quiesce_s", "ack_after_quiesce_s", "end_to_unquiesce_s"}
# What a user's directory may hold: packages with our names, which must never stand in for ours.
THEIR_HANDLER = 'import sys\nprint("their handler ran", file=sys.stderr)\nsys.exit(97)\n'
THEIR_SIMULATOR = 'raise ImportError("their simulator package was imported")\n'
THEIR_TEST = '''
import pytest

from simulator.harness import wait_until


@pytest.mark.vmotion_sim(host_timeout=10, migration_seconds=1)
def test_the_bundled_handler_registers_and_stops_cleanly(vmotion_sim, vmotion_handler):
    handler = vmotion_handler()
    assert wait_until(lambda: vmotion_sim.simulator.status()["registrations"], timeout=15), handler.log()
    assert vmotion_sim.simulator.status()["effective_timeout"] == 10  # the marker's settings
    assert handler.stop() == 0, handler.log()
    assert vmotion_sim.simulator.status()["registrations"] == []
'''


def _run(argv: List[str], cwd: Path, env: Dict[str, str], timeout: float = 300) -> subprocess.CompletedProcess[str]:
    return subprocess.run(argv, cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout,
                          stdin=subprocess.DEVNULL)


@pytest.fixture(scope="module")
def venv(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A fresh virtual environment with the wheel and its [check] extra, and nothing of the checkout."""
    base = tmp_path_factory.mktemp("wheel")
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "VIRTUAL_ENV")}
    # Built from a copy of the files git knows (committed or not): a build/ left in the checkout by an earlier
    # build would otherwise put modules that no longer exist into the wheel.
    listed = _run(["git", "ls-files", "-co", "--exclude-standard", "-z"], REPO, env)
    assert listed.returncode == 0, listed.stderr
    source = base / "source"
    for name in filter(None, listed.stdout.split("\0")):
        if (REPO / name).is_file():
            (source / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(REPO / name, source / name)
    built = _run([sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", "--no-build-isolation",
                  "-w", str(base / "dist"), str(source)], base, env)
    assert built.returncode == 0, built.stderr
    [wheel] = (base / "dist").glob("*.whl")
    venv = base / "venv"
    created = _run([sys.executable, "-m", "venv", "--without-pip", str(venv)], base, env)
    assert created.returncode == 0, created.stderr
    # This environment's pip installs into the new one (--python): no copy of pip to set up there first.
    # pytest-xdist is not part of [check]; it lets the one full check run on two workers.
    installed = _run([sys.executable, "-m", "pip", "--python", str(venv / "bin" / "python"), "install", "-q",
                      f"{wheel}[check]", "pytest-xdist"], base, env)
    assert installed.returncode == 0, installed.stderr
    return venv


@pytest.fixture
def their_project(tmp_path: Path) -> Path:
    for package, main in (("handler", THEIR_HANDLER), ("simulator", THEIR_SIMULATOR)):
        (tmp_path / package).mkdir()
        (tmp_path / package / "__init__.py").write_text(main if package == "simulator" else "")
        (tmp_path / package / "__main__.py").write_text(main)
    return tmp_path


def _env(venv: Path) -> Dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "VIRTUAL_ENV", "PYTEST_ADDOPTS")}
    env["PATH"] = f"{venv / 'bin'}{os.pathsep}{env.get('PATH', os.defpath)}"
    return env


def test_the_wheel_carries_the_license_and_the_scenarios(venv: Path) -> None:
    [site] = (venv / "lib").glob("python*/site-packages")
    [dist_info] = site.glob("vmotion_notification_harness-*.dist-info")
    licence = next(dist_info.rglob("LICENSE")).read_text()
    assert "Apache License" in licence and "Version 2.0" in licence
    assert len(list((site / "simulator" / "harness" / "scenarios").glob("*.feature"))) >= 8
    assert not (site / "features").exists() and not (site / "tests").exists()


def test_vmotion_sim_check_passes_the_bundled_handler_on_every_scenario(venv: Path, their_project: Path) -> None:
    # Every scenario, on two workers: they run on real (short) timeouts, so this halves the wait.
    done = _run([str(venv / "bin" / "vmotion-sim"), "check", "--json"], their_project,
                {**_env(venv), "PYTEST_ADDOPTS": "-n 2"})
    assert done.returncode == 0, done.stdout + done.stderr
    verdicts: List[Dict[str, Any]] = json.loads(done.stdout)
    assert len(verdicts) == CONFORMANCE_SCENARIOS
    for v in verdicts:
        assert set(v) == {"scenario", "passed", "reason", "timings"}
        assert v["passed"] is True and v["reason"] == ""
        timings = v["timings"]
        # Every scenario is timed; one with a vMotion also times the steps it saw, within the scenario's time.
        assert "total_s" in timings and set(timings) <= {"total_s", *CYCLE_TIMINGS}, v
        cycle = sum(timings.get(name, 0.0) for name in ("start_to_ack_s", "end_to_unquiesce_s"))
        assert timings["total_s"] >= cycle, v
    acked = next(v for v in verdicts if "acks before the timeout" in v["scenario"])["timings"]
    # The scenario: quiesce 1 s, timeout 8 s, migration 1 s.
    assert 8 > acked["start_to_ack_s"] >= acked["quiesce_s"] + acked["ack_after_quiesce_s"]
    assert acked["quiesce_s"] >= 1.0
    assert acked["total_s"] >= acked["start_to_ack_s"] + 1.0 + acked["end_to_unquiesce_s"]


def test_the_fixtures_run_our_handler_not_the_one_in_the_current_directory(venv: Path, their_project: Path) -> None:
    (their_project / "test_theirs.py").write_text(THEIR_TEST)
    done = _run([str(venv / "bin" / "pytest"), "-q", "-p", "no:cacheprovider", "test_theirs.py"], their_project,
                _env(venv))
    assert done.returncode == 0, done.stdout + done.stderr
    assert "1 passed" in done.stdout
