"""Run ``vmotion-helper`` as a user would (a subprocess with the endpoint's environment), or its ``main`` in this
process where what is tested is what a command does and prints, and read back what it did through a separate
pyVmomi connection (``readback.py``)."""

from __future__ import annotations

import contextlib
import io
import os
import socket
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Iterator, Optional

import pytest

from helper.cli import main
from simulator.vcenter.vcsim import VcsimEndpoint
from tests.helper.readback import Readback

REPO = Path(__file__).resolve().parents[2]


@dataclass(frozen=True)
class Run:
    code: int
    stdout: str
    stderr: str


RunHelper = Callable[..., Run]


def helper_env(endpoint: Optional[VcsimEndpoint], **overrides: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("VMWARE_")}
    if endpoint is not None:
        env.update(endpoint.env())
    env.update(overrides)
    return env


def run_helper(endpoint: Optional[VcsimEndpoint], *args: str, **env: str) -> Run:
    done = subprocess.run(
        [sys.executable, "-m", "helper", *args],
        env=helper_env(endpoint, **env),
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=120,
        stdin=subprocess.DEVNULL,
    )
    return Run(done.returncode, done.stdout, done.stderr)


def call_helper(endpoint: Optional[VcsimEndpoint], *args: str, **env: str) -> Run:
    """The command's ``main`` in this process, with the environment ``run_helper`` gives the process. The console
    script is only ``sys.exit(main())``, and a process start (an interpreter, pyVmomi) costs more than most
    commands do; what only a process shows (exit status, one-line errors, never a traceback) is run_helper's."""
    stdout, stderr = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(stdout), contextlib.redirect_stderr(stderr):
        try:
            code = main(list(args), helper_env(endpoint, **env))
        except SystemExit as usage:  # argparse ends a bad command line this way
            code = usage.code if isinstance(usage.code, int) else 2
    return Run(code, stdout.getvalue(), stderr.getvalue())


def assert_one_line_error(run: Run, code: int, *fragments: str) -> None:
    """A failure is one line on stderr, the documented exit code, nothing on stdout, never a traceback."""
    assert run.code == code, run
    assert run.stdout == ""
    assert "Traceback" not in run.stderr
    lines = run.stderr.splitlines()
    assert len(lines) == 1 and lines[0].startswith("vmotion-helper: error: "), run.stderr
    for fragment in fragments:
        assert fragment in lines[0]


def closed_loopback_port() -> int:
    """A port on 127.0.0.1 that nothing listens on (bound, then released)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture
def readback() -> Iterator[Callable[..., Readback]]:
    """Open independent pyVmomi connections; all are closed after the test."""
    opened: list[Readback] = []

    def open_(endpoint: VcsimEndpoint, version: Optional[str] = None) -> Readback:
        opened.append(Readback(endpoint, version))
        return opened[-1]

    yield open_
    for r in opened:
        r.close()
