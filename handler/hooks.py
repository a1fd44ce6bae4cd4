"""Quiesce and unquiesce hooks: the application's own commands, run as child processes.

Without ``shell`` the command line is split into argv and run directly, so event data can never be
interpolated into a shell command: it reaches the hook only through environment variables. Each hook
runs in its own process group (POSIX session / Windows process group), so a deadline kills the whole
tree; on Linux a marker in its environment also finds descendants that left the group (``setsid``).
A record of the running hook (pid, start time, marker) lets a restarted handler stop the hook of a run
that was killed (``stop_leftovers``) before it acks or unquiesces anything.
"""

from __future__ import annotations

import contextlib
import os
import shlex
import shutil
import signal
import subprocess
import sys
import threading
import time
from dataclasses import dataclass
from typing import IO, Callable, Mapping, Optional, Protocol

from handler.children import ENV_MARKER, ChildRecord, RecordFile, kill_marked, new_marker, start_time, stop_tree
from handler.defaults import KILL_GRACE


@dataclass(frozen=True)
class HookResult:
    exit_code: Optional[int]  # None when the hook was killed or never started
    killed: bool = False
    error: Optional[str] = None  # why it could not start

    @property
    def ok(self) -> bool:
        return self.exit_code == 0 and not self.killed and self.error is None

    def describe(self) -> str:
        if self.error is not None:
            return f"could not start: {self.error}"
        if self.killed:
            return "killed"
        return f"exit status {self.exit_code}"


class RunningHook(Protocol):
    def wait(self, timeout: float) -> Optional[HookResult]:
        """Block up to ``timeout`` seconds; the result once the hook has exited, else None."""
        ...

    def kill(self) -> HookResult:
        """Kill the hook's whole process group and reap it."""
        ...


class HookRunner(Protocol):
    def start(self, hook: str, command: str, env: Mapping[str, str]) -> RunningHook: ...


class _Finished:
    """A hook that is already over (it could not even start)."""

    def __init__(self, result: HookResult) -> None:
        self._result = result

    def wait(self, timeout: float) -> Optional[HookResult]:
        return self._result

    def kill(self) -> HookResult:
        return self._result


OutputSink = Callable[[str, str], None]  # (hook name, one line of its output)


class _ChildHook:
    def __init__(self, proc: subprocess.Popen[bytes], hook: str, sink: OutputSink, kill_grace: float,
                 marker: str, record: Optional[RecordFile]) -> None:
        self._proc = proc
        self._kill_grace = kill_grace
        self._marker = marker
        self._record = record
        self._reader: Optional[threading.Thread] = None
        # A blocking reap in its own thread: Popen.wait(timeout) polls with sleeps of up to 50 ms, which
        # would delay the ack after a quiesce by that much; an Event wakes the waiter the moment it exits.
        self._exited = threading.Event()
        threading.Thread(target=self._reap, name=f"{hook}-reaper", daemon=True).start()
        if proc.stdout is not None:
            self._reader = threading.Thread(
                target=_pump, args=(proc.stdout, hook, sink), name=f"{hook}-output", daemon=True
            )
            self._reader.start()

    def _reap(self) -> None:
        self._proc.wait()
        if self._record is not None:
            self._record.clear()  # before the waiter learns of it: the next hook writes its own record
        self._exited.set()

    def wait(self, timeout: float) -> Optional[HookResult]:
        if not self._exited.wait(max(0.0, timeout)):
            return None
        self._join_reader()
        return HookResult(exit_code=self._proc.returncode)

    def kill(self) -> HookResult:
        if not self._exited.is_set():
            _signal_group(self._proc, graceful=True)
            self._exited.wait(self._kill_grace)
        # Whatever is left of the group (the leader or its children) goes now, and so does what left it.
        _signal_group(self._proc, graceful=False)
        kill_marked(self._marker)
        self._exited.wait()
        self._join_reader()
        return HookResult(exit_code=None, killed=True)

    def _join_reader(self) -> None:
        # A grandchild may keep the pipe open; the output is best effort, the daemon does not wait on it.
        if self._reader is not None:
            self._reader.join(timeout=1.0)


MAX_LINE_BYTES = 4096  # a longer line is cut, with a marker saying how much
LINES_PER_SECOND = 100.0  # sustained rate of a hook's lines that reach the log
LINE_BURST = 1000  # lines logged at once before the rate applies
READ_CHUNK = 65536


class OutputLimiter:
    """Cuts a hook's output into log lines, bounded in length and in rate (a token bucket); the lines over
    the rate are dropped and counted, and the count is logged. Memory is bounded by one line, and the reader
    never waits on the log for dropped output, so a chatty hook is never slowed down to the log's pace."""

    def __init__(self, hook: str, sink: OutputSink, monotonic: Callable[[], float] = time.monotonic,
                 max_line: int = MAX_LINE_BYTES, rate: float = LINES_PER_SECOND, burst: int = LINE_BURST) -> None:
        self._hook = hook
        self._sink = sink
        self._monotonic = monotonic
        self._max_line = max_line
        self._rate = rate
        self._burst = float(burst)
        self._tokens = float(burst)
        self._last = monotonic()
        self._line = bytearray()
        self._cut = 0  # bytes of the current line past max_line, discarded
        self.dropped = 0  # lines not logged since the last report

    def feed(self, chunk: bytes) -> None:
        self._refill()
        if self._tokens < 1:
            self._drop_fast(chunk)
            return
        start = 0
        while start <= len(chunk):
            end = chunk.find(b"\n", start)
            self._append(chunk[start:] if end < 0 else chunk[start:end])
            if end < 0:
                return
            self._end_line()
            start = end + 1

    def close(self) -> None:
        if self._line or self._cut:
            self._end_line()
        self._report_dropped()

    def _append(self, piece: bytes) -> None:
        room = self._max_line - len(self._line)
        if len(piece) > room:
            self._line += piece[:max(room, 0)]
            self._cut += len(piece) - max(room, 0)
        else:
            self._line += piece

    def _drop_fast(self, chunk: bytes) -> None:
        # Over the rate: count whole lines without splitting them (a 20 MB burst costs a few memchr calls).
        lines = chunk.count(b"\n")
        if lines == 0:
            self._append(chunk)
            return
        self.dropped += lines
        self._line.clear()
        self._cut = 0
        self._append(chunk[chunk.rfind(b"\n") + 1:])

    def _end_line(self) -> None:
        text = self._line.decode("utf-8", "replace").rstrip("\r")
        if self._cut:
            text += f" [... {self._cut} more bytes of this line cut]"
        self._line.clear()
        self._cut = 0
        self._refill()
        if self._tokens < 1:
            self.dropped += 1
            return
        self._tokens -= 1
        self._report_dropped()
        self._sink(self._hook, text)

    def _refill(self) -> None:
        now = self._monotonic()
        self._tokens = min(self._burst, self._tokens + (now - self._last) * self._rate)
        self._last = now

    def _report_dropped(self) -> None:
        if self.dropped:
            self._sink(self._hook, f"[{self.dropped} lines of output dropped: more than {self._rate:g} lines/s]")
            self.dropped = 0


def _pump(stream: IO[bytes], hook: str, sink: OutputSink) -> None:
    limiter = OutputLimiter(hook, sink)
    with stream:
        read = getattr(stream, "read1", stream.read)  # what is there now, not a full buffer
        for chunk in iter(lambda: read(READ_CHUNK), b""):
            limiter.feed(chunk)
    limiter.close()


def _signal_group(proc: subprocess.Popen[bytes], graceful: bool) -> None:
    if sys.platform == "win32":
        if graceful:
            proc.terminate()
        else:
            # TerminateProcess only ends the leader; taskkill /T takes the tree.
            subprocess.run(
                ["taskkill", "/T", "/F", "/PID", str(proc.pid)],
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
                check=False,
            )
        return
    sig = signal.SIGTERM if graceful else signal.SIGKILL
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(proc.pid, sig)  # the hook leads its own session, so its pgid is its pid


class SubprocessHookRunner:
    """Runs hooks as real processes. ``shell=True`` is an explicit opt-in (``--shell``)."""

    def __init__(self, shell: bool = False, kill_grace: float = KILL_GRACE, sink: Optional[OutputSink] = None,
                 record: Optional[str] = None) -> None:
        self.shell = shell
        self.kill_grace = kill_grace
        self.sink: OutputSink = sink or (lambda hook, line: None)
        # Where the running hook is recorded (beside the state file); None: nowhere (a dry run, a test).
        self._record = RecordFile(record) if record is not None else None

    def stop_leftovers(self) -> Optional[str]:
        """Stop the hook a killed run left running (its whole tree); the hook's name if there was one."""
        if self._record is None:
            return None
        found = self._record.read()
        stopped = found is not None and stop_tree(found, self.kill_grace)
        self._record.clear()
        return found.kind if stopped and found is not None else None

    def start(self, hook: str, command: str, env: Mapping[str, str]) -> RunningHook:
        marker = new_marker()
        full_env = dict(os.environ)
        full_env.update(env)
        full_env[ENV_MARKER] = marker
        try:
            args = self._args(command)
        except ValueError as exc:
            return _Finished(HookResult(exit_code=None, error=f"cannot parse command: {exc}"))
        kwargs: dict[str, object] = {}
        if sys.platform == "win32":
            kwargs["creationflags"] = getattr(subprocess, "CREATE_NEW_PROCESS_GROUP", 0)
        else:
            kwargs["start_new_session"] = True
        try:
            proc = subprocess.Popen(
                args,
                shell=self.shell,
                env=full_env,
                stdin=subprocess.DEVNULL,
                stdout=subprocess.PIPE,
                stderr=subprocess.STDOUT,
                **kwargs,  # type: ignore[call-overload]
            )
        except (OSError, ValueError) as exc:  # ValueError: a NUL byte in the command or the environment
            return _Finished(HookResult(exit_code=None, error=str(exc)))
        if self._record is not None:
            # Right after the start: a hook that exits first is reaped (and its record cleared) only after.
            with contextlib.suppress(OSError):  # a full disk must not stop the quiesce
                self._record.write(ChildRecord(kind=hook, pid=proc.pid, started=start_time(proc.pid),
                                               marker=marker, group=True))
        return _ChildHook(proc, hook, self.sink, self.kill_grace, marker, self._record)

    def problem(self, command: str) -> Optional[str]:
        """Why ``command`` could not start, checked before the first event needs it (None: it can start).

        Without the shell the command must split and its program must be an executable file (found on PATH
        if it names no directory); with the shell, the quoting must balance and the shell must exist. What
        the program does with its arguments only running it can tell. Windows hands the line to
        CreateProcess, whose parsing is the program's own: only emptiness is checked there.
        """
        try:
            args = self._args(command)
        except ValueError as exc:
            return f"cannot parse command {command!r}: {exc}"
        if sys.platform == "win32":
            return None
        if self.shell:
            try:
                shlex.split(command)
            except ValueError as exc:
                return f"cannot parse command {command!r}: {exc}"
            program = "/bin/sh"  # what subprocess runs for shell=True
        else:
            assert isinstance(args, list)
            if not args:
                return f"command {command!r} names no program"
            program = args[0]
        found = shutil.which(program)
        if found is None:
            if os.sep in program and os.path.isfile(program):
                return f"{program} is not executable"
            return f"{program}: no such executable file" + ("" if os.sep in program else " on PATH")
        return None

    def _args(self, command: str) -> str | list[str]:
        if not command.strip():
            raise ValueError("empty command")
        if self.shell or sys.platform == "win32":
            # Windows: CreateProcess parses the command line itself; the shell is still only used on opt-in.
            return command
        return shlex.split(command)
