"""How one RPC string reaches the hypervisor: a callable ``str -> RpcOutcome``.

Anything with ``.stdout``, ``.stderr`` and ``.exit_code`` is an outcome, so the in-process simulator's
``Simulator.call`` is a transport as it is. ``VmtoolsdTransport`` runs the real (or fake) ``vmtoolsd``.
Failures that produce no outcome at all (binary missing, hang) raise ``TransportError``.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import subprocess
import sys
import tempfile
from typing import Callable, NamedTuple, Optional, Protocol

from handler.children import ChildRecord, RecordFile, start_time, stop_tree, wait_gone
from handler.protocol import TransportError, verb_of

WINDOWS_VMTOOLSD = r"C:\Program Files\VMware\VMware Tools\vmtoolsd.exe"
MAX_REPLY = 1 << 20  # a reply is a few hundred bytes; more is not a reply


class RpcOutcome(Protocol):
    @property
    def stdout(self) -> str: ...

    @property
    def stderr(self) -> str: ...

    @property
    def exit_code(self) -> int: ...


Transport = Callable[[str], RpcOutcome]


class Outcome(NamedTuple):
    stdout: str
    stderr: str
    exit_code: int


class RecoveredCall(NamedTuple):
    """The last call of a previous run, as its vmtoolsd left it."""

    verb: str
    outcome: Optional[Outcome]  # None: it was in flight and left no reply


def default_vmtoolsd() -> str:
    found = shutil.which("vmtoolsd")
    if found:
        return found
    if sys.platform == "win32" and os.path.exists(WINDOWS_VMTOOLSD):
        return WINDOWS_VMTOOLSD
    return "vmtoolsd"


def _create_private(path: str) -> int:
    """A new file only its owner can read, whatever was at ``path`` before (a planted file, a symlink)."""
    with contextlib.suppress(FileNotFoundError):
        os.unlink(path)
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_BINARY", 0)
    return os.open(path, flags, 0o600)


def _read(path: str) -> str:
    try:
        with open(path, "rb") as fh:
            return fh.read(MAX_REPLY).decode("utf-8", "replace")
    except OSError:
        return ""


class VmtoolsdTransport:
    """Run ``vmtoolsd --cmdfile FILE``, its output going to files in a private directory.

    The request goes in a file (0600), never on the command line: it carries the token, and any local
    user can read every process's argv. The reply goes to a file the child writes itself, and each call
    is recorded (verb, pid, start time) before it starts, so a reply outlives a handler killed while
    the call was in flight: the next run reads it with ``recover()``. ``spool`` is the path prefix of
    those files (the state file's path, in its 0700 directory); None uses a private temporary directory
    and keeps nothing for a next run (a dry run must not take the real daemon's replies).

    ``timeout`` bounds one call (twice over for a register): a hung vmtoolsd is killed and reported as
    ``TransportError('hang')``.
    """

    def __init__(self, path: str, timeout: float = 10.0, spool: Optional[str] = None) -> None:
        self.path = path
        self.timeout = timeout
        self._tmpdir: Optional[str] = None
        if spool is None:
            self._tmpdir = tempfile.mkdtemp(prefix="vmotion-rpc-")  # 0700
            spool = os.path.join(self._tmpdir, "rpc")
        self._cmd = f"{spool}.rpc-cmd"
        self._out = f"{spool}.rpc-out"
        self._err = f"{spool}.rpc-err"
        self._record = RecordFile(f"{spool}.rpc-call")

    def __call__(self, rpc: str) -> Outcome:
        verb = verb_of(rpc)
        try:
            # Recorded before it starts: a run killed between the spawn and the second record still
            # leaves the files the child writes to, and knows which call it was.
            self._record.write(ChildRecord(kind=verb, pid=None, started=None))
            fd = _create_private(self._cmd)
            with os.fdopen(fd, "w", encoding="utf-8") as fh:
                fh.write(rpc)
            out, err = _create_private(self._out), _create_private(self._err)
        except OSError as exc:
            raise TransportError("os-error", f"cannot write the request file {self._cmd}: {exc}") from exc
        try:
            proc = subprocess.Popen([self.path, "--cmdfile", self._cmd], stdin=subprocess.DEVNULL,
                                    stdout=out, stderr=err)
        except FileNotFoundError as exc:
            raise TransportError("missing", f"vmtoolsd not found at {self.path!r}") from exc
        except OSError as exc:
            raise TransportError("os-error", f"cannot run {self.path!r}: {exc}") from exc
        finally:
            os.close(out)
            os.close(err)
        self._record.write(ChildRecord(kind=verb, pid=proc.pid, started=start_time(proc.pid)))
        # A register is waited for once more: past the limit it may still register, and its reply holds the
        # token's only copy (killed, a registration whose token is lost lasts until the VM reboots).
        limit = 2 * self.timeout if verb == "register" else self.timeout
        try:
            exit_code = proc.wait(timeout=limit)
        except subprocess.TimeoutExpired as exc:
            proc.kill()
            proc.wait()
            raise TransportError("hang", f"vmtoolsd did not answer within {limit:g} s") from exc
        finally:
            with contextlib.suppress(OSError):
                os.unlink(self._cmd)
        # Not fsync'd: the reply only has to outlive this process; a crash of the machine reboots the VM,
        # which ends every registration and operation with it.
        return Outcome(stdout=_read(self._out), stderr=_read(self._err), exit_code=exit_code)

    def recover(self) -> Optional[RecoveredCall]:
        """The previous run's last call: waits for its vmtoolsd if that is still running (up to the call
        timeout, then kills it), and returns what it printed. None if no call was recorded."""
        record = self._record.read()
        if record is None:
            return None
        if record.alive() and not wait_gone(record, self.timeout):
            stop_tree(record, grace=0.0)
        stdout, stderr = _read(self._out), _read(self._err)
        with contextlib.suppress(OSError):
            os.unlink(self._cmd)
        if not stdout.strip() and not stderr.strip():
            return RecoveredCall(record.kind, None)
        # vmtoolsd prints a reply with RPC status "1" on stdout (exit 0), any other on stderr (exit 1).
        return RecoveredCall(record.kind, Outcome(stdout, stderr, 0 if stdout.strip() else 1))

    def close(self) -> None:
        """Forget the last call (a clean stop has nothing for the next run to recover)."""
        for path in (self._cmd, self._out, self._err):
            with contextlib.suppress(OSError):
                os.unlink(path)
        self._record.clear()
        if self._tmpdir is not None:
            shutil.rmtree(self._tmpdir, ignore_errors=True)
