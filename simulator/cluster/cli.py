"""``vmotion-sim evacuate``: how long a host's evacuation takes with notifications on, who is forced, and why.

Registered by ``simulator.cli`` through ``add_parser``; the run itself is imported only when asked for.
Exit codes: 0 done, 2 bad usage, 3 vCenter could not be read (``--from-vcenter``); errors are one line on stderr.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path
from typing import Any, Dict, List, Optional, Tuple

from simulator.arguments import count, positive_seconds, seconds
from simulator.cluster.distributions import Distribution, parse_distribution
from simulator.cluster.host import GBE10_CONCURRENCY
from simulator.cluster.knobs import ClusterKnobs

EXIT_USAGE = 2
EXIT_VCENTER = 3  # --from-vcenter: vCenter cannot be reached, refused the login, or failed the read
_DEFAULT_TIMEOUT = 120
MAX_VMS = 100_000  # a what-if ten times the scale figure; past that, memory, not insight, runs out


class _Usage(Exception):
    pass


def _vms(text: str) -> int:
    value = count(text)
    if value > MAX_VMS:
        raise argparse.ArgumentTypeError(f"{value} VMs: at most {MAX_VMS:,} (an ESXi host runs at most 1,024)")
    return value


def _distribution(text: str) -> Distribution:
    try:
        return parse_distribution(text)
    except ValueError as bad:
        raise argparse.ArgumentTypeError(str(bad)) from None


def _timeout_word(word: str, where: str) -> int:
    try:
        value = int(word)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{where}: {word!r} is not a whole number of seconds") from None
    if value < 0:
        raise argparse.ArgumentTypeError(f"{where}: a timeout is >= 0 (0: notifications off), not {value}")
    return value


def _timeouts(text: str) -> List[int]:
    """``120``, ``120,60,90`` (one per VM), or FILE with one per line (blank lines and ``#`` comments skipped)."""
    if text and all(c.isdigit() or c in ",- " for c in text):
        return [_timeout_word(w.strip(), "--timeout") for w in text.split(",")]
    try:
        lines = Path(text).read_text(encoding="utf-8").splitlines()
    except OSError as exc:
        raise argparse.ArgumentTypeError(f"{text!r} is neither seconds nor a readable file ({exc.strerror})") from None
    values = []
    for number, line in enumerate(lines, 1):
        word = line.split("#", 1)[0].strip()
        if word:
            values.append(_timeout_word(word, f"{text}:{number}"))
    if not values:
        raise argparse.ArgumentTypeError(f"{text} holds no timeout")
    return values


def add_parser(sub: Any) -> None:
    """Add ``evacuate`` to ``vmotion-sim``'s subcommands (``sub`` is its ``add_subparsers`` object)."""
    p = sub.add_parser(
        "evacuate", help="what-if: a host's evacuation with vMotion notifications, on virtual time",
        description="Evacuate a simulated host: every VM's guest runs the bundled handler core against its own "
        "simulated VM, on virtual time, under the host's limit of concurrent vMotions.",
    )
    p.add_argument("--vms", type=_vms, default=None, help="how many VMs the host runs (default: one per --timeout)")
    p.add_argument("--from-vcenter", metavar="HOST", default=None,
                   help="the powered-on VMs of this ESXi host and their effective timeouts, read from vCenter "
                   "(VMWARE_HOST, VMWARE_USER, VMWARE_PASSWORD, as vmotion-helper reads them; needs pyVmomi)")
    p.add_argument("--concurrency", type=count, default=GBE10_CONCURRENCY,
                   help="concurrent vMotions per host: 4 on 1 GbE, 8 on 10 GbE and faster (8)")
    p.add_argument("--timeout", type=_timeouts, default=None, metavar="S|S,S,...|FILE",
                   help="effective notification timeout in seconds: one for every VM, or one per VM as a comma "
                   f"list or a file with one per line; 0 is a VM without notifications ({_DEFAULT_TIMEOUT})")
    p.add_argument("--quiesce", type=_distribution, default=parse_distribution("5"), metavar="DIST",
                   help="how long each application's quiesce takes: 5, uniform:A:B or lognormal:MU:SIGMA (5)")
    p.add_argument("--migration-seconds", type=_distribution, default=parse_distribution("15"), metavar="DIST",
                   help="how long each vMotion moves data, same forms (15)")
    p.add_argument("--interval", type=positive_seconds, default=None, help="the handler's poll interval (its default)")
    p.add_argument("--safety-margin", type=seconds, default=None, help="the handler's safety margin (its default)")
    p.add_argument("--on-quiesce-failure", choices=("ack-anyway", "no-ack"), default=None,
                   help="the handler's policy when the quiesce fails or is cut at its deadline (its default)")
    p.add_argument("--seed", type=int, default=0, help="seed for the drawn durations and the guests' poll phases (0)")
    p.add_argument("--aligned-polls", action="store_true",
                   help="every guest polls at whole intervals from maintenance start (default: each its own phase)")
    p.add_argument("--knob", action="append", default=[], metavar="NAME=VALUE",
                   help="set a cluster knob (repeatable; see the README's cluster knob table)")
    p.add_argument("--json", action="store_true", help="print the outcome as JSON, every VM included")
    p.add_argument("--svg", metavar="FILE", help="write a Gantt chart of the evacuation to FILE")
    p.set_defaults(subcommand=run)


def _knobs(assignments: List[str]) -> ClusterKnobs:
    from simulator.model.knobs import parse_knob_assignments

    try:
        return ClusterKnobs(**parse_knob_assignments(assignments, ClusterKnobs))
    except (TypeError, ValueError) as bad:
        raise _Usage(str(bad)) from None


class _Unreachable(Exception):
    pass


def _inventory(args: argparse.Namespace) -> Tuple[int, List[int], Optional[List[str]], str]:
    """(VMs, timeouts, names, host) from the command line, or from vCenter."""
    if args.from_vcenter is None:
        timeouts: List[int] = args.timeout or [_DEFAULT_TIMEOUT]
        vms: Optional[int] = args.vms
        if vms is None:
            if len(timeouts) == 1:
                raise _Usage("say how many VMs: --vms N (or one --timeout per VM, or --from-vcenter HOST)")
            vms = len(timeouts)
        if vms > MAX_VMS:
            raise _Usage(f"{vms} VMs: at most {MAX_VMS:,} (an ESXi host runs at most 1,024)")
        return vms, timeouts, None, "esx-01"
    if args.vms is not None or args.timeout is not None:
        raise _Usage("--from-vcenter reads the VMs and their timeouts: drop --vms and --timeout")
    from simulator.cluster.vcenter import VCenterUnusable, read_host

    try:
        host = read_host(args.from_vcenter, os.environ)
    except VCenterUnusable as error:
        raise (_Usage(str(error)) if error.usage else _Unreachable(str(error))) from None
    if not host.vms:
        raise _Usage(f"host {host.name!r} runs no powered-on VM: nothing to evacuate")
    return len(host.vms), [vm.effective_timeout for vm in host.vms], [vm.name for vm in host.vms], host.name


def _plan(args: argparse.Namespace) -> Any:
    from simulator.cluster.evacuation import EvacuationPlan

    vms, timeouts, names, host = _inventory(args)
    handler: Dict[str, Any] = {}
    for key in ("interval", "safety_margin", "on_quiesce_failure"):
        if getattr(args, key) is not None:
            handler[key] = getattr(args, key)
    try:
        return EvacuationPlan(vms=vms, concurrency=args.concurrency, timeouts=tuple(timeouts), names=names, host=host,
                              quiesce=args.quiesce, migration_seconds=args.migration_seconds, seed=args.seed,
                              aligned_polls=args.aligned_polls, knobs=_knobs(args.knob), **handler)
    except ValueError as bad:
        raise _Usage(str(bad)) from None


def run(args: argparse.Namespace) -> int:
    try:
        plan = _plan(args)
    except _Usage as bad:
        print(f"vmotion-sim: evacuate: {bad}", file=sys.stderr)
        return EXIT_USAGE
    except _Unreachable as failed:
        print(f"vmotion-sim: evacuate: {failed}", file=sys.stderr)
        return EXIT_VCENTER
    from simulator.cluster.evacuation import evacuate
    from simulator.cluster.gantt import render_svg

    result = evacuate(plan)
    if args.svg:
        try:
            Path(args.svg).write_text(render_svg(result), encoding="utf-8")
        except OSError as exc:
            print(f"vmotion-sim: evacuate: cannot write {args.svg}: {exc.strerror or exc}", file=sys.stderr)
            return EXIT_USAGE
    if args.json:
        print(json.dumps(result.as_json(), indent=1))
    else:
        print("\n".join(result.lines()))
        if args.svg:
            print(f"Gantt chart: {args.svg}")
    return 0
