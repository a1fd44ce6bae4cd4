"""The server under many idle connections (issue 10, C4): a connection limit and an idle timeout, so it keeps
answering whoever comes next. Run as a real `vmotion-sim serve` process."""

from __future__ import annotations

import contextlib
import resource
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import Iterator, List

import pytest

from simulator.client import SimulatorClient
from simulator.processes import stop_process

FD_LIMIT = 128  # what the served process may open: a small one, so the attack needs few connections


def _low_fd_limit() -> None:
    resource.setrlimit(resource.RLIMIT_NOFILE, (FD_LIMIT, FD_LIMIT))


@contextlib.contextmanager
def serving(directory: Path, *serve_args: str) -> Iterator[Path]:
    sock = directory / "sim.sock"
    process = subprocess.Popen(
        [sys.executable, "-m", "simulator", "--socket", str(sock), "serve", *serve_args],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, preexec_fn=_low_fd_limit,
    )
    try:
        deadline = time.monotonic() + 20
        while not SimulatorClient(sock).ping():
            assert process.poll() is None and time.monotonic() < deadline, "vmotion-sim serve did not start"
            time.sleep(0.02)
        yield sock
    finally:
        stop_process(process)


def _idle_connections(sock: Path, count: int) -> List[socket.socket]:
    opened = []
    for _ in range(count):
        conn = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        conn.settimeout(2)
        try:
            conn.connect(str(sock))
        except OSError:
            conn.close()
            continue
        opened.append(conn)
    return opened


@pytest.mark.parametrize("serve_args", [(), ("--max-connections", "16")], ids=["default-limit", "limit-16"])
def test_idle_connections_beyond_the_limit_do_not_lock_out_the_next_client(
    tmp_path: Path, serve_args: tuple[str, ...]
) -> None:
    with serving(tmp_path, *serve_args) as sock:
        idle = _idle_connections(sock, 2 * FD_LIMIT)
        try:
            assert SimulatorClient(sock, timeout=10).ping()
            assert SimulatorClient(sock, timeout=10).status()["registrations"] == []
        finally:
            for conn in idle:
                conn.close()


def test_an_idle_connection_is_closed_after_the_idle_timeout(tmp_path: Path) -> None:
    with serving(tmp_path, "--idle-timeout", "0.2") as sock, socket.socket(socket.AF_UNIX) as conn:
        conn.settimeout(30)
        conn.connect(str(sock))
        assert conn.recv(1) == b""  # the server hung up: nothing was ever sent


def test_a_connection_that_is_not_idle_keeps_being_answered(tmp_path: Path) -> None:
    with serving(tmp_path, "--idle-timeout", "5") as sock, socket.socket(socket.AF_UNIX) as conn:
        conn.settimeout(30)
        conn.connect(str(sock))
        reader = conn.makefile("rb")
        for _ in range(3):
            conn.sendall(b'{"op": "ping"}\n')
            assert reader.readline() == b'{"ok": true}\n'
