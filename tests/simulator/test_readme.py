"""The README is documentation users rely on: its knob table and its in-process example must stay true."""

from __future__ import annotations

import json
import os
import re
import shlex
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Dict, List

from simulator.harness.journal import Journal
from simulator.harness.vm import SimulatedVM
from simulator.harness.wait import wait_until
from simulator.model.knobs import knob_docs
from simulator.processes import stop_process
from simulator.transport.client import SimulatorClient

REPO = Path(__file__).resolve().parents[2]
README = (REPO / "README.md").read_text()
COMMANDS = {"vmotion-sim": "simulator", "vmotion-handler": "handler", "vmotion-helper": "helper"}


def test_every_knob_is_in_the_readme_table_with_its_default() -> None:
    rows = dict(re.findall(r"^\| `(\w+)` \| `([^`]*)` \|", README, flags=re.M))
    for name, default, _reason in knob_docs():
        assert rows.get(name) == default, f"README knob table: {name} should show default {default}"


def test_the_in_process_example_runs() -> None:
    block = README.split("**2. In-process, on virtual time**", 1)[1].split("```python", 1)[1].split("```", 1)[0]
    namespace: dict[str, object] = {}
    exec(compile(block, "README.md", "exec"), namespace)  # the example asserts its own outcome


def shell_block_after(marker: str) -> List[str]:
    block = README.split(marker, 1)[1].split("```sh\n", 1)[1].split("```", 1)[0]
    return [line for line in block.splitlines() if line.strip()]


def env_with_programs(bin_dir: Path, extra: Dict[str, str]) -> Dict[str, str]:
    """An environment whose PATH starts with this interpreter's commands (and ``extra`` shell scripts)."""
    bin_dir.mkdir()
    programs = {name: f'exec {shlex.quote(sys.executable)} -m {module} "$@"' for name, module in COMMANDS.items()}
    for name, body in {**programs, **extra}.items():
        (bin_dir / name).write_text(f"#!/bin/sh\n{body}\n")
        (bin_dir / name).chmod(0o755)
    env = {**os.environ, "PATH": f"{bin_dir}{os.pathsep}{os.environ.get('PATH', os.defpath)}"}
    env.pop("VMOTION_SIM_SOCKET", None)
    return env


def test_the_test_your_own_handler_commands_run_as_written(tmp_path: Path) -> None:
    """The README's first shell block, line by line through bash, as a user types it.

    Substituted, because they cannot be used as written: the two /tmp paths (the test gets directories of its
    own, and a Unix socket path must stay short), and `my-handler`, the user's own handler: here a script that
    runs the bundled one. `vmotion-sim` is this interpreter's (`python -m simulator`), not whatever is on PATH.
    Like a user, the test waits for a background program to be ready before typing the line that needs it.
    """
    lines = shell_block_after("**1. Your handler, unmodified, through the fake `vmtoolsd`.**")
    assert [line.split("#")[0].split()[:3] for line in lines] == [
        ["vmotion-sim", "serve", "--socket"],
        ["vmotion-sim", "--socket", "/tmp/sim.sock"],
        ["PATH=/tmp/fake-tools:$PATH", "my-handler", "&"],
        ["vmotion-sim", "--socket", "/tmp/sim.sock"],
        ["vmotion-sim", "--socket", "/tmp/sim.sock"],
        ["vmotion-sim", "--socket", "/tmp/sim.sock"],
    ]
    short = Path(tempfile.mkdtemp(prefix="readme-", dir="/tmp"))
    sock, tools = short / "sim.sock", tmp_path / "fake-tools"
    my_handler = (f"exec {shlex.quote(sys.executable)} -m handler --name my-app --interval 0.2 "
                  f"--state-file {shlex.quote(str(tmp_path / 'state.json'))}")
    env = env_with_programs(tmp_path / "bin", {"my-handler": my_handler})
    client = SimulatorClient(sock)
    background: List[subprocess.Popen[bytes]] = []
    outputs: List[str] = []
    try:
        for line in lines:
            line = line.replace("/tmp/sim.sock", str(sock)).replace("/tmp/fake-tools", str(tools))
            command, _, _comment = line.partition("  #")
            command = command.strip()
            if command.startswith("vmotion-sim --socket") and " vmotion" in command:
                assert wait_until(lambda: client.status()["registrations"], timeout=20), "my-handler never registered"
            if command.startswith("vmotion-sim --socket") and " journal" in command:
                assert wait_until(lambda: Journal(client.journal()).rpcs("ack-event"), timeout=20)
            if command.endswith("&"):
                # exec: the background program itself is the child, so it is stopped by its own pid.
                words = re.match(r"((?:\w+=\S*\s+)*)(.*?)\s*&$", command)
                assert words is not None
                background.append(subprocess.Popen(["bash", "-c", f"{words[1]}exec {words[2]}"], env=env,
                                                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL))
                if not background[1:]:
                    assert wait_until(client.ping, timeout=20), "vmotion-sim serve did not start"
                continue
            done = subprocess.run(["bash", "-c", command], env=env, capture_output=True, text=True, timeout=60)
            assert done.returncode == 0, (command, done.stderr)
            outputs.append(done.stdout)
        shim, op_id, journal, status = outputs
        assert shim.split() == [str(tools / "vmtoolsd"), str(tools / "vmware-rpctool")]
        assert int(op_id) > 2**53
        assert "register" in journal and "ack-event" in journal
        (op,) = json.loads(status)["operations"]
        assert (op["operation_id"], op["acked"], op["forced"]) == (int(op_id), True, False)
    finally:
        for proc in reversed(background):
            stop_process(proc)
        shutil.rmtree(short, ignore_errors=True)


def test_the_demo_hook_commands_run_as_written(tmp_path: Path) -> None:
    """In an empty directory (the hook ships with the package: no clone needed), with the fake vmtoolsd on PATH
    (the README's guest has the real one) and, since the default state file is under /var/lib, a state file of
    the test's own given through the environment. Quicker than a user's run, not otherwise: the hook's steps
    (DEMO_HOOK_STEP), the handler's polls (VMOTION_HANDLER_INTERVAL) and the migration are short."""
    write_hook, line = shell_block_after("(unquiesce), and reads the event from its environment:")
    assert line == "vmotion-handler --name demo --quiesce ./demo-hook.sh --unquiesce ./demo-hook.sh"
    served = SimulatedVM.as_process(tmp_path, "--host-timeout", "10", "--migration-seconds", "0.1").start()
    env = env_with_programs(tmp_path / "commands", {})
    env.update(PATH=f"{served.bin_dir}{os.pathsep}{env['PATH']}", DEMO_HOOK_LOG=str(tmp_path / "hooks.log"),
               VMOTION_HANDLER_STATE_FILE=str(tmp_path / "state" / "state.json"), DEMO_HOOK_STEP="0.05",
               VMOTION_HANDLER_INTERVAL="0.1")
    project = tmp_path / "project"
    project.mkdir()
    subprocess.run(["bash", "-c", write_hook], cwd=project, env=env, check=True, timeout=60)
    handler = subprocess.Popen(["bash", "-c", f"exec {line}"], cwd=project, env=env, stdin=subprocess.DEVNULL,
                               stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        client = SimulatorClient(served.socket)
        assert wait_until(lambda: client.status()["registrations"], timeout=20), "the handler never registered"
        op_id = client.vmotion()
        hooks_log = tmp_path / "hooks.log"
        assert wait_until(lambda: hooks_log.exists() and len(hooks_log.read_text().splitlines()) == 2, timeout=30)
        assert hooks_log.read_text().splitlines() == [f"quiesce {op_id} start ", f"unquiesce {op_id} end success"]
        assert client.operation(op_id)["acked"] is True
        assert stop_process(handler) == 0
        assert client.status()["registrations"] == []
    finally:
        stop_process(handler)
        if handler.stderr is not None:
            handler.stderr.close()
        served.close()
