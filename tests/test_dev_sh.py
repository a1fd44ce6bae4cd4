"""`./dev.sh test` runs every stage even after a failure, then fails naming the stages that failed.

The script runs from a copy in a scratch directory whose tools are stubs that record that they ran (the
venv's programs, `vcsim/build`), so the test checks the script's control flow, not the tools.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest

from benchmarks import suite

REPO = Path(__file__).resolve().parents[1]
GOVMOMI = Path("/usr/share/gocode/src/github.com/vmware/govmomi")  # dev.sh checks this path as is


def stub(path: Path, body: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(f"#!/bin/sh\necho \"$(basename \"$0\") $*\" >> \"$STAGE_LOG\"\n{body}\n")
    path.chmod(0o755)


needs_go = pytest.mark.skipif(shutil.which("go") is None or not GOVMOMI.is_dir(),
                             reason="dev.sh test first installs Go and govmomi, which needs root here")


def run_dev_sh_test(tmp_path: Path, *args: str, **failing: int) -> subprocess.CompletedProcess[str]:
    """``dev.sh test ARGS`` from a scratch copy; each stub exits 0 unless ``failing`` gives its status."""
    work, venv = tmp_path / "checkout", tmp_path / "venv"
    work.mkdir()
    shutil.copy2(REPO / "dev.sh", work / "dev.sh")
    (work / "pyproject.toml").write_text("")
    os.utime(work / "pyproject.toml", (0, 0))
    for tool in ("ruff", "mypy", "vermin"):
        stub(venv / "bin" / tool, f"exit {failing.get(tool, 0)}")
    stub(work / "vcsim" / "build", "exit 0")
    gherkin, tests = failing.get("gherkin", 0), failing.get("tests", 0)
    stub(venv / "bin" / "python", f'case "$*" in *--gherkin*) exit {gherkin};; *pytest*) exit {tests};; esac')
    (venv / ".installed-helper,test").touch()  # newer than pyproject.toml: nothing to install
    env = {**os.environ, "VMOTION_VENV": str(venv), "STAGE_LOG": str(tmp_path / "stages.log")}
    return subprocess.run([str(work / "dev.sh"), "test", *args], env=env, capture_output=True, text=True,
                          timeout=60, stdin=subprocess.DEVNULL)


@needs_go
@pytest.mark.parametrize("gherkin_exit", [1, 5], ids=["a failure", "nothing collected"])
def test_every_stage_runs_and_the_failed_ones_are_named(tmp_path: Path, gherkin_exit: int) -> None:
    # The first stage fails, and so does the last (pytest's 5, nothing collected, counts as a failure).
    done = run_dev_sh_test(tmp_path, "-x", ruff=1, gherkin=gherkin_exit)
    assert done.returncode == 1, done.stderr
    assert (tmp_path / "stages.log").read_text().splitlines() == [
        "ruff check .",
        "mypy ",
        "vermin --quiet --no-tips --target=3.9- --violations --eval-annotations simulator handler",
        "build ",
        # the benchmarks' suite figure times these two selections: it must time what dev.sh runs
        f"python -m pytest -p no:cacheprovider {' '.join(suite.TESTS)} -n 2 -x",
        f"python -m pytest -p no:cacheprovider {' '.join(suite.GHERKIN[:1])} -n 2 {' '.join(suite.GHERKIN[1:])} -x",
    ]
    assert "==> FAILED (exit 1): lint: ruff" in done.stderr
    assert "==> FAILED (exit 1): scenarios: pytest --gherkin" in done.stderr
    assert done.stderr.splitlines()[-1] == "==> failed stages: lint: ruff; scenarios: pytest --gherkin"


@needs_go
def test_all_stages_passing_exits_0(tmp_path: Path) -> None:
    done = run_dev_sh_test(tmp_path)
    assert (done.returncode, done.stderr.splitlines()[-1]) == (0, "==> every stage passed"), done.stderr
