"""``vmotion-sim evacuate`` run as a user runs it, in-process: its exit status, its stdout, its stderr."""

from __future__ import annotations

import contextlib
import io
import json
from dataclasses import dataclass
from typing import Any, Dict, List

from simulator.cli import main


@dataclass
class Outcome:
    exit_code: int
    stdout: str
    stderr: str

    def json(self) -> Dict[str, Any]:
        assert self.exit_code == 0, self.stderr
        value: Dict[str, Any] = json.loads(self.stdout)
        return value

    def vm(self, name: str) -> Dict[str, Any]:
        rows: List[Dict[str, Any]] = self.json()["vms"]
        return next(r for r in rows if r["vm"] == name)


def evacuate(*argv: str) -> Outcome:
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        try:
            code = main(["evacuate", *argv])
        except SystemExit as exit_:  # argparse's usage errors
            code = int(exit_.code or 0)
    return Outcome(code, out.getvalue(), err.getvalue())


def evacuate_json(*argv: str) -> Dict[str, Any]:
    return evacuate(*argv, "--json").json()
