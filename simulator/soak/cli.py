"""``vmotion-sim soak --seed S --runs N [--steps M] [--speed K | --virtual] [--jobs J] [--json] [--junitxml FILE]
[--report DIR] [-- COMMAND ...]``.

Each run plays a sequence drawn from ``(seed, run)`` against the handler command (default: the bundled
handler; ``{quiesce}``/``{unquiesce}`` placeholders as in ``check``), a process; ``--virtual`` plays it against
the bundled handler's core on virtual time instead (:mod:`simulator.soak.virtual`), the 120-s timeout in
milliseconds. On the first violation it prints the seed, the run, the invariant and the step, saves the run as a
reproducer (``soak-SEED-RUN.json`` in ``--report``, default the current directory: a scenario file of the
incident package, :mod:`simulator.soak.reproducer`), shrinks it with up to ``--shrink-trials`` replays (the run
as played kept as ``soak-SEED-RUN.played.json``) and exits 1; ``vmotion-sim run FILE`` replays it (on
virtual time when the run was; ``soak --replay FILE`` is the same; it also plays the steps of a reproducer of the
first format, ``vmotion-soak-reproducer``). The runs played are also results in ``check``'s forms
(:mod:`simulator.report`), each run a scenario ``soak: seed S run R`` with its journal and handler log: JUnit XML
(``--junitxml``) and ``DIR/index.html`` (``--report``).

Exit codes: 0 every run held; 1 an invariant broke; 2 bad usage; 4 the soak cannot run here (``--speed`` without
libfaketime, or for a program that cannot be sped up). It runs on the harness's standard-library parts only.
"""

from __future__ import annotations

import argparse
import json
import shlex
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any, Dict, List, Optional, Tuple

from simulator.untrusted_json import json_value

if TYPE_CHECKING:
    from simulator.report import ScenarioResult
    from simulator.soak.runner import SoakRun

EXIT_HELD, EXIT_VIOLATION, EXIT_USAGE, EXIT_UNAVAILABLE = 0, 1, 2, 4
FORMAT = "vmotion-soak-reproducer"  # the first format: the steps only, replayed by soak --replay alone
SCENARIO_FORMAT = "vmotion-incident-scenario"
SHRINK_TRIALS = 30  # each a replay: milliseconds on virtual time, up to the run's length / speed on real time


def add_parser(sub: Any) -> None:
    soak = sub.add_parser("soak", help="seeded random sequences against a handler, invariants after each step")
    soak.add_argument("--seed", type=int, default=0)
    soak.add_argument("--runs", type=int, default=1)
    soak.add_argument("--steps", type=int, default=6, help="random steps per run, after the clean cycle (6)")
    soak.add_argument("--speed", type=float, default=1.0, help="run the clocks K times faster (see serve --speed)")
    soak.add_argument("--virtual", action="store_true",
                      help="play the bundled handler's core in-process on virtual time (no command, no --speed)")
    soak.add_argument("--jobs", type=int, default=1, help="runs played at once (1)")
    soak.add_argument("--json", action="store_true",
                      help="print the results as check --json does (each run a scenario) with a soak section; "
                           "the lines per run go to stderr")
    soak.add_argument("--junitxml", type=Path, default=None, metavar="FILE",
                      help="also write JUnit XML here: one test case per run")
    soak.add_argument("--report", default=None, metavar="DIR",
                      help="where a reproducer is saved (default .); given, also DIR/index.html, a timeline per run")
    soak.add_argument("--replay", default=None, metavar="FILE", help="play a saved reproducer again")
    soak.add_argument("--shrink-trials", type=int, default=SHRINK_TRIALS, metavar="N",
                      help=f"replays spent shrinking a violation's reproducer ({SHRINK_TRIALS}; 0: keep it as played)")
    soak.add_argument("handler", nargs=argparse.REMAINDER, metavar="-- COMMAND")


def _template(words: List[str]) -> Optional[str]:
    words = words[1:] if words and words[0] == "--" else words
    return shlex.join(words) if words else None


def _fail(code: int, message: str) -> int:
    print(f"vmotion-sim soak: {message}", file=sys.stderr)
    return code


def main(args: argparse.Namespace) -> int:
    if args.runs < 1 or args.steps < 0 or not 1 <= args.jobs <= 64 or not 0.01 <= args.speed <= 1000 or \
            args.shrink_trials < 0:
        return _fail(EXIT_USAGE, "--runs >= 1, --steps >= 0, --jobs 1 to 64, --speed between 0.01 and 1000 and "
                                 "--shrink-trials >= 0")
    if args.virtual and (_template(list(args.handler)) or args.speed != 1.0 or args.replay):
        return _fail(EXIT_USAGE, "--virtual plays the bundled handler's core: no -- COMMAND, --speed or --replay")
    from concurrent.futures import ThreadPoolExecutor

    from simulator.soak.runner import SOAK_HANDLER_CMD, SoakRun, timeout_for
    from simulator.soak.steps import draw_steps, run_seed
    from simulator.speed import SpeedUnavailable

    template = _template(list(args.handler)) or SOAK_HANDLER_CMD
    plans: List[Dict[str, Any]] = []
    if args.replay:
        try:
            doc = json_value(Path(args.replay).read_text())
            if isinstance(doc, dict) and doc.get("format") == SCENARIO_FORMAT:
                return _replay_scenario(args)
            if not (isinstance(doc, dict) and doc.get("format") == FORMAT and isinstance(doc.get("steps"), list)):
                raise ValueError("not a soak reproducer")
        except (OSError, ValueError):
            return _fail(EXIT_USAGE, f"{args.replay} is not a soak reproducer")
        args.speed = float(doc.get("speed", args.speed))
        template = _template(list(args.handler)) or doc.get("handler") or SOAK_HANDLER_CMD
        args.seed = doc.get("seed")
        plans.append({"seed": doc.get("seed"), "run": doc.get("run"), "sim_seed": doc.get("sim_seed"),
                      "steps": doc["steps"]})
    else:
        timeout = timeout_for(args.speed, args.virtual)
        for run in range(args.runs):
            seed = run_seed(args.seed, run)
            plans.append({"seed": args.seed, "run": run, "sim_seed": seed,
                          "steps": draw_steps(seed, args.steps, timeout)})
    def play(plan: Dict[str, Any]) -> Tuple[SoakRun, Any]:
        run = SoakRun(plan["steps"], template, args.speed, seed=plan.get("sim_seed"), virtual=args.virtual)
        return run, run.play()

    played: List[ScenarioResult] = []
    summaries: List[Dict[str, Any]] = []  # each run in check's JSON form, kept without its journal
    keep = args.junitxml is not None or args.report is not None  # the journals only where they are written
    found: Optional[Dict[str, Any]] = None
    lines = sys.stderr if args.json else sys.stdout
    code = EXIT_HELD
    # Runs are independent: --jobs plays several at once (threads; the handlers are processes of their own, or
    # cores on clocks of their own).
    with ThreadPoolExecutor(max_workers=max(1, args.jobs)) as pool:
        futures = [pool.submit(play, plan) for plan in plans]
        for plan, future in zip(plans, futures):
            try:
                soak_run, violation = future.result()
            except SpeedUnavailable as why:
                pool.shutdown(wait=True, cancel_futures=True)
                return _fail(EXIT_UNAVAILABLE, str(why))
            result = _result(plan, soak_run, violation)
            if args.json:
                summaries.append(result.as_dict())
            if keep:
                played.append(result)
            if violation is None:
                print(f"seed {plan['seed']} run {plan['run']}: {len(plan['steps'])} steps, every invariant held",
                      file=lines, flush=True)
                continue
            pool.shutdown(wait=True, cancel_futures=True)
            found = _report(args, template, plan, soak_run, violation, lines)
            code = EXIT_VIOLATION
            break
    if args.json:
        _print_results(args, template, summaries, found)
    return _write_results(args, template, played) or code


def _print_results(args: argparse.Namespace, template: str, summaries: List[Dict[str, Any]],
                   violation: Optional[Dict[str, Any]]) -> None:
    """check --json's object, each run a scenario, and what only a soak has: its seed, its settings and the
    violation with its reproducer (null when every run held)."""
    from simulator.report.results import harness_version, results_dict

    out = results_dict(summaries, {}, _handler_command(args, template), harness_version())
    out["soak"] = {"seed": args.seed, "runs": len(summaries), "steps": args.steps,
                   "speed": None if args.virtual else args.speed, "virtual": bool(args.virtual),
                   "violation": violation}
    print(json.dumps(out, indent=2))


def _handler_command(args: argparse.Namespace, template: str) -> Optional[str]:
    """The command the results name: None for the bundled handler (as a process or its core on virtual time)."""
    from simulator.soak.runner import SOAK_HANDLER_CMD

    return None if template == SOAK_HANDLER_CMD or args.virtual else template


def _result(plan: Dict[str, Any], run: SoakRun, violation: Any) -> ScenarioResult:
    """One run as a scenario of check's results, named by its seed, with its journal and handler log."""
    from simulator.report import ScenarioResult

    reason = "" if violation is None else f"{violation.invariant} broken at step {violation.step}: {violation.detail}"
    return ScenarioResult(name=f"soak: seed {plan['seed']} run {plan['run']}", passed=violation is None,
                          reason=reason, journal=run.sim.journal(), handler_log=run.handler_log)


def _write_results(args: argparse.Namespace, template: str, played: List[ScenarioResult]) -> Optional[int]:
    """The runs played as JUnit XML and an HTML page (``check``'s forms); an exit code if they cannot be written."""
    from simulator.report import CheckResults, junit_xml, write_report

    results = CheckResults(scenarios=played, handler_command=_handler_command(args, template))
    try:
        if args.junitxml is not None:
            args.junitxml.parent.mkdir(parents=True, exist_ok=True)
            args.junitxml.write_bytes(junit_xml(results))
        if args.report is not None:
            write_report(results, Path(args.report))
    except OSError as err:
        return _fail(EXIT_USAGE, f"cannot write {err.filename}: {err.strerror}")
    return None


def _replay_scenario(args: argparse.Namespace) -> int:
    """A reproducer in the scenario format: what ``vmotion-sim run FILE [-- COMMAND]`` does (exit 0: reproduced)."""
    from simulator.incident.cli import EXIT_BAD_INPUT, run_file
    from simulator.incident.scenario import ScenarioError

    speed = args.speed if args.speed != 1.0 else None  # unset: the reproducer's own speed
    try:
        return run_file(args.replay, list(args.handler), speed, args.json)
    except ScenarioError as bad:
        return _fail(EXIT_BAD_INPUT, str(bad))


def _report(args: argparse.Namespace, template: str, plan: Dict[str, Any], run: SoakRun, violation: Any,
            lines: Any) -> Dict[str, Any]:
    """Save the run as a scenario file, shrink it (``--shrink-trials``) and say where it is."""
    from simulator.soak.reproducer import to_scenario

    saved = Path(args.report or ".") / f"soak-{plan['seed']}-{plan['run']}.json"
    saved.parent.mkdir(parents=True, exist_ok=True)
    scenario = to_scenario(
        f"soak: seed {plan['seed']} run {plan['run']}: {violation.invariant} broken at step {violation.step}",
        # on virtual time: no command and no speed, so that `vmotion-sim run FILE` replays it on virtual time too
        run.actions, run.timeout, run.sim.migration_seconds, None if args.virtual else args.speed,
        None if args.virtual else template, violation.invariant,
        end=violation.at - run.t0, seed=plan.get("sim_seed"),
    )
    scenario.save(saved)
    verdict = {"seed": plan["seed"], "run": plan["run"], "steps": len(plan["steps"]),
               **violation.as_dict(), "reproducer": str(saved)}
    how = ""
    if args.shrink_trials:
        shrunk = _shrink(args, scenario, saved)
        verdict.update(shrunk)
        if "played" in shrunk:
            (before, after), trials = shrunk["shrunk"]["actions"], shrunk["shrunk"]["trials"]
            how = f" (shrunk from {before} to {after} actions in {trials} replays; as played: {shrunk['played']})"
        else:
            how = f" (not shrunk: {shrunk['shrunk']['why']})"
    print(f"seed {plan['seed']} run {plan['run']}: {violation.invariant} broken at step {violation.step} "
          f"({violation.detail}); reproducer: {saved}{how}", file=lines, flush=True)
    return verdict


def _shrink(args: argparse.Namespace, scenario: Any, saved: Path) -> Dict[str, Any]:
    """Replay and shrink the reproducer against the same handler (delta debugging, ``simulator.incident.shrink``).
    The shrunk scenario takes the reproducer's name; the run as played is kept beside it."""
    import copy

    from simulator.incident.cli import runner_for
    from simulator.incident.shrink import NothingToShrink, shrink

    played = saved.with_name(saved.stem + ".played.json")
    print(f"vmotion-sim soak: shrinking {saved} (at most {args.shrink_trials} replays; --shrink-trials 0 skips)",
          file=sys.stderr, flush=True)
    runner = runner_for([scenario.command] if scenario.command else [], scenario.speed or 1.0)
    try:
        result = shrink(copy.deepcopy(scenario), runner, max_trials=args.shrink_trials)
    except NothingToShrink as why:  # the replay did not break it again (a timing it depends on)
        return {"shrunk": {"trials": 0, "why": f"its replay did not break it again: {why}"}}
    if result.scenario.size() == scenario.size():
        return {"shrunk": {"trials": 0, "why": f"nothing could go in {result.trials} replays"}}
    # The broken invariant alone, as in the run as played: the other outcomes its last replay showed (an end event
    # missed under load) are timing, and `run` exits 0 when the same invariant breaks.
    result.scenario.expect = list(scenario.expect)
    saved.replace(played)
    result.scenario.save(saved)
    return {"played": str(played), "shrunk": {"actions": [len(scenario.actions), len(result.scenario.actions)],
                                              "trials": result.trials}}
