"""The README's main job: `vmotion-sim demo` runs the real handler through a whole cycle."""

from __future__ import annotations

import subprocess
from pathlib import Path

from tests.spaced_venv import spaced_venv_python


def test_the_demo_runs_a_full_cycle_with_the_real_handler(tmp_path: Path) -> None:
    # An interpreter whose path has a space (a venv under "My Projects"): the hook commands must survive it.
    python = spaced_venv_python(tmp_path)
    assert " " in str(python)
    # The same cycle as the default demo's, in a fraction of its real time: the application, the migration and
    # the handler's polls are quicker; every step and its order are the same.
    result = subprocess.run(
        [str(python), "-m", "simulator", "demo", "--timeout", "10", "--migration-seconds", "0.2",
         "--app-seconds", "0.1", "--interval", "0.1"], capture_output=True, text=True, timeout=120
    )
    assert result.returncode == 0, result.stdout + result.stderr
    timeline = result.stdout
    order = [
        "registered (effective timeout 10 s)",
        "start event, operation",
        "hook       quiesce begin",
        "hook       quiesce end",
        "ack_received for operation",
        "migration ended: success",
        "end event, operation",
        "hook       unquiesce end",
        "unregister       ok",
    ]
    positions = [timeline.index(step) for step in order]
    assert positions == sorted(positions), timeline
    assert "PROBLEM" not in timeline
    assert "migration takes 0.2 s" in timeline  # the knobs reached the demo
    assert "handler exit status 0; registrations left: 0" in timeline
