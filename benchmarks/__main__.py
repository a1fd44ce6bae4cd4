"""``python -m benchmarks [--quick] [--output FILE.json] [--only NAME ...]``: print the table, write JSON."""

from __future__ import annotations

import argparse
import json
import sys
import time
import traceback
from typing import Callable, Dict, List, NoReturn, Optional, Sequence

from benchmarks import (
    evacuation,
    fake_vmtoolsd,
    machine,
    reaction,
    record_wrapper,
    report,
    speed,
    suite,
    throughput,
    virtual_time,
)
from benchmarks.measure import Row

EXIT_OK = 0
EXIT_USAGE = 2
EXIT_FIGURE_FAILED = 3


def _suite(quick: bool) -> List[Row]:
    rows, skipped = suite.run(quick)
    if skipped:
        _SKIPPED["suite (--gherkin)"] = skipped
    return rows


def _speed(quick: bool) -> List[Row]:
    why = speed.unavailable()
    if why:
        _SKIPPED[speed.FIGURE] = why
        return []
    return speed.run(quick)


_SKIPPED: Dict[str, str] = {}

FIGURES: Dict[str, Callable[[bool], List[Row]]] = {
    fake_vmtoolsd.FIGURE: fake_vmtoolsd.run,
    record_wrapper.FIGURE: record_wrapper.run,
    throughput.FIGURE: throughput.run,
    reaction.FIGURE: reaction.run,
    virtual_time.FIGURE: virtual_time.run,
    evacuation.FIGURE: evacuation.run,
    speed.FIGURE: _speed,
    suite.FIGURE: _suite,
}
FULL_ONLY = {suite.FIGURE}  # too slow for the quick mode; runs in full mode or when named with --only


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> NoReturn:
        self.exit(EXIT_USAGE, f"benchmarks: error: {message}\n")


def parse(argv: Sequence[str]) -> argparse.Namespace:
    parser = _Parser(prog="python -m benchmarks", description=__doc__)
    parser.add_argument("--quick", action="store_true", help="few repetitions, no suite figure (for CI)")
    parser.add_argument("--output", metavar="FILE.json", help="write the results here as JSON")
    parser.add_argument("--only", nargs="+", metavar="NAME", choices=sorted(FIGURES),
                        help=f"run only these figures ({', '.join(FIGURES)})")
    return parser.parse_args(argv)


def main(argv: Optional[Sequence[str]] = None) -> int:
    args = parse(sys.argv[1:] if argv is None else argv)
    names = args.only or [n for n in FIGURES if not (args.quick and n in FULL_ONLY)]
    mode = "quick" if args.quick else "full"
    started = time.perf_counter()
    rows: List[Row] = []
    errors: Dict[str, str] = {}
    _SKIPPED.clear()
    if args.quick and not args.only:
        _SKIPPED[suite.FIGURE] = "not in the quick mode (run the full mode or --only suite)"
    for name in names:
        print(f"benchmarks: {name} ...", file=sys.stderr, flush=True)
        try:
            rows += FIGURES[name](args.quick)
        except Exception as exc:  # one broken figure must not hide the others' numbers
            errors[name] = f"{type(exc).__name__}: {exc}"
            traceback.print_exc(file=sys.stderr)
    seconds = time.perf_counter() - started
    info = machine.describe()
    print(f"{mode} run, {seconds:.1f} s; {info['nproc']} CPUs ({info['cpu_model']}), Python {info['python']}\n")
    print(report.table(rows))
    for name, why in _SKIPPED.items():
        print(f"skipped {name}: {why}")
    if args.output:
        doc = report.document(mode, info, rows, dict(_SKIPPED), errors, seconds)
        try:
            with open(args.output, "w", encoding="utf-8") as out:
                json.dump(doc, out, indent=1)
                out.write("\n")
        except OSError as exc:
            print(f"benchmarks: error: cannot write {args.output}: {exc.strerror or exc}", file=sys.stderr)
            return EXIT_USAGE
    for name, why in errors.items():
        print(f"benchmarks: error: figure {name} failed: {why}", file=sys.stderr)
    return EXIT_FIGURE_FAILED if errors else EXIT_OK


if __name__ == "__main__":
    sys.exit(main())
