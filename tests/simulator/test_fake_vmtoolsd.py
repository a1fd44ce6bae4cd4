"""The fake vmtoolsd as a real executable on PATH, against `vmotion-sim serve` as a real process."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path
from typing import Iterator, List

import pytest

from simulator.harness.journal import Journal
from simulator.harness.vm import SimulatedVM
from simulator.transport.client import SimulatorClient
from tests.simulator import obs
from tests.simulator.unchanged import assert_unchanged, serve_unchanged
from tests.spaced_venv import spaced_venv_python

START_TIME = 1666994660  # the observed start event's eventGenTimeInSec


@pytest.fixture
def served(tmp_path: Path) -> Iterator[SimulatedVM]:
    proc = SimulatedVM.as_process(tmp_path, "--clock", "manual", "--start-time", str(START_TIME))
    with proc:
        yield proc


@pytest.fixture(scope="module")
def served_unchanged(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SimulatedVM]:
    """For the calls that change nothing in the simulator (each test checks that it did not)."""
    yield from serve_unchanged(tmp_path_factory.mktemp("served"), "--clock", "manual", "--start-time", str(START_TIME))


def run(proc: SimulatedVM, *argv: str, program: str = "vmtoolsd") -> subprocess.CompletedProcess[bytes]:
    env = dict(os.environ, PATH=f"{proc.bin_dir}{os.pathsep}{os.environ['PATH']}")
    env.pop("VMOTION_SIM_SOCKET", None)
    return subprocess.run([program, *argv], capture_output=True, env=env, timeout=30)


def test_the_socket_is_private(served_unchanged: SimulatedVM) -> None:
    assert served_unchanged.socket.stat().st_mode & 0o777 == 0o600
    assert_unchanged(served_unchanged)


def test_a_full_cycle_byte_for_byte(served: SimulatedVM) -> None:
    reg = run(served, "--cmd", obs.REGISTER_DEMO)
    assert (reg.returncode, reg.stderr) == (0, b"")
    token = re.search(rb'"uniqueToken": "([0-9a-f-]{36})"', reg.stdout).group(1).decode()  # type: ignore[union-attr]
    assert reg.stdout == (obs.REGISTER.replace("52964f1a-6c7e-b373-b588-545b39581e1a", token) + "\n").encode()

    listed = run(served, "--cmd", "vm-operation-notification.list")
    assert (listed.stdout, listed.returncode) == ((obs.LIST + "\n").encode(), 0)

    op_id = SimulatorClient(served.socket).vmotion(migration_seconds=15)
    check = f'vm-operation-notification.check-for-event {{"uniqueToken": "{token}"}}'
    start = run(served, "--cmd", check)
    assert start.stdout == (obs.START.replace("6279072957175440971", str(op_id)) + "\n").encode()

    ack = run(served, "--cmd", f'vm-operation-notification.ack-event {{"operationId": {op_id}, "uniqueToken": "{token}"}}')
    assert ack.stdout == (obs.ACK.replace("6279072957175440971", str(op_id)) + "\n").encode()

    SimulatorClient(served.socket).advance(15)
    end = run(served, "--cmd", check)
    expected_end = obs.END.replace("6279072692702276663", str(op_id)).replace("1666730200", str(START_TIME + 15))
    assert end.stdout == (expected_end + "\n").encode()

    assert run(served, "--cmd", check).stdout == (obs.OK + "\n").encode()
    unreg = run(served, "--cmd", f'vm-operation-notification.unregister {{"uniqueToken": "{token}"}}')
    assert (unreg.stdout, unreg.stderr, unreg.returncode) == ((obs.OK + "\n").encode(), b"", 0)


def test_cmdfile_strips_trailing_whitespace_like_g_strchomp(served_unchanged: SimulatedVM, tmp_path: Path) -> None:
    cmdfile = tmp_path / "cmd.txt"
    cmdfile.write_text("vm-operation-notification.list \r\n\n")
    result = run(served_unchanged, "--cmdfile", str(cmdfile))
    assert (result.stdout, result.returncode) == (b'{"version":"1.0.0", "result": true, "info": [] }\n', 0)
    assert_unchanged(served_unchanged)


def test_an_unreadable_cmdfile(served_unchanged: SimulatedVM, tmp_path: Path) -> None:
    missing = tmp_path / "missing.txt"
    result = run(served_unchanged, "--cmdfile", str(missing))
    assert (result.stdout, result.stderr, result.returncode) == (
        b"",
        f"Unable to read command from file {missing}.\n".encode(),
        1,
    )
    assert_unchanged(served_unchanged)


def test_failures_go_to_stderr_with_exit_1(served_unchanged: SimulatedVM) -> None:
    result = run(served_unchanged, "--cmd", "vm-operation-notification.nonsense {}")
    assert (result.stdout, result.stderr, result.returncode) == (b"", b"Unknown command\n", 1)
    assert_unchanged(served_unchanged)


def test_error_envelope_on_stderr(served: SimulatedVM) -> None:
    SimulatorClient(served.socket).knobs(error_envelope="json-stderr")
    result = run(served, "--cmd", 'vm-operation-notification.unregister {"uniqueToken": "x"}')
    assert result.returncode == 1 and result.stdout == b""
    assert result.stderr.startswith(b'{"version":"1.0.0", "result": false, "errorMessage": "vm-operation-notification')


def test_vmware_rpctool_behaves_the_same(served_unchanged: SimulatedVM) -> None:
    result = run(served_unchanged, "vm-operation-notification.list", program="vmware-rpctool")
    assert (result.stdout, result.returncode) == (b'{"version":"1.0.0", "result": true, "info": [] }\n', 0)
    assert_unchanged(served_unchanged)


def test_unicode_survives_the_round_trip(served: SimulatedVM) -> None:
    name = 'dé"mo\\☃😀'
    args = json.dumps({"appName": name, "notificationTypes": ["sla-miss"]})
    run(served, "--cmd", f"vm-operation-notification.register {args}")
    status = SimulatorClient(served.socket).status()
    assert status["registrations"][0]["app_name"] == name


def test_no_simulator_means_no_hypervisor(served: SimulatedVM) -> None:
    served.close()
    result = run(served, "--cmd", "vm-operation-notification.list")
    assert (result.stdout, result.stderr, result.returncode) == (
        b"",
        b"Unable to send command to VMware hypervisor.\n",
        1,
    )


def test_the_socket_can_be_chosen_at_call_time(served_unchanged: SimulatedVM, tmp_path: Path) -> None:
    env = dict(os.environ, VMOTION_SIM_SOCKET=str(tmp_path / "elsewhere.sock"))
    result = subprocess.run(
        [str(served_unchanged.bin_dir / "vmtoolsd"), "--cmd", "vm-operation-notification.list"], capture_output=True,
        env=env,
    )
    assert result.returncode == 1 and b"Unable to send command" in result.stderr
    assert_unchanged(served_unchanged)


def test_the_shim_runs_under_isolated_mode(served_unchanged: SimulatedVM) -> None:
    first_line = (served_unchanged.bin_dir / "vmtoolsd").read_text().splitlines()[0]
    assert first_line == f"#!{sys.executable} -IS"
    assert_unchanged(served_unchanged)


def argv_variants() -> List[List[str]]:
    return [["--cmd", "vm-operation-notification.list"], ["--cmd=vm-operation-notification.list"]]


@pytest.mark.parametrize("argv", argv_variants())
def test_cmd_spellings(served_unchanged: SimulatedVM, argv: List[str]) -> None:
    assert run(served_unchanged, *argv).returncode == 0
    assert_unchanged(served_unchanged)


def test_the_shim_works_for_an_interpreter_whose_path_has_a_space(
    served_unchanged: SimulatedVM, tmp_path: Path
) -> None:
    # A "#!" line ends at the first blank, so such an interpreter needs another launcher.
    python = spaced_venv_python(tmp_path)
    bin_dir = tmp_path / "bin with space"
    subprocess.run([str(python), "-m", "simulator", "--socket", str(served_unchanged.socket), "shim", str(bin_dir)],
                   check=True, capture_output=True, timeout=30)
    result = subprocess.run([str(bin_dir / "vmtoolsd"), "--cmd", "vm-operation-notification.list"],
                            capture_output=True, timeout=30)
    assert (result.stdout, result.stderr, result.returncode) == (
        b'{"version":"1.0.0", "result": true, "info": [] }\n', b"", 0
    )
    assert_unchanged(served_unchanged)


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        ([], "vmtoolsd (vmotion-sim fake): only --cmd STRING and --cmdfile FILE are simulated"),
        (["--cmd"], "vmtoolsd (vmotion-sim fake): --cmd needs a value"),
        (["--cmdfile"], "vmtoolsd (vmotion-sim fake): --cmdfile needs a value"),
        (["--frobnicate", "--cmd", "vm-operation-notification.list"],
         "vmtoolsd (vmotion-sim fake): unknown option --frobnicate; only --cmd STRING and --cmdfile FILE are simulated"),
    ],
    ids=["no arguments", "--cmd without a value", "--cmdfile without a value", "an unknown option"],
)
def test_usage_errors_exit_1_as_the_readme_says(
    served_unchanged: SimulatedVM, argv: List[str], message: str
) -> None:
    before = SimulatorClient(served_unchanged.socket).journal()
    done = run(served_unchanged, *argv)
    assert (done.returncode, done.stdout, done.stderr.decode()) == (1, b"", message + "\n")
    assert SimulatorClient(served_unchanged.socket).journal() == before  # nothing reached the simulator
    assert_unchanged(served_unchanged)


# ---------------------------------------------------------------- under load (issue 10, C3)

CONCURRENT_CALLS = 200


def test_200_concurrent_calls_all_succeed(served: SimulatedVM) -> None:
    env = dict(os.environ)
    env.pop("VMOTION_SIM_SOCKET", None)
    vmtoolsd = str(served.bin_dir / "vmtoolsd")
    calls = [
        subprocess.Popen([vmtoolsd, "--cmd", "vm-operation-notification.list"], stdout=subprocess.PIPE,
                         stderr=subprocess.PIPE, env=env)
        for _ in range(CONCURRENT_CALLS)
    ]
    results = [(call.communicate(timeout=120), call.returncode) for call in calls]
    failed = [(err, code) for (_, err), code in results if code != 0]
    assert failed == []
    assert {out for (out, _), _ in results} == {b'{"version":"1.0.0", "result": true, "info": [] }\n'}
    rpcs = list(Journal(SimulatorClient(served.socket).journal()).rpcs())
    assert len(rpcs) == CONCURRENT_CALLS


# ---------------------------------------------------------------- bytes that are not UTF-8, and huge commands (F2, F3)


def test_a_knob_value_that_is_not_utf8_comes_back_as_the_same_bytes(served: SimulatedVM) -> None:
    subprocess.run([sys.executable, "-m", "simulator", "--socket", str(served.socket), "knobs",
                    os.fsdecode(b"unknown_verb_reply=no \xff such")], check=True, capture_output=True, timeout=30)
    result = run(served, "--cmd", "vm-operation-notification.nonsense")
    assert (result.stdout, result.stderr, result.returncode) == (b"", b"no \xff such\n", 1)


@pytest.mark.parametrize("how", ["--cmd", "--cmdfile"])
def test_a_command_that_is_not_utf8_passes_through_byte_for_byte(
    served: SimulatedVM, tmp_path: Path, how: str
) -> None:
    command = b'vm-operation-notification.register {"appName": "caf\xe9", "notificationTypes": ["sla-miss"]}'
    if how == "--cmd":
        argv = ["--cmd", os.fsdecode(command)]
    else:
        (tmp_path / "cmd").write_bytes(command + b"\n")
        argv = ["--cmdfile", str(tmp_path / "cmd")]
    assert run(served, *argv).returncode == 0
    listed = run(served, "--cmd", "vm-operation-notification.list")
    assert (listed.returncode, listed.stderr) == (0, b"")
    # The simulator takes such a byte as Python does (U+DC00 + byte) and renders it ASCII-only, as every
    # non-ASCII character it writes: a JSON escape, never a traceback.
    assert b'"appName": "caf\\udce9"' in listed.stdout


def test_a_command_too_long_for_the_simulator_is_refused_plainly(served_unchanged: SimulatedVM, tmp_path: Path) -> None:
    cmdfile = tmp_path / "huge"
    cmdfile.write_bytes(b'vm-operation-notification.register {"appName": "' + b"a" * 10_000_000 + b'"}')
    result = run(served_unchanged, "--cmdfile", str(cmdfile))
    assert result.returncode == 1 and result.stdout == b""
    assert b"too long" in result.stderr and b"Unable to send" not in result.stderr
    assert run(served_unchanged, "--cmd", "vm-operation-notification.list").returncode == 0
    assert_unchanged(served_unchanged)
