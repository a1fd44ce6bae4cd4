"""``vmotion-sim exec -- COMMAND ...``: run a handler (or anything) on a served simulator's clock.

With ``vmotion-sim serve --speed K`` the command runs under libfaketime at the same rate and from the same
origin as the simulator (see ``simulator.speed``); at speed 1 it just runs. Like ``faketime``, it stays as the
command's parent: it passes SIGTERM, SIGINT and SIGHUP on, exits with the command's status, and then removes
the shared clock it made. Exit 4 (one line on stderr) when the command cannot run at speed: a statically
linked or Go program, or no libfaketime.
"""

from __future__ import annotations

import argparse
import os
import signal
import subprocess
import sys
from typing import Any, List, Optional

from simulator.transport.server import SOCKET_ENV

FORWARDED = (signal.SIGTERM, signal.SIGINT, signal.SIGHUP)


def add_parser(sub: Any) -> None:
    run = sub.add_parser(
        "exec", help="run COMMAND on the simulator's clock (under libfaketime when served with --speed)"
    )
    run.add_argument("program", nargs=argparse.REMAINDER, metavar="-- COMMAND")


def _command(words: List[str]) -> List[str]:
    return words[1:] if words and words[0] == "--" else words


def run(args: argparse.Namespace, socket_path: str, clock: Any) -> int:
    argv = _command(list(args.program))
    if not argv:
        print("vmotion-sim exec: name the command to run: exec -- COMMAND ...", file=sys.stderr)
        return 2
    # Loaded only when exec runs: every vmotion-sim start (hook probes included) stays light.
    from simulator.speed import EXIT_UNAVAILABLE, SharedClock, SpeedUnavailable, check_program, shared_clock_for

    env = dict(os.environ)
    env[SOCKET_ENV] = socket_path
    speed = float(clock.get("speed", 1.0))
    shared: Optional[SharedClock] = None
    try:
        if speed != 1.0:
            check_program(argv, env)
            shared = shared_clock_for(clock)
        if shared is not None:
            env = shared.env(env)
        return _run_child(argv, env)
    except SpeedUnavailable as why:
        print(f"vmotion-sim exec: {why}", file=sys.stderr)
        return EXIT_UNAVAILABLE
    except OSError as err:
        print(f"vmotion-sim exec: cannot run {argv[0]!r}: {err.strerror or err}", file=sys.stderr)
        return 127
    finally:
        if shared is not None:
            shared.close()


def _run_child(argv: List[str], env: Any) -> int:
    # Handlers go in before the child starts: a signal that comes in between is kept and passed on after.
    child: List[subprocess.Popen[bytes]] = []
    pending: List[int] = []

    def forward(signum: int, _frame: Any) -> None:
        if child:
            child[0].send_signal(signum)
        else:
            pending.append(signum)

    for signum in FORWARDED:
        signal.signal(signum, forward)
    child.append(subprocess.Popen(argv, env=env))
    for waiting in pending:
        child[0].send_signal(waiting)
    code = child[0].wait()
    return 128 - code if code < 0 else code
