"""``vmotion-sim check -- COMMAND...``: the handler-behaviour scenarios run against any handler command.

The check is the same run as ``pytest --handler-cmd 'COMMAND'`` over ``features/``: the scenarios tagged
``@conformance`` start the handler as a process against a simulated VM of their own, with probe hooks in place
of ``{quiesce}`` and ``{unquiesce}``. pytest runs in a child process and writes one verdict per scenario
(``--vmotion-report``); this module prints them as a table, or as JSON with ``--json``.

Exit codes: 0 every scenario passed; 1 at least one failed; 2 bad usage; 4 the check cannot run here (pytest
and pytest-bdd are not installed, or ``features/`` is not there: the check needs a source checkout).
"""

from __future__ import annotations

import importlib.util
import json
import os
import shlex
import subprocess
import sys
import tempfile
from importlib import metadata
from pathlib import Path
from typing import Any, Dict, List, Optional, Sequence, TextIO

REPO_ROOT = Path(__file__).resolve().parent.parent
FEATURES_DIR = REPO_ROOT / "features"
EXIT_PASSED, EXIT_FAILED, EXIT_USAGE, EXIT_UNAVAILABLE = 0, 1, 2, 4
PLUGIN_ENTRY_POINT = "vmotion"


class CheckError(Exception):
    def __init__(self, code: int, message: str) -> None:
        super().__init__(message)
        self.code = code


def handler_template(command: Sequence[str]) -> Optional[str]:
    """The words after ``--`` as one ``--handler-cmd`` string (None: the bundled handler)."""
    words = list(command)
    if words and words[0] == "--":
        words = words[1:]
    if not words:
        return None
    if not words[0].strip():
        raise CheckError(EXIT_USAGE, "the handler command is empty")
    template = shlex.join(words)
    from simulator.pytest_plugin import placeholder_problem

    problem = placeholder_problem(template)
    if problem:
        raise CheckError(EXIT_USAGE, problem)
    return template


def _plugin_args() -> List[str]:
    """Load the plugin by module when it is not installed as a pytest11 entry point (a bare source tree)."""
    names = {ep.name for ep in metadata.entry_points(group="pytest11")}
    return [] if PLUGIN_ENTRY_POINT in names else ["-p", "simulator.pytest_plugin"]


def pytest_argv(template: Optional[str], report: Path, select: Optional[str], speed: float = 1.0) -> List[str]:
    from simulator.pytest_plugin import BUNDLED_HANDLER_CMD

    argv = [
        sys.executable, "-m", "pytest", str(FEATURES_DIR), "--rootdir", str(REPO_ROOT),
        "-q", "-p", "no:cacheprovider", "-o", "addopts=--strict-markers",
        *_plugin_args(),
        "--handler-cmd", template if template is not None else BUNDLED_HANDLER_CMD,
        "--vmotion-report", str(report),
    ]
    if select:
        argv += ["-k", select]
    if speed != 1.0:
        argv += ["--vmotion-speed", f"{speed:g}"]
    return argv


def run_scenarios(template: Optional[str], select: Optional[str] = None, speed: float = 1.0) -> List[Dict[str, Any]]:
    """Run the conformance scenarios; one verdict per scenario (``scenario``, ``passed``, ``reason``, ``timings``)."""
    for module in ("pytest", "pytest_bdd"):
        if importlib.util.find_spec(module) is None:
            raise CheckError(EXIT_UNAVAILABLE, f"the check needs {module} (the [test] extra)")
    if not FEATURES_DIR.is_dir():
        raise CheckError(EXIT_UNAVAILABLE, f"{FEATURES_DIR} not found: the check runs from a source checkout")
    with tempfile.TemporaryDirectory(prefix="vmotion-check-") as scratch:
        report = Path(scratch) / "verdicts.json"
        done = subprocess.run(
            pytest_argv(template, report, select, speed), cwd=os.getcwd(), capture_output=True, text=True,
            stdin=subprocess.DEVNULL, env=dict(os.environ),
        )
        # The child runs in the caller's directory: relative paths in the handler command keep their meaning.
        # pytest: 0 all passed, 1 some failed; anything else means the run itself did not work.
        if done.returncode not in (0, 1) or not report.exists():
            tail = (done.stdout + done.stderr).strip().splitlines()[-1:] or ["no output"]
            if done.returncode == 5:
                raise CheckError(EXIT_USAGE, "no conformance scenario matched")
            if done.returncode == 4 and select and "'-k'" in tail[0]:  # pytest's usage error, about our -k
                raise CheckError(EXIT_USAGE, f"-k {select!r} is not a valid selection expression")
            raise CheckError(EXIT_UNAVAILABLE, f"the conformance run did not complete (pytest exit "
                                               f"{done.returncode}): {tail[0]}")
        verdicts: List[Dict[str, Any]] = json.loads(report.read_text())
    if not verdicts:
        raise CheckError(EXIT_USAGE, "no conformance scenario matched")
    return verdicts


def check_speed(template: Optional[str]) -> None:
    """Say at once (exit 4) when the handler's program cannot run at speed, rather than in every scenario."""
    from simulator.speed import SpeedUnavailable, check_program, find_libfaketime

    try:
        find_libfaketime()
        if template is not None:
            check_program(shlex.split(template)[:1])
    except SpeedUnavailable as why:
        raise CheckError(EXIT_UNAVAILABLE, str(why)) from None


def _timings_text(timings: Dict[str, Any]) -> str:
    return ", ".join(f"{name.removesuffix('_s').replace('_', ' ')} {value:.2f}s" for name, value in timings.items())


def render_table(verdicts: List[Dict[str, Any]]) -> str:
    rows = [("scenario", "verdict", "why", "timings")]
    for v in verdicts:
        name = str(v["scenario"]).split(": ", 1)[-1]
        rows.append((name, "passed" if v["passed"] else "FAILED", v["reason"] or "-", _timings_text(v["timings"])))
    widths = [max(len(r[0]) for r in rows), 7, min(max(len(r[2]) for r in rows), 60)]
    lines = []
    for row in rows:
        cells = [row[i].ljust(widths[i]) if len(row[i]) <= widths[i] else row[i] for i in range(3)]
        lines.append("  ".join([*cells, row[3]]).rstrip())
    failed = sum(1 for v in verdicts if not v["passed"])
    lines.append(f"{len(verdicts) - failed} passed, {failed} failed")
    return "\n".join(lines)


def main(command: Sequence[str], as_json: bool = False, select: Optional[str] = None,
         out: Optional[TextIO] = None, speed: float = 1.0) -> int:
    stream = out or sys.stdout
    try:
        if speed != 1.0:
            check_speed(handler_template(command))
        verdicts = run_scenarios(handler_template(command), select, speed)
    except CheckError as err:
        print(f"vmotion-sim check: {err}", file=sys.stderr)
        return err.code
    if as_json:
        stream.write(json.dumps(verdicts, indent=2) + "\n")
    else:
        stream.write(render_table(verdicts) + "\n")
    return EXIT_PASSED if all(v["passed"] for v in verdicts) else EXIT_FAILED
