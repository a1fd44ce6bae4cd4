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

from handler.protocol import TransportError

WINDOWS_VMTOOLSD = r"C:\Program Files\VMware\VMware Tools\vmtoolsd.exe"


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


def default_vmtoolsd() -> str:
    found = shutil.which("vmtoolsd")
    if found:
        return found
    if sys.platform == "win32" and os.path.exists(WINDOWS_VMTOOLSD):
        return WINDOWS_VMTOOLSD
    return "vmtoolsd"


class VmtoolsdTransport:
    """Run ``vmtoolsd --cmd RPC`` (POSIX) or ``vmtoolsd --cmdfile FILE`` (Windows, avoids quoting problems).

    ``timeout`` bounds one call: a hung vmtoolsd is killed and reported as ``TransportError('hang')``.
    """

    def __init__(self, path: str, timeout: float = 10.0, use_cmdfile: Optional[bool] = None) -> None:
        self.path = path
        self.timeout = timeout
        self.use_cmdfile = sys.platform == "win32" if use_cmdfile is None else use_cmdfile

    def __call__(self, rpc: str) -> Outcome:
        if self.use_cmdfile:
            return self._via_cmdfile(rpc)
        return self._run([self.path, "--cmd", rpc])

    def _via_cmdfile(self, rpc: str) -> Outcome:
        # mkstemp creates the file 0600: the request may carry the token.
        fd, name = tempfile.mkstemp(prefix="vmotion-rpc-", suffix=".txt")
        try:
            with os.fdopen(fd, "w", encoding="utf-8") as fh:
                fh.write(rpc)
            return self._run([self.path, "--cmdfile", name])
        finally:
            with contextlib.suppress(OSError):
                os.unlink(name)

    def _run(self, argv: list[str]) -> Outcome:
        try:
            done = subprocess.run(
                argv,
                stdin=subprocess.DEVNULL,
                capture_output=True,
                timeout=self.timeout,
                check=False,
            )
        except FileNotFoundError as exc:
            raise TransportError("missing", f"vmtoolsd not found at {self.path!r}") from exc
        except subprocess.TimeoutExpired as exc:
            raise TransportError("hang", f"vmtoolsd did not answer within {self.timeout:g} s") from exc
        except OSError as exc:
            raise TransportError("os-error", f"cannot run {self.path!r}: {exc}") from exc
        return Outcome(
            stdout=done.stdout.decode("utf-8", "replace"),
            stderr=done.stderr.decode("utf-8", "replace"),
            exit_code=done.returncode,
        )
