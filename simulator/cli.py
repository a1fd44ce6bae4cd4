"""``vmotion-sim``: run the simulated VM, drive it, and look inside.

Exit codes: 0 done; 1 the simulator refused the request (the message says why); 2 bad usage;
3 no simulator answers on the socket.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import signal
import sys
import threading
from pathlib import Path
from typing import Any, Dict, List, NoReturn, Optional, Sequence

from handler.console import VersionAction, run_console
from simulator import speed_cli
from simulator.arguments import count, positive_seconds, seconds, whole_seconds
from simulator.clock import Clock, ManualClock, ScaledClock, SystemClock
from simulator.cluster.cli import add_parser as add_evacuate
from simulator.cluster.maintenance_cli import add_parser as add_maintenance_bridge
from simulator.incident.cli import add_commands as add_incident_commands
from simulator.inprocess import Simulator, SimulatorError
from simulator.journal_entry import Entry, JournalEntry
from simulator.model.knobs import Knobs, knob_docs, parse_knob_assignments
from simulator.readside import Status
from simulator.soak import cli as soak_cli
from simulator.timeline import render
from simulator.transport.client import SimulatorClient, SimulatorUnreachable
from simulator.transport.server import (
    DEFAULT_IDLE_TIMEOUT,
    DEFAULT_MAX_CONNECTIONS,
    SOCKET_ENV,
    AlreadyServing,
    SimulatorServer,
    UnsafeSocketDirectory,
    default_socket_path,
    make_private_directory,
)
from simulator.transport.shim import write_shims
from simulator.untrusted_json import json_value

EXIT_REFUSED, EXIT_USAGE, EXIT_UNREACHABLE = 1, 2, 3
DEFAULT_SOCKET_HELP = "$XDG_RUNTIME_DIR/vmotion-sim/sim.sock, else /tmp/vmotion-sim-UID/sim.sock"


class UsageError(Exception):
    pass


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> NoReturn:
        self.exit(EXIT_USAGE, f"vmotion-sim: {message}\n")


def _vm_seconds(text: str) -> int:
    """The VM timeout also takes -1 (vSphere's "unset")."""
    if text.strip() == "-1":
        return -1
    return whole_seconds(text)


# The latest start a manual clock takes: the end of year 9999, as far as a calendar date is written.
MAX_START_TIME = 253_402_300_799


def _epoch(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number of seconds since the epoch") from None
    if not (math.isfinite(value) and 0 <= value <= MAX_START_TIME):
        raise argparse.ArgumentTypeError(f"the start time must be from 0 to {MAX_START_TIME} (epoch seconds)")
    return value


def _percent(text: str) -> float:
    value = seconds(text)
    if value > 1000:
        raise argparse.ArgumentTypeError(f"{text!r}: a tolerance is a percentage from 0 to 1000")
    return value


def _speed(text: str) -> float:
    value = seconds(text)
    if not 0.01 <= value <= 1000:
        raise argparse.ArgumentTypeError("speed must be between 0.01 and 1000")
    return value


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="vmotion-sim", description="Simulate the hypervisor side of vSphere vMotion notifications.")
    socket_help = f"control socket (default: ${SOCKET_ENV}, or {DEFAULT_SOCKET_HELP})"
    parser.add_argument("--socket", default=None, help=socket_help)
    parser.add_argument("--version", action=VersionAction)
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True, parser_class=_Parser)

    serve = sub.add_parser("serve", help="run one simulated VM behind the control socket (foreground)")
    serve.add_argument("--host-timeout", type=whole_seconds, default=120, help="VmOpNotificationToApp.Timeout (120)")
    serve.add_argument("--vm-timeout", type=_vm_seconds, default=-1, help="vmOpNotificationTimeout (-1: unset)")
    serve.add_argument("--dest-host-timeout", type=whole_seconds, default=None, help="destination host's option")
    serve.add_argument("--disabled", action="store_true", help="vmOpNotificationToAppEnabled = false")
    serve.add_argument("--clock", choices=("real", "manual"), default="real")
    serve.add_argument("--start-time", type=_epoch, default=None, help="manual clock start (epoch seconds)")
    serve.add_argument("--migration-seconds", type=seconds, default=15.0, help="how long a migration runs (15)")
    serve.add_argument("--seed", type=int, default=None, help="seed for tokens and operation ids")
    serve.add_argument("--knob", action="append", default=[], metavar="NAME=VALUE", help="set a knob (repeatable)")
    serve.add_argument("--max-connections", type=count, default=DEFAULT_MAX_CONNECTIONS,
                       help=f"clients at once; past it the longest idle one is closed ({DEFAULT_MAX_CONNECTIONS})")
    serve.add_argument("--idle-timeout", type=positive_seconds, default=DEFAULT_IDLE_TIMEOUT,
                       help=f"close a connection silent this long (seconds, {DEFAULT_IDLE_TIMEOUT:g})")
    serve.add_argument("--speed", type=_speed, default=1.0, help="run the real clock K times faster (see exec)")

    vmotion = sub.add_parser("vmotion", help="request a migration; prints its operationId")
    vmotion.add_argument("--outcome", choices=("success", "failure"), default="success")
    vmotion.add_argument("--migration-seconds", type=seconds, default=None)

    advance = sub.add_parser("advance", help="move the manual clock forward")
    advance.add_argument("seconds", type=seconds)

    set_ = sub.add_parser("set", help="change the settings (as vCenter would)")
    set_.add_argument("--host-timeout", type=whole_seconds)
    set_.add_argument("--vm-timeout", type=_vm_seconds, help="-1 unsets")
    set_.add_argument("--dest-host-timeout", type=whole_seconds)
    flag = set_.add_mutually_exclusive_group()
    flag.add_argument("--enable", action="store_true")
    flag.add_argument("--disable", action="store_true")

    knobs = sub.add_parser("knobs", help="list the knobs, or set some: knobs NAME=VALUE ...")
    knobs.add_argument("assignments", nargs="*", metavar="NAME=VALUE")

    fault = sub.add_parser("fault", help="switch channel faults on (or --clear them)")
    fault.add_argument("--latency", type=seconds, default=0.0, help="seconds added to every RPC")
    fault.add_argument("--channel-down", action="store_true", help="answer as outside a VM")
    fault.add_argument("--garble", action="store_true", help="replies become non-JSON bytes")
    fault.add_argument("--truncate", action="store_true", help="replies are cut in half")
    fault.add_argument("--unsupported", action="store_true", help="answer as an ESXi without the feature")
    fault.add_argument("--count", type=int, default=None, help="only for the next N RPCs")
    fault.add_argument("--clear", action="store_true")

    sub.add_parser("reboot", help="reboot the VM: every registration is dropped")
    sub.add_parser("reset", help="back to the start: no registrations, operations, faults or journal")
    for name, what in (("status", "registrations, queues and operations"), ("journal", "every RPC, in time order")):
        p = sub.add_parser(name, help=f"show {what}")
        p.add_argument("--json", action="store_true")
    sub.choices["journal"].add_argument("--html", type=Path, metavar="FILE",
                                        help="also write the journal's timeline picture as a page")
    report = sub.add_parser("report", help="a saved journal (journal --json) as a timeline page")
    report.add_argument("journal_file", type=Path, metavar="JOURNAL", help="a file from `journal --json` (- : stdin)")
    report.add_argument("-o", "--output", type=Path, required=True, metavar="FILE", help="where the page goes")
    report.add_argument("--title", default="vMotion notification timeline")

    call = sub.add_parser("call", help="send one guest RPC, as `vmtoolsd --cmd STRING` would")
    call.add_argument("rpc", metavar="STRING")

    shim = sub.add_parser("shim", help="write fake vmtoolsd and vmware-rpctool into DIR, bound to the socket")
    shim.add_argument("directory", metavar="DIR")

    probe = sub.add_parser("probe", help="record that a hook ran (for hook probes)")
    probe.add_argument("name")
    probe.add_argument("phase")
    probe.add_argument("--exit-code", type=int, default=None)

    check = sub.add_parser(
        "check", help="run the conformance scenarios against a handler command: check [--json] -- COMMAND ..."
    )
    check.add_argument("--json", action="store_true", help="print the results as JSON (format_version 1)")
    check.add_argument("-k", dest="select", default=None, metavar="EXPR", help="only the scenarios matching EXPR")
    check.add_argument("--knob", action="append", default=[], metavar="NAME=VALUE",
                       help="pin a simulator knob for every scenario (repeatable)")
    check.add_argument("--junitxml", type=Path, default=None, metavar="FILE", help="also write JUnit XML here")
    check.add_argument("--report", type=Path, default=None, metavar="DIR",
                       help="also write DIR/index.html: a timeline per scenario, the journal and log of failures")
    check.add_argument("--save-baseline", type=Path, default=None, metavar="FILE",
                       help="save each scenario's timings, for a later --baseline")
    check.add_argument("--baseline", type=Path, default=None, metavar="FILE",
                       help="fail scenarios whose timings regressed against this baseline")
    check.add_argument("--tolerance", type=_percent, default=20.0, metavar="PCT",
                       help="how much worse than the baseline a timing may be (20%%)")
    check.add_argument("--speed", type=_speed, default=1.0, metavar="K",
                       help="run the scenarios' clocks K times faster (handlers under libfaketime)")
    check.add_argument(
        "handler", nargs=argparse.REMAINDER, metavar="-- COMMAND",
        help="the handler command, with {quiesce} and {unquiesce} where its hook commands go "
        "(default: the bundled vmotion-handler)",
    )

    speed_cli.add_parser(sub)
    soak_cli.add_parser(sub)

    demo = sub.add_parser("demo", help="one full vMotion cycle with the real handler, printed as a timeline")
    demo.add_argument("--timeout", type=whole_seconds, default=10, help="notification timeout for the demo (10 s)")
    demo.add_argument("--migration-seconds", type=seconds, default=2.0, help="how long the migration runs (2)")
    demo.add_argument("--app-seconds", type=seconds, default=1.0,
                      help="how long the demo application's quiesce and unquiesce each take (1)")
    demo.add_argument("--interval", type=positive_seconds, default=0.5,
                      help="the handler's poll interval while no event is pending (0.5)")
    demo.add_argument("--html", type=Path, default=None, metavar="FILE", help="also write the timeline as a page")
    # Subcommands that live in their own package set `subcommand` to their runner.
    add_evacuate(sub)
    add_maintenance_bridge(sub)
    add_incident_commands(sub)
    for verb in sub.choices.values():
        # Also after the verb; SUPPRESS keeps a --socket given before the verb when none is given after it.
        verb.add_argument("--socket", default=argparse.SUPPRESS, help=socket_help)
    return parser


def _socket_path(args: argparse.Namespace) -> str:
    return str(args.socket or os.environ.get(SOCKET_ENV) or default_socket_path())


def _read_journal(path: Path) -> List[Entry]:
    """A journal saved with ``journal --json``; anything else is a usage error naming the file."""
    try:
        text = sys.stdin.read() if str(path) == "-" else path.read_text(encoding="utf-8")
        entries = json_value(text)
    except OSError as err:
        raise UsageError(f"cannot read {path}: {err.strerror}") from None
    except ValueError:
        raise UsageError(f"{path} is not JSON: save a journal with `vmotion-sim journal --json`") from None
    if not isinstance(entries, list):
        raise UsageError(f"{path} is not a journal (a JSON list of entries with time and kind)")
    journal: List[Entry] = []
    for number, entry in enumerate(entries, start=1):
        try:
            journal.append(JournalEntry.from_dict(entry))
        except ValueError as bad:
            raise UsageError(f"{path} is not a journal: its entry {number}: {bad}") from None
    return journal


def _write_page(path: Path, journal: List[Entry], title: str) -> None:
    from simulator.report import journal_page

    try:
        path.write_text(journal_page(journal, title), encoding="utf-8")
    except OSError as err:
        raise UsageError(f"cannot write {path}: {err.strerror}") from None


def _print_json(value: Any) -> None:
    print(json.dumps(value, indent=2, sort_keys=True))


def _knob_assignments(assignments: Sequence[str]) -> Dict[str, Any]:
    """``NAME=VALUE`` words from the command line, typed like the knobs they set."""
    try:
        return parse_knob_assignments(assignments)
    except ValueError as bad:
        raise UsageError(str(bad)) from None


def _serve(args: argparse.Namespace) -> int:
    try:
        knobs = Knobs(**_knob_assignments(args.knob))
    except ValueError as bad:
        raise UsageError(str(bad)) from None
    clock: Clock = SystemClock()
    if args.clock == "manual":
        clock = ManualClock(args.start_time) if args.start_time is not None else ManualClock()
    elif args.speed != 1.0:
        clock = ScaledClock(args.speed)
    sim = Simulator(
        clock,
        host_timeout=args.host_timeout,
        vm_timeout=None if args.vm_timeout < 0 else args.vm_timeout,
        dest_host_timeout=args.dest_host_timeout,
        enabled=not args.disabled,
        migration_seconds=args.migration_seconds,
        knobs=knobs,
        seed=args.seed,
    )
    path = _socket_path(args)
    try:
        if not (args.socket or os.environ.get(SOCKET_ENV)):
            make_private_directory(Path(path).parent)
        server = SimulatorServer(sim, path, max_connections=args.max_connections, idle_timeout=args.idle_timeout)
    except (AlreadyServing, UnsafeSocketDirectory, OSError) as err:
        print(f"vmotion-sim: cannot serve on {path}: {err}", file=sys.stderr)
        return EXIT_REFUSED
    stop = threading.Event()
    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, lambda *_: stop.set())
    with server:
        speed = f" x{args.speed:g}" if args.speed != 1.0 else ""
        print(f"vmotion-sim: serving on {path} (clock {args.clock}{speed}, pid {os.getpid()})", flush=True)
        stop.wait()
    return 0


def _status_lines(status: Status) -> List[str]:
    cfg = status["config"]
    lines = [
        f"VM flag: {'enabled' if cfg['enabled'] else 'disabled'}; host timeout {cfg['host_timeout']} s; "
        f"VM timeout {cfg['vm_timeout'] if cfg['vm_timeout'] is not None else 'unset'}; "
        f"effective {status['effective_timeout']} s",
        f"registrations: {len(status['registrations'])}",
    ]
    for reg in status["registrations"]:
        lines.append(f"  {reg['app_name']}: {reg['queue_depth']} queued {reg['queued']}")
    lines.append(f"operations: {len(status['operations'])}")
    for op in status["operations"]:
        how = "forced" if op["forced"] else ("acked" if op["acked"] else "-")
        lines.append(f"  {op['operation_id']}: {op['phase']} ({how}), outcome {op['outcome']}")
    return lines


def _run(args: argparse.Namespace) -> int:
    if getattr(args, "subcommand", None) is not None:
        return int(args.subcommand(args))
    if args.command == "serve":
        return _serve(args)
    if args.command == "shim":
        written = write_shims(args.directory, _socket_path(args))
        for path in written.values():
            print(path)
        return 0
    if args.command == "knobs" and not args.assignments:
        for name, default, why in knob_docs():
            print(f"{name} = {default}\n    {why}")
        return 0
    if args.command == "report":
        _write_page(args.output, _read_journal(args.journal_file), args.title)
        return 0
    if args.command == "check":
        from simulator.harness.conformance import CheckOptions
        from simulator.harness.conformance import main as check_main

        return check_main(args.handler, CheckOptions(
            select=args.select, knobs=_knob_assignments(args.knob), as_json=args.json, junitxml=args.junitxml,
            report=args.report, save_baseline=args.save_baseline, baseline=args.baseline,
            tolerance=args.tolerance, speed=args.speed,
        ))
    if args.command == "soak":
        return soak_cli.main(args)
    if args.command == "demo":
        from simulator.demo import DemoFailed, run_demo

        try:
            return run_demo(timeout=args.timeout, migration_seconds=args.migration_seconds, html=args.html,
                            app_seconds=args.app_seconds, interval=args.interval)
        except DemoFailed as failed:
            raise SimulatorError(f"demo: {failed}") from None
    client = SimulatorClient(_socket_path(args))
    if args.command == "exec":
        return speed_cli.run(args, _socket_path(args), client.request("clock")["clock"])
    if args.command == "vmotion":
        print(client.vmotion(args.outcome, args.migration_seconds))
    elif args.command == "advance":
        print(client.advance(args.seconds))
    elif args.command == "set":
        changes: Dict[str, Any] = {}
        for key in ("host_timeout", "vm_timeout", "dest_host_timeout"):
            if getattr(args, key) is not None:
                changes[key] = getattr(args, key)
        if args.enable or args.disable:
            changes["enabled"] = bool(args.enable)
        if not changes:
            raise UsageError("set: name at least one of --host-timeout, --vm-timeout, --dest-host-timeout, --enable")
        client.set(**changes)
    elif args.command == "knobs":
        _print_json(client.knobs(**_knob_assignments(args.assignments)).as_dict())
    elif args.command == "fault":
        if args.clear:
            client.fault()
        else:
            client.fault(
                latency=args.latency,
                channel_down=args.channel_down,
                garble=args.garble,
                truncate=args.truncate,
                unsupported=args.unsupported,
                remaining=args.count,
            )
    elif args.command == "reboot":
        client.reboot()
    elif args.command == "reset":
        client.reset()
    elif args.command == "status":
        status = client.status()
        if args.json:
            _print_json(status.as_dict())
        else:
            print("\n".join(_status_lines(status)))
    elif args.command == "journal":
        journal = client.journal()
        if args.html is not None:
            _write_page(args.html, journal, "vMotion notification timeline")
        if args.json:
            _print_json([e.as_dict() for e in journal])
        else:
            print("\n".join(render(journal)))
    elif args.command == "call":
        result = client.call(args.rpc)
        sys.stdout.write(result.stdout)
        sys.stderr.write(result.stderr)
        return result.exit_code
    elif args.command == "probe":
        env = {k: v for k, v in os.environ.items() if k.startswith("VMOTION_")}
        client.record_probe(args.name, args.phase, env, exit_code=args.exit_code)
    return 0


def main(argv: Optional[Sequence[str]] = None) -> int:
    return run_console(lambda: _main(argv))


def _main(argv: Optional[Sequence[str]]) -> int:
    args = build_parser().parse_args(argv)
    try:
        return _run(args)
    except UsageError as bad:
        print(f"vmotion-sim: {bad}", file=sys.stderr)
        return EXIT_USAGE
    except SimulatorUnreachable as err:
        print(f"vmotion-sim: {err} (start one with `vmotion-sim serve`)", file=sys.stderr)
        return EXIT_UNREACHABLE
    except BrokenPipeError:  # our own output was closed (| head): run_console ends quietly
        raise
    except (SimulatorError, ValueError, OSError) as refused:
        print(f"vmotion-sim: {refused}", file=sys.stderr)
        return EXIT_REFUSED


if __name__ == "__main__":
    sys.exit(main())
