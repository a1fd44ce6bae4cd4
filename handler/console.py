"""What the three console commands share: their version, and a quiet end when their reader goes away."""

from __future__ import annotations

import argparse
import os
import sys
from typing import Any, Callable, Optional, Sequence, Union

DISTRIBUTION = "vmotion-notification-harness"
EXIT_OUTPUT_CLOSED = 141  # what a shell shows for a program ended by SIGPIPE (128 + 13)


def package_version() -> str:
    from importlib import metadata  # here: importing it is a third of a command's start-up, and few ask

    try:
        return metadata.version(DISTRIBUTION)
    except metadata.PackageNotFoundError:  # a bare source tree, never installed
        return "unknown (not installed)"


class VersionAction(argparse.Action):
    """``--version``: prints "PROG VERSION" and exits 0, as argparse's own does, but reads the version only
    when asked (every start of the handler, and every call of the simulator's CLI, builds the parser)."""

    def __init__(self, option_strings: Sequence[str], dest: str = argparse.SUPPRESS,
                 default: Any = argparse.SUPPRESS, help: str = "show program's version number and exit") -> None:
        super().__init__(option_strings, dest, nargs=0, default=default, help=help)

    def __call__(self, parser: argparse.ArgumentParser, namespace: argparse.Namespace,
                 values: Union[str, Sequence[Any], None], option_string: Optional[str] = None) -> None:
        print(f"{parser.prog} {package_version()}")
        parser.exit()


def run_console(main: Callable[[], int]) -> int:
    """Run a command's main; when its output is closed early (``| head``), end without a traceback or noise.

    SIGPIPE is not restored to its default instead: that would also kill a server or daemon for a broken
    socket or child pipe, which they handle themselves.
    """
    try:
        try:
            return main()
        finally:
            sys.stdout.flush()  # inside the try: a failing flush at interpreter exit would print an error
    except BrokenPipeError:
        # Python flushes stdout again at exit; aim it at devnull so that flush is silent too.
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        os.close(devnull)
        return EXIT_OUTPUT_CLOSED
