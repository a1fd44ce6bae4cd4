"""What the three console commands share: `--version` from the package metadata, and silence when their
reader goes away (`vmotion-sim knobs | head -5`)."""

from __future__ import annotations

import os
import subprocess
import sys
from importlib import metadata
from typing import Dict, List, Optional

import pytest

from handler.console import EXIT_OUTPUT_CLOSED
from simulator.vcsim import VcsimEndpoint
from tests.helper.conftest import helper_env

COMMANDS = {"vmotion-sim": "simulator", "vmotion-handler": "handler", "vmotion-helper": "helper"}


@pytest.mark.parametrize("program", COMMANDS)
def test_version_comes_from_the_package_metadata(program: str) -> None:
    done = subprocess.run([sys.executable, "-m", COMMANDS[program], "--version"], capture_output=True, text=True,
                          timeout=60)
    assert (done.returncode, done.stdout, done.stderr) == (
        0, f"{program} {metadata.version('vmotion-notification-harness')}\n", ""
    )


def run_with_closed_stdout(argv: List[str], env: Optional[Dict[str, str]] = None) -> subprocess.CompletedProcess[bytes]:
    """Run with a stdout pipe whose reader is already gone: every write fails with EPIPE, deterministically."""
    read_end, write_end = os.pipe()
    os.close(read_end)
    try:
        return subprocess.run(argv, stdout=write_end, stderr=subprocess.PIPE, env=env, timeout=120,
                              stdin=subprocess.DEVNULL)
    finally:
        os.close(write_end)


@pytest.mark.parametrize("argv", [["simulator", "knobs"], ["handler", "--print-config"]], ids=" ".join)
def test_output_cut_short_ends_quietly(argv: List[str]) -> None:
    done = run_with_closed_stdout([sys.executable, "-m", *argv])
    assert (done.returncode, done.stderr.decode()) == (EXIT_OUTPUT_CLOSED, "")


def test_helper_output_cut_short_ends_quietly(vcsim: VcsimEndpoint) -> None:
    """The helper prints only after talking to a vCenter: a closed stdout is not a connection error."""
    done = run_with_closed_stdout([sys.executable, "-m", "helper", "vm", "DC0_C0_RP0_VM0"], env=helper_env(vcsim))
    assert (done.returncode, done.stderr.decode()) == (EXIT_OUTPUT_CLOSED, "")
