"""The README's block on running at speed works as written (paths substituted, as in tests/simulator/test_readme)."""

from __future__ import annotations

import re
import shutil
import subprocess
import tempfile
from pathlib import Path
from typing import List

from simulator.harness import wait_until
from simulator.processes import stop_process
from simulator.transport.client import SimulatorClient
from tests.simulator.test_readme import env_with_programs, shell_block_after


def test_the_speed_commands_run_as_written(_speed_tools: None, tmp_path: Path) -> None:
    lines = shell_block_after("At `--speed 20` a production 120-second cycle takes about 6 seconds:")
    assert len(lines) == 5 and "--speed 20" in lines[0] and " exec -- vmotion-handler" in lines[2]
    short = Path(tempfile.mkdtemp(prefix="readme-", dir="/tmp"))
    sock = short / "sim.sock"
    env = env_with_programs(tmp_path / "bin", {})
    client = SimulatorClient(sock)
    background: List[subprocess.Popen[bytes]] = []
    outputs: List[str] = []
    try:
        for line in lines:
            line = (line.replace("/tmp/sim.sock", str(sock)).replace("/tmp/fake-tools", str(tmp_path / "tools"))
                    .replace("/tmp/h.json", str(tmp_path / "h.json")))
            command = line.partition("  #")[0].strip()
            if command.endswith(" vmotion"):
                assert wait_until(lambda: client.status()["registrations"], timeout=30), "the handler never registered"
            if command.endswith("&"):
                words = re.match(r"((?:\w+=\S*\s+)*)(.*?)\s*&$", command)
                assert words is not None
                background.append(subprocess.Popen(["bash", "-c", f"{words[1]}exec {words[2]}"], env=env,
                                                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL))
                if len(background) == 1:
                    assert wait_until(client.ping, timeout=20), "vmotion-sim serve did not start"
                continue
            done = subprocess.run(["bash", "-c", command], env=env, capture_output=True, text=True, timeout=60)
            assert done.returncode == 0, (command, done.stderr)
            outputs.append(done.stdout)
        op_id, status = outputs[1].strip(), outputs[2]
        assert f"{op_id}: " in status and "(acked)" in status, status
    finally:
        for proc in reversed(background):
            stop_process(proc)
        shutil.rmtree(short, ignore_errors=True)
