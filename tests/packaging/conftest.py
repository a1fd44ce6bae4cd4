"""The built wheel in a fresh virtual environment outside the checkout, shared by the packaging tests: building
and installing it once costs more than all of them."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Dict, Iterator, List, Tuple

import pytest

from simulator.processes import stop_process

REPO = Path(__file__).resolve().parents[2]
# What a user's directory may hold: packages with our names, which must never stand in for ours.
THEIR_HANDLER = 'import sys\nprint("their handler ran", file=sys.stderr)\nsys.exit(97)\n'
THEIR_SIMULATOR = 'raise ImportError("their simulator package was imported")\n'


def run(argv: List[str], cwd: Path, env: Dict[str, str], timeout: float = 300) -> subprocess.CompletedProcess[str]:
    return subprocess.run(argv, cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout,
                          stdin=subprocess.DEVNULL)


@pytest.fixture(scope="session")
def venv(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A fresh virtual environment with the wheel and its [check] extra, and nothing of the checkout."""
    base = tmp_path_factory.mktemp("wheel")
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "VIRTUAL_ENV")}
    # Built from a copy of the files git knows (committed or not): a build/ left in the checkout by an earlier
    # build would otherwise put modules that no longer exist into the wheel.
    listed = run(["git", "ls-files", "-co", "--exclude-standard", "-z"], REPO, env)
    assert listed.returncode == 0, listed.stderr
    source = base / "source"
    for name in filter(None, listed.stdout.split("\0")):
        if (REPO / name).is_file():
            (source / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(REPO / name, source / name)
    built = run([sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", "--no-build-isolation",
                  "-w", str(base / "dist"), str(source)], base, env)
    assert built.returncode == 0, built.stderr
    [wheel] = (base / "dist").glob("*.whl")
    venv = base / "venv"
    created = run([sys.executable, "-m", "venv", "--without-pip", str(venv)], base, env)
    assert created.returncode == 0, created.stderr
    # This environment's pip installs into the new one (--python): no copy of pip to set up there first.
    # pytest-xdist is not part of [check]; it lets the one full check run on several workers. --no-compile: Python
    # compiles what it imports anyway; byte-compiling every installed module up front is a third of the install.
    installed = run([sys.executable, "-m", "pip", "--python", str(venv / "bin" / "python"), "install", "-q",
                      "--no-compile", "--disable-pip-version-check", f"{wheel}[check]", "pytest-xdist"], base, env)
    assert installed.returncode == 0, installed.stderr
    return venv


def user_env(venv: Path) -> Dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "VIRTUAL_ENV", "PYTEST_ADDOPTS")}
    env["PATH"] = f"{venv / 'bin'}{os.pathsep}{env.get('PATH', os.defpath)}"
    return env


def make_their_packages(directory: Path) -> Path:
    for package, main in (("handler", THEIR_HANDLER), ("simulator", THEIR_SIMULATOR)):
        (directory / package).mkdir()
        (directory / package / "__init__.py").write_text(main if package == "simulator" else "")
        (directory / package / "__main__.py").write_text(main)
    return directory


@pytest.fixture(scope="session")
def full_check_started(venv: Path, tmp_path_factory: pytest.TempPathFactory
                       ) -> Iterator[Tuple[Path, subprocess.Popen[bytes]]]:
    """The suite's one full check of the bundled handler, started and not awaited: it mostly waits on real
    timeouts, so other checks run meanwhile (``full_check`` awaits it). Run from a directory holding packages
    named like ours; its outputs go to ``out/``."""
    project = tmp_path_factory.mktemp("their-project")
    make_their_packages(project)
    out = project / "out"
    out.mkdir()
    # Every scenario, on four workers: they mostly wait on real (short) timeouts (about 7 s of CPU in 25 s when
    # serial), so the run takes little more than its longest scenario. That it runs under xdist is itself
    # checked (test_check_reports_every_verdict_when_pytest_runs_under_xdist).
    with (out / "results.json").open("wb") as stdout, (project / "stderr.txt").open("wb") as stderr:
        process = subprocess.Popen([str(venv / "bin" / "vmotion-sim"), "check", "--json", "--junitxml",
                                    "out/junit.xml", "--report", "out/report"], cwd=project,
                                   env={**user_env(venv), "PYTEST_ADDOPTS": "-n 4"}, stdin=subprocess.DEVNULL,
                                   stdout=stdout, stderr=stderr)
    try:
        yield out, process
    finally:
        stop_process(process)  # by its pid, had no test waited for it


@pytest.fixture(scope="session")
def full_check(full_check_started: Tuple[Path, subprocess.Popen[bytes]]) -> Path:
    """The full check's outputs, once it ended: ``results.json``, ``junit.xml``, ``report/``."""
    out, process = full_check_started
    status = process.wait(timeout=300)
    assert status == 0, (out / "results.json").read_text() + (out.parent / "stderr.txt").read_text()
    return out
