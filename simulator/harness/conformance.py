"""``vmotion-sim check -- COMMAND...``: the handler-behaviour scenarios run against any handler command.

The check is the same run as ``pytest --handler-cmd 'COMMAND'`` over the scenarios shipped in this package
(``simulator/harness/scenarios``): the scenarios tagged
``@conformance`` start the handler as a process against a simulated VM of their own, with probe hooks in place
of ``{quiesce}`` and ``{unquiesce}``. pytest runs in a child process and writes one verdict per scenario, with
its journal and the handler's log (``--vmotion-report``); this module turns them into the outputs of
:mod:`simulator.report`: a table (or JSON with ``--json``), JUnit XML, an HTML page, and a timing baseline.

Exit codes: 0 every scenario passed; 1 at least one failed; 2 bad usage; 4 the check cannot run here (pytest
and pytest-bdd are not installed: the ``[check]`` extra).

pytest runs isolated (``-I``) with our packages first on its path and a configuration of its own, so neither the
current directory's packages nor its pytest configuration change what is checked; it still runs *in* the current
directory, so relative paths in the handler command keep their meaning.
"""

from __future__ import annotations

import dataclasses
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

from simulator.harness.ours import python_running
from simulator.model.knobs import Knobs
from simulator.report import (
    BaselineError,
    CheckResults,
    ScenarioResult,
    apply_baseline,
    junit_xml,
    load_baseline,
    save_baseline,
    write_report,
)
from simulator.report.baseline import DEFAULT_TOLERANCE_PCT

FEATURES_DIR = Path(__file__).resolve().parent / "scenarios"
# The child's own configuration: the markers the scenarios' tags become (checked strictly), nothing else.
PYTEST_INI = "[pytest]\naddopts = --strict-markers\nmarkers =\n    conformance\n    process\n"
EXIT_PASSED, EXIT_FAILED, EXIT_USAGE, EXIT_UNAVAILABLE = 0, 1, 2, 4
PLUGIN_ENTRY_POINT = "vmotion"


@dataclasses.dataclass
class CheckOptions:
    select: Optional[str] = None  # -k EXPR
    knobs: Dict[str, Any] = dataclasses.field(default_factory=dict)  # pinned for every scenario
    as_json: bool = False
    junitxml: Optional[Path] = None
    report: Optional[Path] = None  # a directory
    save_baseline: Optional[Path] = None
    baseline: Optional[Path] = None
    tolerance: float = DEFAULT_TOLERANCE_PCT


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
    from simulator.harness.launcher import placeholder_problem

    problem = placeholder_problem(template)
    if problem:
        raise CheckError(EXIT_USAGE, problem)
    return template


def _plugin_args() -> List[str]:
    """Load the plugin by module when it is not installed as a pytest11 entry point (a bare source tree)."""
    names = {ep.name for ep in metadata.entry_points(group="pytest11")}
    return [] if PLUGIN_ENTRY_POINT in names else ["-p", "simulator.harness.plugin"]


def pytest_argv(template: Optional[str], report: Path, select: Optional[str],
                knobs: Optional[Dict[str, Any]] = None) -> List[str]:
    from simulator.harness.launcher import BUNDLED_HANDLER_CMD

    ini = report.with_name("pytest.ini")
    ini.write_text(PYTEST_INI)
    argv = [
        *python_running("import pytest; sys.exit(pytest.main())"), str(FEATURES_DIR),
        "-c", str(ini), "--rootdir", str(FEATURES_DIR), "-q", "-p", "no:cacheprovider",
        *_plugin_args(),
        "--handler-cmd", template if template is not None else BUNDLED_HANDLER_CMD,
        "--vmotion-report", str(report),
    ]
    for name, value in (knobs or {}).items():
        argv += ["--vmotion-knob", f"{name}={_knob_text(value)}"]
    if select:
        argv += ["-k", select]
    return argv


def _knob_text(value: Any) -> str:
    """A typed knob value back as the NAME=VALUE text that parses to it."""
    if value is None:
        return "none"
    if isinstance(value, (tuple, list)):
        return ",".join(str(v) for v in value)
    return str(value).lower() if isinstance(value, bool) else str(value)


def run_scenarios(template: Optional[str], select: Optional[str] = None,
                  knobs: Optional[Dict[str, Any]] = None) -> List[Dict[str, Any]]:
    """Run the conformance scenarios; one verdict per scenario (``scenario``, ``passed``, ``reason``, ``timings``,
    ``journal``, ``handler_log``)."""
    for module in ("pytest", "pytest_bdd"):
        if importlib.util.find_spec(module) is None:
            raise CheckError(EXIT_UNAVAILABLE, f"the check needs {module} (the [check] extra)")
    if not FEATURES_DIR.is_dir():
        raise CheckError(EXIT_UNAVAILABLE, f"{FEATURES_DIR} not found: this installation lacks the scenarios")
    with tempfile.TemporaryDirectory(prefix="vmotion-check-") as scratch:
        report = Path(scratch) / "verdicts.json"
        done = subprocess.run(
            pytest_argv(template, report, select, knobs), cwd=os.getcwd(), capture_output=True, text=True,
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


def _timings_text(timings: Dict[str, Any]) -> str:
    return ", ".join(f"{name.removesuffix('_s').replace('_', ' ')} {value:.2f}s" for name, value in timings.items())


def render_table(results: CheckResults) -> str:
    rows = [("scenario", "verdict", "why", "timings")]
    for s in results.scenarios:
        name = s.name.split(": ", 1)[-1]
        timings = {**s.timings, **s.measured()}
        rows.append((name, "passed" if s.passed else "FAILED", s.full_reason() or "-", _timings_text(timings)))
    widths = [max(len(r[0]) for r in rows), 7, min(max(len(r[2]) for r in rows), 60)]
    lines = []
    for row in rows:
        cells = [row[i].ljust(widths[i]) if len(row[i]) <= widths[i] else row[i] for i in range(3)]
        lines.append("  ".join([*cells, row[3]]).rstrip())
    lines += [f"warning: {w}" for w in results.warnings]
    lines.append(f"{len(results.scenarios) - len(results.failed)} passed, {len(results.failed)} failed")
    return "\n".join(lines)


def check(command: Sequence[str], options: CheckOptions) -> CheckResults:
    """Run the check and gate it on the baseline; raises :class:`CheckError` for what stops it."""
    template = handler_template(command)
    try:
        knobs = Knobs(**options.knobs)
        baseline = load_baseline(options.baseline) if options.baseline is not None else None
    except (TypeError, ValueError, BaselineError) as bad:
        raise CheckError(EXIT_USAGE, str(bad)) from None
    verdicts = run_scenarios(template, options.select, options.knobs)
    results = CheckResults(
        scenarios=[ScenarioResult.from_verdict(v) for v in verdicts], knobs=knobs.as_dict(), handler_command=template,
    )
    if baseline is not None:
        apply_baseline(results, baseline, options.tolerance)
    return results


def main(command: Sequence[str], options: Optional[CheckOptions] = None, out: Optional[TextIO] = None) -> int:
    options = options or CheckOptions()
    stream = out or sys.stdout
    try:
        results = check(command, options)
        if options.junitxml is not None:
            options.junitxml.parent.mkdir(parents=True, exist_ok=True)
            options.junitxml.write_bytes(junit_xml(results))
        if options.report is not None:
            write_report(results, options.report)
        if options.save_baseline is not None:
            save_baseline(results, options.save_baseline)
    except CheckError as err:
        print(f"vmotion-sim check: {err}", file=sys.stderr)
        return err.code
    except OSError as err:
        print(f"vmotion-sim check: cannot write {err.filename}: {err.strerror}", file=sys.stderr)
        return EXIT_USAGE
    if options.as_json:
        stream.write(json.dumps(results.as_dict(), indent=2) + "\n")
    else:
        stream.write(render_table(results) + "\n")
    return EXIT_PASSED if not results.failed else EXIT_FAILED
