"""`vmotion-sim run --speed K FILE -- COMMAND`: an incident scenario with production timeouts, replayed at speed."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

SCENARIO = {
    "format": "vmotion-incident-scenario", "version": 1, "name": "production 120-s timeout, quiesce too long",
    "settings": {"host_timeout": 120, "migration_seconds": 15},
    "actions": [{"at": 5, "do": "vmotion"}],
    "hooks": {"quiesce": [{"seconds": 200}], "unquiesce": [{"seconds": 1}]},
    "duration": 170, "expect": ["forced-migration", "quiesce-killed"],
}
# --rpc-timeout: a vmtoolsd call it counts as hung after 10 s is 0.25 s of wall time at x40; a register that came
# later under load was retried, refused (one app per VM), and the scenario failed (2 of 16 runs 8 at a time; with
# 120 s, 16 of 16).
BUNDLED = [sys.executable, "-m", "handler", "--name", "prod", "--quiesce", "{quiesce}", "--unquiesce", "{unquiesce}",
           "--state-file", "{state_file}", "--on-quiesce-failure", "no-ack", "--rpc-timeout", "120"]


def test_a_170_s_production_scenario_reproduces_at_speed(_speed_tools: None, tmp_path: Path) -> None:
    """A forced migration and a killed quiesce are outcomes on the simulated clock: at x40 it takes 4 s."""
    path = tmp_path / "prod.json"
    path.write_text(json.dumps(SCENARIO))
    done = subprocess.run([sys.executable, "-m", "simulator", "run", "--speed", "40", "--json", str(path), "--",
                           *BUNDLED], capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stdout + done.stderr
    result = json.loads(done.stdout)
    assert result["reproduced"], result


def test_run_at_speed_refuses_a_static_program_in_one_line(_speed_tools: None, static_program: Path,
                                                           tmp_path: Path) -> None:
    path = tmp_path / "prod.json"
    path.write_text(json.dumps(SCENARIO))
    done = subprocess.run([sys.executable, "-m", "simulator", "run", "--speed", "20", str(path), "--",
                           str(static_program), "{quiesce}", "{unquiesce}"], capture_output=True, text=True,
                          timeout=120)
    assert done.returncode == 4 and "statically linked" in done.stderr and done.stderr.count("\n") == 1
