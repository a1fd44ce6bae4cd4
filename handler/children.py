"""The handler's children that can outlive it: a record of each (pid, start time, marker), and how a
restarted handler tells whether that very process is still running, waits for it or stops its whole tree.

A SIGKILL of the handler leaves its children running: a vmtoolsd call in flight, a hook (which leads its
own session). A record written when the child starts lets the next run find it; the start time makes a
reused pid harmless, and a marker in the child's environment (inherited by its whole tree, through
``setsid`` too) finds descendants that left its process group. Only Linux can enumerate those (/proc);
what cannot be tracked without a service manager's cgroup is said in the README.
"""

from __future__ import annotations

import contextlib
import json
import os
import secrets
import signal
import subprocess
import sys
import time
from dataclasses import dataclass
from typing import Any, Dict, Optional, Set

from handler.atomic import write_atomically

ENV_MARKER = "VMOTION_HANDLER_CHILD"  # value: the child's marker; inherited by the whole tree
_POLL = 0.02


def new_marker() -> str:
    return secrets.token_hex(8)


def start_time(pid: int) -> Optional[str]:
    """An opaque start time of process ``pid`` (None if it is gone or the platform cannot tell)."""
    if sys.platform == "win32":
        return _windows_start_time(pid)
    try:
        with open(f"/proc/{pid}/stat", "rb") as fh:
            stat = fh.read().decode("ascii", "replace")
    except OSError:
        return None
    fields = stat[stat.rfind(")") + 2 :].split()
    # fields[0] is the state (field 3 of proc(5)); starttime is field 22. A zombie has finished.
    if len(fields) < 20 or fields[0] == "Z":
        return None
    return fields[19]


def _windows_start_time(pid: int) -> Optional[str]:  # pragma: no cover - Windows only
    import ctypes
    from ctypes import wintypes

    kernel32 = ctypes.WinDLL("kernel32", use_last_error=True)  # type: ignore[attr-defined]
    handle = kernel32.OpenProcess(0x1000, False, pid)  # PROCESS_QUERY_LIMITED_INFORMATION
    if not handle:
        return None
    try:
        code = wintypes.DWORD()
        if not kernel32.GetExitCodeProcess(handle, ctypes.byref(code)) or code.value != 259:  # STILL_ACTIVE
            return None
        times = [wintypes.FILETIME() for _ in range(4)]
        if not kernel32.GetProcessTimes(handle, *(ctypes.byref(t) for t in times)):
            return None
        return f"{times[0].dwHighDateTime}:{times[0].dwLowDateTime}"
    finally:
        kernel32.CloseHandle(handle)


@dataclass(frozen=True)
class ChildRecord:
    kind: str  # what it is: an RPC verb, or a hook name
    pid: Optional[int]  # None: recorded before it was started
    started: Optional[str]  # start_time(pid) when it started
    marker: str = ""  # empty: nothing below it is tracked
    group: bool = False  # it leads its own process group (a hook)
    detail: Optional[Dict[str, Any]] = None

    def alive(self) -> bool:
        """Is the recorded process itself still running (not another one that got its pid)?"""
        if self.pid is None:
            return False
        now = start_time(self.pid)
        if now is not None:
            return self.started is None or now == self.started
        if sys.platform == "win32" or os.path.isdir("/proc"):
            return False
        return _posix_exists(self.pid)  # no way to read a start time here: the pid alone must do

    def to_json(self) -> Dict[str, Any]:
        return {"kind": self.kind, "pid": self.pid, "started": self.started, "marker": self.marker,
                "group": self.group, "detail": self.detail}

    @classmethod
    def from_json(cls, obj: Any) -> Optional[ChildRecord]:
        if not isinstance(obj, dict):
            return None
        pid, started, marker = obj.get("pid"), obj.get("started"), obj.get("marker")
        if pid is not None and (isinstance(pid, bool) or not isinstance(pid, int) or pid <= 0):
            return None
        if not isinstance(marker, str) or (started is not None and not isinstance(started, str)):
            return None
        detail = obj.get("detail")
        return cls(kind=str(obj.get("kind", "")), pid=pid, started=started, marker=marker,
                   group=bool(obj.get("group")), detail=detail if isinstance(detail, dict) else None)


def _posix_exists(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


class RecordFile:
    """One child record on disk, beside the state file (same private directory, mode 0600).

    Not fsync'd: it only has to survive the handler's death, not the machine's (a VM reboot ends the
    children and the registration with it).
    """

    def __init__(self, path: str) -> None:
        self.path = path

    def write(self, record: ChildRecord) -> None:
        write_atomically(self.path, json.dumps(record.to_json()) + "\n", mode=0o600, durable=False, dir_mode=0o700)

    def read(self) -> Optional[ChildRecord]:
        try:
            with open(self.path, encoding="utf-8") as fh:
                return ChildRecord.from_json(json.loads(fh.read(65536)))
        except (OSError, ValueError):
            return None

    def clear(self) -> None:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(self.path)


def marked(marker: str) -> Set[int]:
    """Pids of live processes whose environment carries ``marker`` (Linux; elsewhere an empty set).

    The initial environment is what /proc shows, so a descendant that was started with a scrubbed
    environment (``env -i``) is not found: only a cgroup (systemd's KillMode) holds on to that one.
    """
    found: Set[int] = set()
    if sys.platform == "win32" or not os.path.isdir("/proc"):
        return found
    needle = f"{ENV_MARKER}={marker}".encode()
    me = os.getpid()
    for name in os.listdir("/proc"):
        if not name.isdigit() or int(name) == me:
            continue
        try:
            with open(f"/proc/{name}/environ", "rb") as fh:
                env = fh.read()
        except OSError:
            continue
        if needle in env.split(b"\0") and start_time(int(name)) is not None:
            found.add(int(name))
    return found


def _signal_all(record: ChildRecord, pids: Set[int], sig: int) -> None:
    if record.group and record.pid is not None and record.alive():
        with contextlib.suppress(OSError):
            os.killpg(record.pid, sig)
    for pid in pids:
        with contextlib.suppress(OSError):
            os.kill(pid, sig)


def _tree(record: ChildRecord) -> Set[int]:
    pids = marked(record.marker) if record.marker else set()
    if record.alive() and record.pid is not None:
        pids.add(record.pid)
    return pids


def _identities(pids: Set[int]) -> Dict[int, str]:
    """pid: start time, of those still running (a pid alone may be reused once its process is gone)."""
    known: Dict[int, str] = {}
    for pid in pids:
        started = start_time(pid)
        if started is not None:
            known[pid] = started
    return known


def _still_running(known: Dict[int, str]) -> Set[int]:
    """Which of these processes (pid and start time) have not finished. A dying process's environment
    reads empty before it turns zombie, so a scan for the marker alone could call it gone too early."""
    return {pid for pid, started in known.items() if start_time(pid) == started}


def wait_gone(record: ChildRecord, timeout: float, known: Optional[Dict[int, str]] = None) -> bool:
    """Wait up to ``timeout`` seconds for the recorded process, its marked tree and the ``known`` processes
    (pid: start time) to end."""
    deadline = time.monotonic() + timeout
    while _tree(record) or _still_running(known or {}):
        if time.monotonic() >= deadline:
            return False
        time.sleep(_POLL)
    return True


def stop_tree(record: ChildRecord, grace: float) -> bool:
    """SIGTERM the recorded process, its group and every marked descendant; SIGKILL what is left after
    ``grace`` seconds; wait until all are gone. True if there was anything to stop."""
    if sys.platform == "win32":  # pragma: no cover - Windows only
        if record.pid is None or not record.alive():
            return False
        subprocess.run(["taskkill", "/T", "/F", "/PID", str(record.pid)], stdout=subprocess.DEVNULL,
                       stderr=subprocess.DEVNULL, check=False)
        return True
    pids = _tree(record)
    if not pids:
        return False
    known = _identities(pids)
    _signal_all(record, pids, signal.SIGTERM)
    if not wait_gone(record, grace, known):
        left = _tree(record) | _still_running(known)
        known.update(_identities(left))
        _signal_all(record, left, signal.SIGKILL)
        wait_gone(record, 5.0, known)
    return True


def kill_marked(marker: str, timeout: float = 2.0) -> Set[int]:
    """SIGKILL every live process carrying ``marker`` (what a setsid took out of a killed group) and wait
    up to ``timeout`` seconds for them to be gone."""
    pids = marked(marker)
    known = _identities(pids)
    for pid in pids:
        with contextlib.suppress(OSError):
            os.kill(pid, signal.SIGKILL)
    deadline = time.monotonic() + timeout
    while pids and (marked(marker) or _still_running(known)) and time.monotonic() < deadline:
        time.sleep(_POLL)
    return pids
