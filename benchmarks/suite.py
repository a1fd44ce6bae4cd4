"""Figure: wall time of the whole test suite and of ``pytest --gherkin``, serial and with ``-n 2``.

Slow (it runs everything, vCenter simulator included), so only in the full mode or with ``--only suite``.
Floor: pytest starting and collecting the same selection (``--collect-only``), measured in the same run;
the ratio is what running the tests adds to merely finding them. Each run's exit status is kept: a time
of a failing suite is reported as such, not hidden.
"""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path
from typing import List, Optional, Sequence, Tuple

from benchmarks.measure import Row

FIGURE = "suite"
REPO = Path(__file__).resolve().parent.parent
BASE = [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider"]


def _pytest(args: Sequence[str]) -> Tuple[float, int, str]:
    """(wall seconds, exit status, last line of output)."""
    start = time.perf_counter()
    done = subprocess.run([*BASE, *args], cwd=REPO, capture_output=True, text=True, check=False)
    wall = time.perf_counter() - start
    lines = [line for line in done.stdout.splitlines() if line.strip()]
    return wall, done.returncode, lines[-1] if lines else done.stderr.strip()[-200:]


def gherkin_available() -> bool:
    done = subprocess.run([*BASE, "--help"], cwd=REPO, capture_output=True, text=True, check=False)
    return "--gherkin " in done.stdout or "--gherkin\n" in done.stdout


def _row(name: str, selection: List[str], extra_args: List[str], reps: int) -> Row:
    walls: List[float] = []
    statuses: List[int] = []
    summary = ""
    for _ in range(reps):
        wall, status, summary = _pytest([*selection, *extra_args])
        walls.append(wall)
        statuses.append(status)
    floors = [_pytest([*selection, "--collect-only"])[0] for _ in range(reps)]
    return Row(FIGURE, name, "s", walls, "collect only", floors,
               met_override=None if all(s == 0 for s in statuses) else False,
               note=f"exit {statuses}: {summary}", extra={"exit_statuses": statuses, "summary": summary})


def run(quick: bool, reps: int = 1) -> Tuple[List[Row], Optional[str]]:
    """The rows and, when ``--gherkin`` is not available yet, a note saying so."""
    rows = [
        _row("full suite, serial", [], [], reps),
        _row("full suite, -n 2", [], ["-n", "2"], reps),
    ]
    if not gherkin_available():
        return rows, "pytest --gherkin is not available yet (the option is unknown): skipped"
    rows += [
        _row("pytest --gherkin, serial", ["--gherkin"], [], reps),
        _row("pytest --gherkin, -n 2", ["--gherkin"], ["-n", "2"], reps),
    ]
    return rows, None
