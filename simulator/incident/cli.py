"""The ``vmotion-sim`` subcommands of this package: replay, run, compare, shrink.

Exit codes (beside vmotion-sim's own 0-3): 4 the input cannot be imported, or the scenario file is invalid;
5 the incident did not reproduce (run, shrink) or the simulator disagrees with the recording (compare).
"""

from __future__ import annotations

import argparse
import json
import sys
from typing import TYPE_CHECKING, Any, Callable, Dict, List, Optional

if TYPE_CHECKING:  # the rest is imported when one of these commands runs: every vmotion-sim call loads this file
    from simulator.incident.reconstruct import Incident
    from simulator.incident.scenario import Scenario

EXIT_BAD_INPUT = 4
EXIT_NOT_REPRODUCED = 5


def add_commands(sub: Any) -> None:
    """Called once by ``simulator.cli.build_parser`` with its subparsers."""
    replay = sub.add_parser("replay", help="import an incident from a recording, journal or handler log")
    replay.add_argument("sources", nargs="+", metavar="SOURCE", help="one file, or a daemon's logs together")
    replay.add_argument("--save", metavar="FILE", help="write the incident as a scenario file")
    replay.add_argument("--name", default=None, help="the scenario's name (default: the first source's name)")
    replay.add_argument("--json", action="store_true", help="print the reconstruction as JSON")
    replay.add_argument("--feature", metavar="FILE", help="also write it as a Gherkin scenario (a regression test)")

    run = sub.add_parser("run", help="run a scenario file; says whether its outcome reproduced")
    run.add_argument("scenario", metavar="FILE")
    run.add_argument("--json", action="store_true")
    run.add_argument("--speed", type=float, default=None, metavar="K",
                     help="with a handler command: the clocks K times faster (handler under libfaketime; default: "
                     "the scenario's speed, else 1)")
    run.add_argument("handler", nargs=argparse.REMAINDER, metavar="-- COMMAND",
                     help="a handler command to run on real time, with {quiesce} and {unquiesce} where its hook "
                     "commands go (default: the bundled handler's core on virtual time)")

    compare = sub.add_parser("compare", help="re-issue a recording's calls against the simulator; list differences")
    compare.add_argument("recording", metavar="RECORDING")
    compare.add_argument("--knob", action="append", default=[], metavar="NAME=VALUE",
                         help="start from this knob value (repeatable)")
    compare.add_argument("--json", action="store_true")

    shrink = sub.add_parser("shrink", help="reduce a failing scenario to the least that still fails the same way")
    shrink.add_argument("scenario", metavar="FILE")
    shrink.add_argument("--output", metavar="FILE", help="where to save it (default: FILE with .shrunk.json)")
    shrink.add_argument("--json", action="store_true")
    shrink.add_argument("--feature", metavar="FILE", help="also write the shrunk scenario as a Gherkin scenario")
    shrink.add_argument("handler", nargs=argparse.REMAINDER, metavar="-- COMMAND",
                        help="a handler command on real time (default: the bundled handler's core, virtual time)")
    for parser in (replay, run, compare, shrink):
        parser.set_defaults(subcommand=main)


def main(args: argparse.Namespace) -> int:
    from simulator.incident.scenario import ScenarioError
    from simulator.incident.sources import SourceError

    try:
        if args.command == "replay":
            return _replay(args)
        if args.command == "run":
            return _run(args)
        if args.command == "compare":
            return _compare(args)
        if args.command == "shrink":
            return _shrink(args)
    except (SourceError, ScenarioError) as bad:
        print(f"vmotion-sim {args.command}: {bad}", file=sys.stderr)
        return EXIT_BAD_INPUT
    raise AssertionError(args.command)


def _print(value: Any) -> None:
    print(json.dumps(value, indent=2))


def describe(incident: Incident) -> List[str]:
    lines = [f"format: {incident.source_format}; {incident.end:.1f} s from the first line to the last"]
    lines.append(f"settings: notificationTimeoutInSec {incident.timeout}; polling every "
                 f"{incident.interval if incident.interval is not None else '?'} s")
    for op in incident.operations:
        d = op.as_dict()
        acks = ", ".join(f"{'ok' if a['ok'] else 'refused'} at {a['t']:.1f} s"
                         + ("" if a["before_deadline"] is None else
                            (" (before the deadline)" if a["before_deadline"] else " (after the deadline)"))
                         for a in d["acks"]) or "none"
        lines.append(f"operation {op.operation_id}: requested {_s(d['requested'])}, fetched {_s(d['fetched'])}, "
                     f"timeout {op.timeout} s, deadline {_s(d['deadline'])}; acks: {acks}; "
                     f"end {_s(d['end_fetched'])}{'; forced' if d['forced'] else ''}")
    for change in incident.timeout_changes:
        lines.append(f"timeout change {change['old']} -> {change['new']} at {_s(change['t'])}")
    for run in incident.hooks:
        how = "killed" if run["killed"] else f"exit {run['exit_code']}"
        lines.append(f"{run['hook']} at {_s(run['t'])} ran {_s(run['seconds'])} ({how})")
    for t in incident.reboots:
        lines.append(f"reboot at {_s(t)}")
    lines.append(f"outcome: {', '.join(incident.outcome) or 'nothing went wrong'}")
    lines += [f"warning: {w}" for w in incident.warnings]
    return lines


def _s(value: Optional[float]) -> str:
    return "?" if value is None else f"{value:.1f} s"


def _replay(args: argparse.Namespace) -> int:
    from pathlib import Path

    from simulator.incident.feature import to_feature
    from simulator.incident.scenario import from_incident
    from simulator.incident.sources import load_incident

    paths = [Path(p) for p in args.sources]
    incident = load_incident(paths)
    scenario = from_incident(incident, args.name or paths[0].name)
    try:
        if args.save:
            scenario.save(Path(args.save))
        if args.feature:
            Path(args.feature).write_text(to_feature(scenario), encoding="utf-8")
    except OSError as exc:
        print(f"vmotion-sim replay: cannot write: {exc.strerror or exc}", file=sys.stderr)
        return 1
    if args.json:
        _print({"incident": incident.as_dict(), "scenario": scenario.as_dict()})
    else:
        print("\n".join(describe(incident)))
        if args.save:
            print(f"scenario written to {args.save}")
    return 0


def verdict(scenario: Scenario, incident: Incident) -> Dict[str, Any]:
    from simulator.incident.scenario import INVARIANT

    invariants = sorted(e for e in scenario.expect if e.startswith(INVARIANT))
    outcomes = sorted(e for e in scenario.expect if not e.startswith(INVARIANT))
    if invariants:  # a soak reproducer: the same invariants broken, and at least the outcomes listed beside them
        reproduced = invariants == sorted(incident.invariants) and set(outcomes) <= set(incident.outcome)
    else:
        reproduced = outcomes == sorted(incident.outcome)
    return {
        "scenario": scenario.name,
        "expected": scenario.expect,
        # the invariants are the soak's checks: part of what is observed when the scenario is about one
        "observed": sorted(incident.outcome + (incident.invariants if invariants else [])),
        "reproduced": reproduced,
        "run": incident.as_dict(),
    }


def runner_for(handler: List[str], speed: float = 1.0) -> Callable[[Scenario], Incident]:
    """How a scenario is run: against ``handler`` (a command) on real time at ``speed``, else on virtual time."""
    from simulator.incident.scenario import ScenarioError

    command = handler[1:] if handler[:1] == ["--"] else list(handler)
    if command and command[0].startswith("-"):
        raise ScenarioError(f"unexpected {command[0]!r}: options go before FILE, a handler command after --")
    if command:
        from simulator.incident.realtime import run_real_time

        return lambda scenario: run_real_time(scenario, command, speed=speed)
    from simulator.incident.virtual import run_virtual

    return run_virtual


def run_file(path: str, handler: List[str], speed: Optional[float], as_json: bool) -> int:
    """``vmotion-sim run FILE [-- COMMAND]`` (also ``soak --replay FILE``): exit 0 when it reproduced."""
    from pathlib import Path

    from simulator.incident.scenario import ScenarioError, load

    if speed is not None and not 0.01 <= speed <= 1000:
        raise ScenarioError("--speed must be between 0.01 and 1000")
    scenario = load(Path(path))
    if not (handler[1:] if handler[:1] == ["--"] else handler) and scenario.command:
        handler = [scenario.command]  # the command the file was made with (a soak's reproducer notes it)
    incident = runner_for(handler, speed or scenario.speed or 1.0)(scenario)
    result = verdict(scenario, incident)
    if as_json:
        _print(result)
    else:
        print("\n".join(describe(incident)))
        expected = ", ".join(scenario.expect) or "nothing wrong"
        word = "REPRODUCED" if result["reproduced"] else "NOT REPRODUCED"
        print(f"{word}: expected {expected}; observed {', '.join(result['observed']) or 'nothing wrong'}")
    return 0 if result["reproduced"] else EXIT_NOT_REPRODUCED


def _run(args: argparse.Namespace) -> int:
    return run_file(args.scenario, list(args.handler), args.speed, args.json)


def _compare(args: argparse.Namespace) -> int:
    from pathlib import Path

    from simulator import Knobs
    from simulator.incident.compare import compare
    from simulator.incident.sources import SourceError, detect, read, recording
    from simulator.incident.sources.lines import Warnings
    from simulator.model.knobs import parse_knob_assignments

    data = read(Path(args.recording))
    if detect(data) != recording.NAME:
        raise SourceError("compare needs a recording made by vmotion-record")
    warnings = Warnings()
    records = [r for r in recording.records(data, warnings) if isinstance(r.get("request"), str)]
    if not records:
        raise SourceError("the recording holds no calls")
    try:
        knobs = Knobs(**parse_knob_assignments(args.knob))
    except (TypeError, ValueError) as bad:
        print(f"vmotion-sim compare: {bad}", file=sys.stderr)
        return 2
    result = compare(records, knobs)
    if args.json:
        _print({**result.as_dict(), "warnings": warnings.summary(recording.WHAT)})
    else:
        print(f"{result.calls} calls re-issued; {len(result.differences)} differences")
        for difference in result.differences:
            print(difference.line())
        for finding in result.findings:
            print(f"knob {finding.name}={finding.value!r}: the recording {finding.verdict} it "
                  f"({finding.differences} differences with it)")
        if result.agreeing_knobs:
            knobs_text = " ".join(f"{k}={v}" for k, v in result.agreeing_knobs.items())
            print(f"the simulator would agree better with: {knobs_text} "
                  f"({result.remaining} differences left)")
        for warning in warnings.summary(recording.WHAT):
            print(f"warning: {warning}")
    return 0 if not result.differences else EXIT_NOT_REPRODUCED


def _shrink(args: argparse.Namespace) -> int:
    from pathlib import Path

    from simulator.incident.feature import to_feature
    from simulator.incident.scenario import load
    from simulator.incident.shrink import NothingToShrink, shrink

    source = Path(args.scenario)
    scenario = load(source)
    handler = list(args.handler)
    if not (handler[1:] if handler[:1] == ["--"] else handler) and scenario.command:
        handler = [scenario.command]  # the command the file was made with (a soak's reproducer notes it)
    try:
        result = shrink(scenario, runner_for(handler, scenario.speed or 1.0))
    except NothingToShrink as why:
        print(f"vmotion-sim shrink: {why}", file=sys.stderr)
        return EXIT_NOT_REPRODUCED
    output = Path(args.output) if args.output else source.with_name(source.stem + ".shrunk.json")
    try:
        result.scenario.save(output)
        if args.feature:
            Path(args.feature).write_text(to_feature(result.scenario), encoding="utf-8")
    except OSError as exc:
        print(f"vmotion-sim shrink: cannot write {output}: {exc.strerror or exc}", file=sys.stderr)
        return 1
    summary = {"saved": str(output), "failure": result.failure, "trials": result.trials,
               "actions": [len(scenario.actions), len(result.scenario.actions)],
               "size": [scenario.size(), result.scenario.size()]}
    if args.json:
        _print(summary)
    else:
        print(f"{', '.join(result.failure)} still happens with {len(result.scenario.actions)} of "
              f"{len(scenario.actions)} actions after {result.trials} runs; saved to {output}")
    return 0
