"""Stopping a child process the way every part of this project does: ask, wait, then insist."""

from __future__ import annotations

import os
import signal
import subprocess
from pathlib import Path
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


def process_alive(pid: int) -> bool:
    """Whether ``pid`` exists and is not a zombie (an exited child nobody reaped yet)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return False
        except PermissionError:
            return True
        return True
    return stat.rpartition(")")[2].split()[0] not in ("Z", "X")
