"""What the three console commands share: their version, and a quiet end when their reader goes away."""

from __future__ import annotations

import os
import sys
from importlib import metadata
from typing import Callable

DISTRIBUTION = "vmotion-notification-harness"
EXIT_OUTPUT_CLOSED = 141  # what a shell shows for a program ended by SIGPIPE (128 + 13)


def package_version() -> str:
    try:
        return metadata.version(DISTRIBUTION)
    except metadata.PackageNotFoundError:  # a bare source tree, never installed
        return "unknown (not installed)"


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
