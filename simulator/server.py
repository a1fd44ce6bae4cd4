"""The control server: one simulated VM behind a Unix socket (mode 0600), any number of clients."""

from __future__ import annotations

import contextlib
import os
import socket
import socketserver
import stat
import threading
from pathlib import Path
from types import TracebackType
from typing import Optional, Type, Union

from simulator.control import handle_line, oversize_reply
from simulator.inprocess import Simulator

SOCKET_ENV = "VMOTION_SIM_SOCKET"
MAX_LINE = 1 << 20  # bytes in one request line, newline included


class _Connection(socketserver.StreamRequestHandler):
    server: _UnixServer

    def handle(self) -> None:
        try:
            while True:
                line = self.rfile.readline(MAX_LINE + 1)
                if not line:
                    return
                if len(line) > MAX_LINE:
                    # Refused whole: the rest of the line is read and dropped, never taken for a request.
                    self.wfile.write(oversize_reply(MAX_LINE))
                    self.wfile.flush()
                    while not line.endswith(b"\n"):
                        line = self.rfile.readline(MAX_LINE)
                        if not line:
                            return
                elif line.strip():
                    self.wfile.write(handle_line(self.server.simulator, line))
                    self.wfile.flush()
        except (BrokenPipeError, ConnectionResetError):
            # The client left before its reply (a vmtoolsd killed by its caller's timeout): as on a real
            # host, the request was carried out all the same; there is nobody to tell.
            return


class _UnixServer(socketserver.ThreadingMixIn, socketserver.UnixStreamServer):
    daemon_threads = True
    allow_reuse_address = False

    def __init__(self, path: str, simulator: Simulator) -> None:
        self.simulator = simulator
        super().__init__(path, _Connection)

    def server_bind(self) -> None:
        # Created 0600 from the first instant: the socket carries guest tokens.
        old = os.umask(0o177)
        try:
            super().server_bind()
        finally:
            os.umask(old)


class AlreadyServing(Exception):
    pass


def _clear_stale(path: Path) -> None:
    """Remove a socket file left by a dead server; refuse to steal a live one or to delete anything else."""
    if not path.exists() and not path.is_symlink():
        return
    if not stat.S_ISSOCK(path.lstat().st_mode):
        raise AlreadyServing(f"{path} exists and is not a socket")
    probe = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        probe.connect(str(path))
    except OSError:
        path.unlink()
    else:
        raise AlreadyServing(f"a simulator already serves {path}")
    finally:
        probe.close()


class SimulatorServer:
    """Serve ``simulator`` on ``path``. As a context manager it serves from a background thread."""

    def __init__(self, simulator: Simulator, path: Union[str, Path]) -> None:
        self.simulator = simulator
        self.path = Path(path)
        _clear_stale(self.path)
        self._server = _UnixServer(str(self.path), simulator)
        self._thread: Optional[threading.Thread] = None

    def serve_forever(self) -> None:
        self._server.serve_forever(poll_interval=0.2)

    def start(self) -> SimulatorServer:
        self._thread = threading.Thread(target=self.serve_forever, name="vmotion-sim", daemon=True)
        self._thread.start()
        return self

    def close(self) -> None:
        if self._thread is not None:
            self._server.shutdown()
            self._thread.join()
            self._thread = None
        self._server.server_close()
        with contextlib.suppress(FileNotFoundError):
            self.path.unlink()

    def __enter__(self) -> SimulatorServer:
        return self.start()

    def __exit__(
        self, kind: Optional[Type[BaseException]], value: Optional[BaseException], tb: Optional[TracebackType]
    ) -> None:
        self.close()
