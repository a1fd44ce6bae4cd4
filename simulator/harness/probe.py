"""A hook probe: stands in for an application's quiesce or unquiesce command and reports to the simulator.

A handler under test runs it as its hook command. It records into the simulator's journal (kind ``probe``)
when it started, with its pid and the environment the handler gave it, and how it ended: ``finished`` with its
exit status, or ``terminated`` when the handler stopped it with SIGTERM/SIGINT. A SIGKILL leaves no ``finished``
record; the pid tells whether the process is still alive. What it does is read at start from a small JSON
behaviour file (``{"seconds": 5, "exit_code": 0}``) so a test can change it between runs.

``write_probe(directory, name, ...)`` writes an executable that runs it with the settings baked in: one path
with no spaces, which any handler can take as its hook command without a shell.

Standard library only: a handler runs this once per hook, so it starts as fast as the interpreter allows.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import sys
import time
from pathlib import Path
from types import FrameType
from typing import Dict, List, Optional, Sequence, Union

from simulator.harness.ours import write_launcher
from simulator.inprocess import SimulatorError
from simulator.transport.client import SimulatorClient

EXIT_TERMINATED = 143  # 128 + SIGTERM, what a shell reports for a command ended by SIGTERM


class _Terminated(Exception):
    def __init__(self, signum: int) -> None:
        super().__init__(signum)
        self.signum = signum


def _added_env(baseline_file: Optional[str]) -> Dict[str, str]:
    """The variables the handler added or changed: its whole environment minus the one it was started with."""
    env = dict(os.environ)
    if not baseline_file:
        return {k: v for k, v in env.items() if k.startswith("VMOTION_")}
    try:
        baseline = json.loads(Path(baseline_file).read_text())
    except (OSError, ValueError):
        baseline = {}
    return {k: v for k, v in env.items() if baseline.get(k) != v}


def _behaviour(path: Optional[str]) -> Dict[str, float]:
    if not path:
        return {}
    try:
        data = json.loads(Path(path).read_text())
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


def _on_signal(signum: int, frame: Optional[FrameType]) -> None:
    raise _Terminated(signum)


def run(socket: str, name: str, behaviour_file: Optional[str], baseline_file: Optional[str]) -> int:
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, _on_signal)
    client = SimulatorClient(socket, timeout=10.0)
    what = _behaviour(behaviour_file)
    seconds = float(what.get("seconds", 0.0))
    exit_code = int(what.get("exit_code", 0))
    try:
        client.record_probe(name, "started", _added_env(baseline_file), pid=os.getpid(), planned_seconds=seconds)
        deadline = time.monotonic() + seconds
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                break
            time.sleep(min(left, 0.05))  # short slices: a signal is handled promptly
        client.record_probe(name, "finished", {}, pid=os.getpid(), exit_code=exit_code)
        return exit_code
    except _Terminated as stop:
        client.record_probe(name, "terminated", {}, pid=os.getpid(), signal=signal.Signals(stop.signum).name)
        return EXIT_TERMINATED
    except SimulatorError as err:
        print(f"vmotion probe {name}: {err}", file=sys.stderr)
        return 3


def main(argv: Optional[Sequence[str]] = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m simulator.harness.probe", description=__doc__)
    parser.add_argument("--socket", required=True)
    parser.add_argument("--name", required=True, help="the hook's name in the journal (quiesce, unquiesce)")
    parser.add_argument("--behaviour", default=None, help="JSON file: {seconds, exit_code}")
    parser.add_argument("--baseline", default=None, help="JSON file: the environment the handler was given")
    args = parser.parse_args(argv)
    return run(args.socket, args.name, args.behaviour, args.baseline)


def write_probe(
    directory: Union[str, Path],
    name: str,
    socket: Union[str, Path],
    behaviour_file: Union[str, Path],
    baseline_file: Union[str, Path],
) -> Path:
    """An executable ``DIR/NAME-probe`` that runs this probe with its settings; returns its path."""
    argv: List[str] = ["--socket", str(socket), "--name", name, "--behaviour", str(behaviour_file),
                       "--baseline", str(baseline_file)]
    # Isolated, on our packages: the handler's PYTHON* variables and working directory do not change what runs.
    code = f"from simulator.harness.probe import main\nsys.exit(main({argv!r}))"
    return write_launcher(Path(directory) / f"{name}-probe", code)


if __name__ == "__main__":
    sys.exit(main())
