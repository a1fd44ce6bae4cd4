"""S3: the default socket lives in a private directory, and the fake vmtoolsd and the client refuse a socket
served by another user (a local user who bound it first would otherwise receive every RPC and token)."""

from __future__ import annotations

import os
import shutil
import stat
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Dict, Iterator

import pytest

from simulator.inprocess import SimulatorError
from simulator.processes import stop_process
from simulator.transport.client import SimulatorClient
from simulator.transport.shim import write_shims

NOBODY = 65534
LIST = "vm-operation-notification.list"


def _env(**extra: str) -> Dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in ("VMOTION_SIM_SOCKET", "XDG_RUNTIME_DIR", "TMPDIR")}
    env.update(extra)
    return env


def _sim(env: Dict[str, str], *argv: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "simulator", *argv], capture_output=True, text=True, env=env,
                          timeout=30)


@pytest.mark.parametrize("where", ["XDG_RUNTIME_DIR", "TMPDIR"])
def test_the_default_socket_is_in_a_private_directory(tmp_path: Path, where: str) -> None:
    env = _env(**{where: str(tmp_path)})
    server = subprocess.Popen([sys.executable, "-m", "simulator", "serve", "--clock", "manual"], env=env,
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        assert server.stdout is not None
        line = server.stdout.readline()
        directory = tmp_path / ("vmotion-sim" if where == "XDG_RUNTIME_DIR" else f"vmotion-sim-{os.getuid()}")
        assert f"serving on {directory / 'sim.sock'}" in line
        assert stat.S_IMODE(directory.stat().st_mode) == 0o700
        assert _sim(env, "status").returncode == 0  # the client finds the same default
    finally:
        stop_process(server)


def test_a_default_directory_others_can_enter_is_refused(tmp_path: Path) -> None:
    directory = tmp_path / "vmotion-sim"
    directory.mkdir(mode=0o777)
    directory.chmod(0o777)
    done = _sim(_env(XDG_RUNTIME_DIR=str(tmp_path)), "serve")
    assert done.returncode == 1
    assert "group or others" in done.stderr and "Traceback" not in done.stderr


# ---------------------------------------------------------------- a squatter: another user serving the socket

_SQUATTER = r"""
import socket, sys
server = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
server.bind(sys.argv[1])
server.listen(16)
print("ready", flush=True)
while True:
    conn, _ = server.accept()
    conn.settimeout(2)
    try:
        data = conn.recv(65536)
    except OSError:
        data = b""
    with open(sys.argv[2], "ab") as log:
        log.write(data)
    try:
        conn.sendall(b'{"ok": true, "exit_code": 0, "stdout": "answered by a squatter\\n", "stderr": ""}\n')
    except OSError:
        pass
    conn.close()
"""


@pytest.fixture
def squatter() -> Iterator[Path]:
    python = "/usr/bin/python3"  # one that another user may run (a venv under /root is closed to nobody)
    if os.getuid() != 0 or not os.access(python, os.X_OK):
        pytest.skip("needs root and /usr/bin/python3 to run a server as another user")
    directory = Path(tempfile.mkdtemp(prefix="vmotion-squat-"))
    directory.chmod(0o755)
    os.chown(directory, NOBODY, NOBODY)
    sock, received = directory / "sim.sock", directory / "received"
    process = subprocess.Popen(
        [python, "-I", "-c", _SQUATTER, str(sock), str(received)],
        stdout=subprocess.PIPE, preexec_fn=lambda: (os.setgid(NOBODY), os.setuid(NOBODY)),  # type: ignore[func-returns-value]
    )
    try:
        assert process.stdout is not None and process.stdout.readline() == b"ready\n"
        os.chmod(sock, 0o777)  # as inviting as a squatter makes it
        yield sock
    finally:
        stop_process(process)
        assert not received.exists() or received.read_bytes() == b"", "a request reached the squatter"
        shutil.rmtree(directory, ignore_errors=True)


def test_the_fake_vmtoolsd_refuses_a_socket_served_by_another_user(squatter: Path, tmp_path: Path) -> None:
    bin_dir = tmp_path / "bin"
    write_shims(bin_dir, squatter)
    done = subprocess.run([str(bin_dir / "vmtoolsd"), "--cmd", LIST], capture_output=True, text=True,
                          env=_env(), timeout=30)
    assert done.returncode == 1 and done.stdout == ""
    assert f"uid {NOBODY}" in done.stderr and "Traceback" not in done.stderr


def test_the_client_refuses_a_socket_served_by_another_user(squatter: Path) -> None:
    with pytest.raises(SimulatorError, match=f"uid {NOBODY}"):
        SimulatorClient(squatter).call(LIST)
    done = _sim(_env(), "--socket", str(squatter), "call", LIST)
    assert done.returncode != 0 and f"uid {NOBODY}" in done.stderr


def test_servers_started_at_once_in_threads_leave_the_process_umask_alone(tmp_path: Path) -> None:
    # The socket must be 0600 before anyone can connect. Setting the umask around bind() did that, but the umask
    # belongs to the whole process: two servers binding at once could leave it at 0177 for good, and every
    # directory the process made from then on was unusable (seen as a worker's later tests failing at random).
    import threading

    from simulator import ManualClock, Simulator
    from simulator.transport.server import SimulatorServer

    before = os.umask(0o022)
    servers: list[SimulatorServer] = []
    lock = threading.Lock()

    def serve(n: int) -> None:
        server = SimulatorServer(Simulator(ManualClock()), tmp_path / f"s{n}.sock")
        with lock:
            servers.append(server)

    try:
        for _ in range(5):
            threads = [threading.Thread(target=serve, args=(n,)) for n in range(40)]
            for t in threads:
                t.start()
            for t in threads:
                t.join()
            assert os.umask(0o022) == 0o022
            assert all(stat.S_IMODE(s.path.stat().st_mode) == 0o600 for s in servers)
            for s in servers:
                s.close()
            servers.clear()
    finally:
        os.umask(before)
