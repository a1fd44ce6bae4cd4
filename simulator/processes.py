"""Stopping a child process the way every part of this project does: ask, wait, then insist."""

from __future__ import annotations

import signal
import subprocess
from typing import Any


def stop_process(proc: subprocess.Popen[Any], timeout: float = 10.0, signum: int = signal.SIGTERM) -> int:
    """Send ``signum`` (SIGTERM) and wait up to ``timeout`` s; then SIGKILL. Always reaps; returns the exit status."""
    if proc.poll() is None:
        proc.send_signal(signum)
        try:
            return proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            proc.kill()
    return proc.wait()
