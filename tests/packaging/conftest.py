"""The built wheel in a fresh virtual environment outside the checkout, shared by the packaging tests: building
and installing it once costs more than all of them."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Dict, List

import pytest

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
    # pytest-xdist is not part of [check]; it lets the one full check run on two workers. --no-compile: Python
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
def full_check(venv: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The suite's one full check of the bundled handler, run from a directory holding packages named like ours,
    with every output: ``results.json``, ``junit.xml``, ``report/``."""
    project = tmp_path_factory.mktemp("their-project")
    make_their_packages(project)
    # Every scenario, on two workers: they run on real (short) timeouts, so this halves the wait.
    done = run([str(venv / "bin" / "vmotion-sim"), "check", "--json", "--junitxml", "out/junit.xml",
                "--report", "out/report"], project, {**user_env(venv), "PYTEST_ADDOPTS": "-n 2"})
    assert done.returncode == 0, done.stdout + done.stderr
    (project / "out" / "results.json").write_text(done.stdout)
    return project / "out"
