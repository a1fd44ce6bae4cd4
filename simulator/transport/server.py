"""The control server: one simulated VM behind a Unix socket (mode 0600), any number of clients."""

from __future__ import annotations

import contextlib
import os
import resource
import selectors
import socket
import socketserver
import stat
import tempfile
import threading
import time
from pathlib import Path
from types import TracebackType
from typing import Any, Dict, Optional, Type, Union

from simulator.inprocess import Simulator
from simulator.transport.control import busy_reply, handle_line, oversize_reply

SOCKET_ENV = "VMOTION_SIM_SOCKET"
MAX_LINE = 1 << 20  # bytes in one request line, newline included


# Server knobs, not protocol: how many clients at once, and how long one may sit without sending a request.
DEFAULT_MAX_CONNECTIONS = 512
DEFAULT_IDLE_TIMEOUT = 60.0
# The kernel's queue of connections not yet accepted: a burst of vmtoolsd calls (hundreds of handlers under one
# harness) waits there instead of being refused. Linux caps it at net.core.somaxconn.
LISTEN_BACKLOG = 4096
# File descriptors kept free for everything else the server opens (the listening socket, logs, pipes).
_SPARE_FDS = 32


class _Connection(socketserver.StreamRequestHandler):
    server: _UnixServer

    def setup(self) -> None:
        super().setup()
        self.connection.settimeout(self.server.idle_timeout)

    def handle(self) -> None:
        try:
            while True:
                self.server.idle(self.connection)
                line = self.rfile.readline(MAX_LINE + 1)
                self.server.busy(self.connection)
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
        except (socket.timeout, OSError):
            # Idle past the idle timeout, or closed to make room for a newer client: the request in flight,
            # if any, was carried out; this connection just ends.
            return

    def finish(self) -> None:
        self.server.gone(self.connection)
        with contextlib.suppress(OSError):
            super().finish()


class _UnixServer(socketserver.ThreadingMixIn, socketserver.UnixStreamServer):
    daemon_threads = True
    allow_reuse_address = False
    request_queue_size = LISTEN_BACKLOG

    def __init__(self, path: str, simulator: Simulator, max_connections: int, idle_timeout: float) -> None:
        self.simulator = simulator
        self.idle_timeout = idle_timeout
        # Never more connections than file descriptors: past that, accept() fails and the loop spins.
        soft, _ = resource.getrlimit(resource.RLIMIT_NOFILE)
        fd_room = max_connections if soft == resource.RLIM_INFINITY else max(1, soft - _SPARE_FDS)
        self.max_connections = max(1, min(max_connections, fd_room))
        # Each open connection, with the monotonic time it went idle (None while a request is being handled).
        self._open: Dict[socket.socket, Optional[float]] = {}
        self._open_lock = threading.Lock()
        # stop() wakes the loop through this pipe: socketserver's own loop sees a shutdown only at its next
        # poll, which every close of an in-process server (thousands in the tests) would sit out.
        self._stop = threading.Event()
        self._wake_r, self._wake_w = os.pipe()
        super().__init__(path, _Connection)

    def serve_until_stopped(self) -> None:
        with selectors.DefaultSelector() as selector:
            selector.register(self, selectors.EVENT_READ)
            selector.register(self._wake_r, selectors.EVENT_READ)
            while not self._stop.is_set():
                ready = selector.select()
                if self._stop.is_set():
                    break
                if any(key.fileobj is self for key, _ in ready):
                    self.handle_request()  # ready: its own select returns at once
                self.service_actions()

    def stop(self) -> None:
        self._stop.set()
        os.write(self._wake_w, b"x")

    def server_close(self) -> None:
        super().server_close()
        for fd in (self._wake_r, self._wake_w):
            with contextlib.suppress(OSError):
                os.close(fd)

    def idle(self, conn: socket.socket) -> None:
        with self._open_lock:
            if conn in self._open:
                self._open[conn] = time.monotonic()

    def busy(self, conn: socket.socket) -> None:
        with self._open_lock:
            if conn in self._open:
                self._open[conn] = None

    def gone(self, conn: socket.socket) -> None:
        with self._open_lock:
            self._open.pop(conn, None)

    def process_request(self, request: Any, client_address: Any) -> None:
        with self._open_lock:
            if len(self._open) >= self.max_connections and not self._evict_longest_idle():
                refused = True
            else:
                refused = False
                self._open[request] = time.monotonic()
        if refused:  # every connection is in the middle of a request: this one must come back later
            with contextlib.suppress(OSError):
                request.sendall(busy_reply(self.max_connections))
            self.shutdown_request(request)
            return
        super().process_request(request, client_address)

    def _evict_longest_idle(self) -> bool:
        """Make room by closing the connection idle the longest; False if none is idle. Holds _open_lock."""
        idle = [(since, conn) for conn, since in self._open.items() if since is not None]
        if not idle:
            return False
        _, victim = min(idle, key=lambda item: item[0])
        del self._open[victim]
        with contextlib.suppress(OSError):
            victim.shutdown(socket.SHUT_RDWR)  # its reader sees end of file; its own thread closes it
        return True

    def server_bind(self) -> None:
        # 0600 before anyone can connect (the socket carries guest tokens): socketserver calls listen() only
        # after this, and a bound socket that is not listening refuses every connection. Not by the umask: it
        # belongs to the whole process, and two servers binding at once in threads could leave it at 0177.
        super().server_bind()
        os.chmod(self.socket.getsockname(), 0o600)


class AlreadyServing(Exception):
    pass


class UnsafeSocketDirectory(Exception):
    """The default socket's directory exists but is not private to us: someone else could swap the socket."""


def default_socket_path() -> Path:
    """``$XDG_RUNTIME_DIR/vmotion-sim/sim.sock``, else ``<tmp>/vmotion-sim-<uid>/sim.sock``: a private directory,
    never a name in a shared one that any local user could bind first."""
    runtime = os.environ.get("XDG_RUNTIME_DIR")
    if runtime:
        return Path(runtime) / "vmotion-sim" / "sim.sock"
    return Path(tempfile.gettempdir()) / f"vmotion-sim-{os.getuid()}" / "sim.sock"


def make_private_directory(directory: Path) -> None:
    """Create ``directory`` 0700, or accept an existing one only if it is a directory of ours closed to others."""
    with contextlib.suppress(FileExistsError):
        directory.mkdir(mode=0o700)
    info = os.lstat(directory)
    if not stat.S_ISDIR(info.st_mode):
        raise UnsafeSocketDirectory(f"{directory} is not a directory (a symlink?)")
    if info.st_uid != os.getuid():
        raise UnsafeSocketDirectory(f"{directory} belongs to uid {info.st_uid}, not to you")
    if info.st_mode & 0o077:
        raise UnsafeSocketDirectory(
            f"{directory} is open to group or others (mode {stat.S_IMODE(info.st_mode):o}); make it 0700"
        )


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

    def __init__(
        self,
        simulator: Simulator,
        path: Union[str, Path],
        *,
        max_connections: int = DEFAULT_MAX_CONNECTIONS,
        idle_timeout: float = DEFAULT_IDLE_TIMEOUT,
    ) -> None:
        if max_connections < 1:
            raise ValueError("max_connections must be at least 1")
        if not idle_timeout > 0:
            raise ValueError("idle_timeout must be a number of seconds > 0")
        self.simulator = simulator
        self.path = Path(path)
        _clear_stale(self.path)
        self._server = _UnixServer(str(self.path), simulator, max_connections, idle_timeout)
        self._thread: Optional[threading.Thread] = None

    def serve_forever(self) -> None:
        self._server.serve_until_stopped()

    def start(self) -> SimulatorServer:
        self._thread = threading.Thread(target=self.serve_forever, name="vmotion-sim", daemon=True)
        self._thread.start()
        return self

    def close(self) -> None:
        if self._thread is not None:
            self._server.stop()
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
