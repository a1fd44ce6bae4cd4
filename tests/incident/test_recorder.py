"""The recording wrapper in front of the fake vmtoolsd and a simulated VM (served from the test's process: the
wrapper and the fake vmtoolsd are the processes under test): calls pass through unchanged, and the recording
holds each call with its tokens replaced by stable placeholders."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path
from typing import Any, Dict, Iterator, List

import pytest

from simulator.clock import ManualClock
from simulator.harness.vm import SimulatedVM
from simulator.incident.record_cli import install
from simulator.inprocess import Simulator
from tests.simulator import obs

TOKEN = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")


@pytest.fixture
def served(tmp_path: Path) -> Iterator[SimulatedVM]:
    vm = SimulatedVM.in_process(tmp_path, Simulator(ManualClock())).start()
    try:
        yield vm
    finally:
        vm.close()


def call(program: Path, *argv: str, env: Dict[str, str] | None = None) -> subprocess.CompletedProcess[bytes]:
    return subprocess.run([str(program), *argv], capture_output=True, env=env, timeout=30, check=False)


def records(path: Path) -> List[Dict[str, Any]]:
    return [json.loads(line) for line in path.read_text().splitlines()]


def triple(done: subprocess.CompletedProcess[bytes]) -> tuple[bytes, bytes, int]:
    return done.stdout, done.stderr, done.returncode


def test_every_call_passes_through_unchanged(served: SimulatedVM, tmp_path: Path) -> None:
    recording = tmp_path / "rec.jsonl"
    wrapper = install(tmp_path / "wrap", str(served.bin_dir / "vmtoolsd"), str(recording))["launcher"]
    real = served.bin_dir / "vmtoolsd"
    reg = call(wrapper, "--cmd", obs.REGISTER_DEMO)
    token = TOKEN.search(reg.stdout.decode()).group(0)  # type: ignore[union-attr]
    check = f'vm-operation-notification.check-for-event {{"uniqueToken": "{token}"}}'
    cmdfile = tmp_path / "rpc.txt"
    cmdfile.write_text(check + "\n")
    for argv in (["--cmd", check], ["--cmd", "vm-operation-notification.nonsense"], ["--cmdfile", str(cmdfile)],
                 ["--cmdfile", str(tmp_path / "missing.txt")], ["--cmd=" + check], []):
        assert triple(call(wrapper, *argv)) == triple(call(real, *argv)), argv


def test_the_recording_holds_each_call_with_tokens_replaced_by_stable_placeholders(
    served: SimulatedVM, tmp_path: Path
) -> None:
    recording = tmp_path / "rec.jsonl"
    wrapper = install(tmp_path / "wrap", str(served.bin_dir / "vmtoolsd"), str(recording))["launcher"]
    token = TOKEN.search(call(wrapper, "--cmd", obs.REGISTER_DEMO).stdout.decode()).group(0)  # type: ignore[union-attr]
    check = f'vm-operation-notification.check-for-event {{"uniqueToken": "{token}"}}'
    call(wrapper, "--cmd", check)
    call(wrapper, "--cmd", "vm-operation-notification.nonsense")
    text = recording.read_text()
    assert token not in text
    reg, poll, bad = records(recording)
    placeholder = re.search(r"token-[0-9a-f]{12}", reg["stdout"]).group(0)  # type: ignore[union-attr]
    assert poll["request"] == f'vm-operation-notification.check-for-event {{"uniqueToken": "{placeholder}"}}'
    assert (poll["stdout"], poll["stderr"], poll["exit_code"], poll["via"]) == (
        '{"version":"1.0.0", "result": true }\n', "", 0, "cmd")
    assert (bad["stdout"], bad["stderr"], bad["exit_code"]) == ("", "Unknown command\n", 1)
    assert all(r["duration"] >= 0 and r["time"] > 1e9 for r in (reg, poll, bad))
    assert recording.stat().st_mode & 0o777 == 0o600
    assert Path(f"{recording}.key").stat().st_mode & 0o777 == 0o600


def test_the_recording_is_bounded_by_rotation(served: SimulatedVM, tmp_path: Path) -> None:
    recording = tmp_path / "rec.jsonl"
    wrapper = install(tmp_path / "wrap", str(served.bin_dir / "vmtoolsd"), str(recording))["launcher"]
    env = dict(os.environ, VMOTION_RECORD_MAX_BYTES="400", VMOTION_RECORD_KEEP="2")
    for _ in range(8):
        call(wrapper, "--cmd", "vm-operation-notification.list", env=env)
    files = sorted(p.name for p in tmp_path.glob("rec.jsonl*") if not p.name.endswith(".key"))
    assert files == ["rec.jsonl", "rec.jsonl.1", "rec.jsonl.2"]
    assert all((tmp_path / f).stat().st_size <= 400 for f in files)


def test_a_recording_that_cannot_be_written_does_not_change_the_call(served: SimulatedVM, tmp_path: Path) -> None:
    blocked = tmp_path / "not-a-dir"
    blocked.write_text("a file where the recording's directory should be")
    wrapper = install(tmp_path / "wrap", str(served.bin_dir / "vmtoolsd"), str(blocked / "rec.jsonl"))["launcher"]
    argv = ("--cmd", "vm-operation-notification.list")
    assert triple(call(wrapper, *argv)) == triple(call(served.bin_dir / "vmtoolsd", *argv))


def test_the_console_script_finds_the_next_vmtoolsd_on_path(served: SimulatedVM, tmp_path: Path) -> None:
    recording = tmp_path / "rec.jsonl"
    script = Path(sys.executable).with_name("vmotion-record")
    env = dict(os.environ, PATH=f"{served.bin_dir}{os.pathsep}{os.environ['PATH']}",
               VMOTION_RECORD_FILE=str(recording))
    done = call(script, "--cmd", "vm-operation-notification.list", env=env)
    assert done.returncode == 0 and done.stdout.startswith(b'{"version":"1.0.0", "result": true, "info"')
    assert records(recording)[0]["request"] == "vm-operation-notification.list"


def test_a_wrapper_pointed_at_itself_refuses_in_one_line(tmp_path: Path) -> None:
    wrapper = install(tmp_path / "wrap", None, str(tmp_path / "rec.jsonl"))["launcher"]
    env = dict(os.environ, PATH=f"{wrapper.parent}{os.pathsep}/nonexistent")
    done = call(wrapper, "--cmd", "vm-operation-notification.list", env=env)
    assert done.returncode == 1
    assert done.stderr.decode().count("\n") == 1 and "vmotion-record:" in done.stderr.decode()
