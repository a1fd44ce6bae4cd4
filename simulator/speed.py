"""Production timeouts at speed: a handler process on the simulator's clock, run K times faster.

The simulator reads a :class:`~simulator.clock.ScaledClock`; the handler runs under libfaketime (Debian's
``faketime`` package) with the same rate and the same origin, so both read the same time: a 120-second
notification timeout passes in 120/K seconds of wall time, and ``eventGenTimeInSec`` means to the handler what
it means to the simulator.

Agreement needs one start time for every process of the handler's tree (its hooks, its ``date`` calls, its
vmtoolsd). libfaketime keeps that start in shared memory named by ``FAKETIME_SHARED``; left to itself, it takes
the moment the first process started, which nobody outside knows to the millisecond, and a millisecond is K of
them on the faked clock. So :class:`SharedClock` creates that shared memory itself, with the scaled clock's
origin as the start: the handler's clock is then ``origin + (t - origin) * K``, exactly the simulator's.

Limits: libfaketime works through the dynamic linker, so a statically linked program (no ``PT_INTERP``) and a
Go program (its runtime reads the clock through the vDSO, not libc) keep the real clock: :func:`check_program`
says so instead of letting them run on the wrong time. libfaketime 0.9.10 does not intercept ``sem_clockwait``
and ``pthread_cond_clockwait``, so every timed wait of Python >= 3.9 (Lock, Event, queue) would never end; a
small preloaded shim (``clockwait_shim.c``, built once with the C compiler) converts those deadlines.
"""

from __future__ import annotations

import contextlib
import ctypes
import hashlib
import itertools
import os
import shlex
import shutil
import struct
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from types import TracebackType
from typing import Dict, List, Mapping, Optional, Sequence, Type

from simulator.clock import ScaledClock

LIBFAKETIME_ENV = "VMOTION_LIBFAKETIME"  # path of libfaketime.so.1, when it is not where Debian puts it
LIBFAKETIME_DIRS = (
    "/usr/lib/x86_64-linux-gnu/faketime",
    "/usr/lib/aarch64-linux-gnu/faketime",
    "/usr/lib/faketime",
    "/usr/lib64/faketime",
    "/usr/local/lib/faketime",
)
SHIM_SOURCE = Path(__file__).with_name("clockwait_shim.c")
EXIT_UNAVAILABLE = 4
# Variables that would change how libfaketime reads the spec given here: the caller's own are dropped.
_FOREIGN = ("FAKETIME_DONT_FAKE_MONOTONIC", "FAKETIME_TIMESTAMP_FILE", "FAKETIME_START_AFTER_SECONDS",
            "FAKETIME_STOP_AFTER_SECONDS", "FAKETIME_START_AFTER_NUMCALLS", "FAKETIME_STOP_AFTER_NUMCALLS",
            "FAKETIME_XRESET", "FAKETIME_NO_CACHE", "FAKETIME_CACHE_DURATION", "FAKETIME_DISABLE_SHM")
_names = itertools.count()


class SpeedUnavailable(Exception):
    """Speed cannot work here (no libfaketime, no compiler for the shim) or for this program (static, Go)."""


# ---------------------------------------------------------------------------------------------- what runs


def _resolve(program: str, path: Optional[str]) -> Optional[Path]:
    if os.sep in program:
        return Path(program)
    found = shutil.which(program, path=path)
    return Path(found) if found else None


def _shebang(head: bytes) -> Optional[List[str]]:
    if not head.startswith(b"#!"):
        return None
    line = head[2:].split(b"\n", 1)[0].decode("utf-8", "replace").strip()
    return line.split() or None


def _elf_reason(data: bytes, name: str) -> Optional[str]:
    """Why an ELF executable cannot be sped up through LD_PRELOAD, or None if it can."""
    if len(data) < 64 or data[4] not in (1, 2) or data[5] not in (1, 2):
        return None
    wide, order = data[4] == 2, "<" if data[5] == 1 else ">"
    if wide:
        phoff, = struct.unpack_from(order + "Q", data, 0x20)
        phentsize, phnum = struct.unpack_from(order + "HH", data, 0x36)
    else:
        phoff, = struct.unpack_from(order + "I", data, 0x1C)
        phentsize, phnum = struct.unpack_from(order + "HH", data, 0x2A)
    types = set()
    for i in range(phnum):
        at = phoff + i * phentsize
        if at + 4 > len(data):
            break
        types.add(struct.unpack_from(order + "I", data, at)[0])
    if 3 not in types:  # PT_INTERP: no dynamic linker, so nothing is preloaded
        return f"{name} is statically linked: libfaketime cannot reach its clock"
    if b"\xff Go buildinf:" in data:
        return f"{name} is a Go program: its runtime reads the clock through the vDSO, not libc"
    return None


def program_reason(program: str, path: Optional[str] = None, _depth: int = 0) -> Optional[str]:
    """Why ``program`` (a command's first word) cannot run at speed, or None when it can (or cannot tell).

    A script is judged by its interpreter (``#!/usr/bin/env python3`` is python3 found on ``path``).
    """
    found = _resolve(program, path)
    if found is None or _depth > 4:
        return None
    try:
        with found.open("rb") as f:
            head = f.read(256)
            if head.startswith(b"\x7fELF"):
                return _elf_reason(head + f.read(), found.name)
    except OSError:
        return None
    words = _shebang(head)
    if not words:
        return None
    interpreter, rest = words[0], words[1:]
    if Path(interpreter).name == "env":
        operands = [w for w in rest if not w.startswith("-") and "=" not in w]
        if not operands:
            return None
        interpreter = operands[0]
    reason = program_reason(interpreter, path, _depth + 1)
    return f"{found.name} runs under {interpreter}, and {reason}" if reason else None


def check_program(argv: Sequence[str], env: Optional[Mapping[str, str]] = None) -> None:
    """Raise :class:`SpeedUnavailable` (one line) when the command's program keeps the real clock."""
    if not argv:
        return
    reason = program_reason(argv[0], (env if env is not None else os.environ).get("PATH"))
    if reason:
        raise SpeedUnavailable(f"cannot run at speed: {reason} (run it with --speed 1)")


# ---------------------------------------------------------------------------------------------- the libraries


def unavailable() -> Optional[str]:
    """Why nothing can run at speed on this machine (no libfaketime, no C compiler for the shim), or None."""
    try:
        find_libfaketime()
        clockwait_shim()
    except SpeedUnavailable as why:
        return str(why)
    return None


def find_libfaketime() -> Path:
    given = os.environ.get(LIBFAKETIME_ENV)
    candidates = [Path(given)] if given else [Path(d) / "libfaketime.so.1" for d in LIBFAKETIME_DIRS]
    for candidate in candidates:
        if candidate.is_file():
            return candidate
    raise SpeedUnavailable(
        "libfaketime not found (Debian: apt-get install faketime; elsewhere set "
        f"{LIBFAKETIME_ENV}=/path/to/libfaketime.so.1)"
    )


def _cache_dir() -> Path:
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "vmotion-sim"


def clockwait_shim() -> Path:
    """The shim built from ``clockwait_shim.c``, compiled once per source version into the user's cache."""
    source = SHIM_SOURCE.read_bytes()
    target = _cache_dir() / f"clockwait-{hashlib.sha256(source).hexdigest()[:16]}.so"
    if target.is_file():
        return target
    compiler = shutil.which(os.environ.get("CC", "cc")) or shutil.which("gcc")
    if compiler is None:
        raise SpeedUnavailable("a C compiler is needed once to build the clockwait shim (apt-get install gcc)")
    target.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    with tempfile.TemporaryDirectory(dir=target.parent) as scratch:
        built = Path(scratch) / "shim.so"
        done = subprocess.run(
            [compiler, "-shared", "-fPIC", "-O2", "-o", str(built), str(SHIM_SOURCE), "-ldl"],
            capture_output=True, text=True, stdin=subprocess.DEVNULL,
        )
        if done.returncode != 0:
            last = (done.stderr.strip().splitlines() or ["no output"])[-1]
            raise SpeedUnavailable(f"building the clockwait shim failed: {last}")
        os.replace(built, target)
    return target


# ---------------------------------------------------------------------------------------------- one clock


def _libc() -> ctypes.CDLL:
    libc = ctypes.CDLL(None, use_errno=True)
    libc.sem_open.restype = ctypes.c_void_p
    libc.sem_open.argtypes = [ctypes.c_char_p, ctypes.c_int, ctypes.c_uint, ctypes.c_uint]
    libc.sem_close.argtypes = [ctypes.c_void_p]
    libc.sem_unlink.argtypes = [ctypes.c_char_p]
    return libc


def _timespec(seconds: float) -> bytes:
    whole = int(seconds // 1)
    return struct.pack("qq", whole, min(999_999_999, round((seconds - whole) * 1e9)))


def _starts(origin_wall: float) -> bytes:
    """The start of each clock libfaketime scales, all at the same instant: the wall clock's ``origin_wall``."""
    back = time.time() - origin_wall
    clocks = (time.CLOCK_MONOTONIC, getattr(time, "CLOCK_MONOTONIC_RAW", 4), getattr(time, "CLOCK_BOOTTIME", 7))
    return _timespec(origin_wall) + b"".join(_timespec(time.clock_gettime(c) - back) for c in clocks)


def _layout_0910(origin_wall: float) -> bytes:
    # libfaketime 0.9.10: ticks, file_idx (uint64), then struct timespec real, mon, mon_raw, boot.
    return struct.pack("QQ", 0, 0) + _starts(origin_wall)


def _layout_tagged(origin_wall: float) -> bytes:
    # Later libfaketime: magic "BLTF", version 1, size, then the same fields as fixed-width pairs.
    return struct.pack("IHHQQ", 0x46544C42, 1, 88, 0, 0) + _starts(origin_wall)


_LAYOUTS = {"0.9.10": _layout_0910, "tagged": _layout_tagged}
_working_layout: Dict[str, str] = {}


class SharedClock:
    """libfaketime's shared start time, set to ``clock``'s origin; ``env()`` runs a process on ``clock``.

    Owns a POSIX semaphore and a shared-memory object (both 0600) until :meth:`close`.
    """

    def __init__(
        self, clock: ScaledClock, libfaketime: Optional[Path] = None, *, _layout: Optional[str] = None
    ) -> None:
        if clock.origin_fake != clock.origin_wall:
            raise ValueError("a shared clock starts at the real time (origin_fake == origin_wall)")
        self.clock = clock
        self.libfaketime = libfaketime or find_libfaketime()
        self.shim = clockwait_shim()
        name = f"vmotion-sim-{os.getpid()}-{next(_names)}-{os.urandom(4).hex()}"
        self.sem_name, self.shm_name = f"/{name}.sem", f"/{name}.shm"
        self._libc = _libc()
        layout = _layout or _working_layout.get(str(self.libfaketime)) or self._probe_layout()
        self._create(_LAYOUTS[layout](clock.origin_wall))

    def _create(self, data: bytes) -> None:
        sem = self._libc.sem_open(self.sem_name.encode(), os.O_CREAT | os.O_EXCL, 0o600, 1)
        if not sem:
            raise SpeedUnavailable(f"cannot create the semaphore {self.sem_name}: {os.strerror(ctypes.get_errno())}")
        self._libc.sem_close(ctypes.c_void_p(sem))
        fd = os.open(f"/dev/shm{self.shm_name}", os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o600)
        try:
            os.write(fd, data)
        finally:
            os.close(fd)

    def _probe_layout(self) -> str:
        """Which layout this libfaketime reads: a ``date`` started 1000 s after a shared start at rate 2 must
        show the real time plus 1000 s (unread, it would show the real time)."""
        key = str(self.libfaketime)
        for layout in _LAYOUTS:
            probe = SharedClock(ScaledClock(2.0, time.time() - 1000.0), self.libfaketime, _layout=layout)
            try:
                done = subprocess.run(["date", "+%s"], env=probe.env(), capture_output=True, text=True,
                                      stdin=subprocess.DEVNULL)
            finally:
                probe.close()
            if done.returncode == 0 and done.stdout.strip().isdigit() and int(done.stdout) - time.time() > 900:
                _working_layout[key] = layout
                return layout
        raise SpeedUnavailable(f"{self.libfaketime} did not take a shared start time (tried libfaketime "
                               "0.9.10's layout and the tagged one)")

    def env(self, base: Optional[Mapping[str, str]] = None) -> Dict[str, str]:
        """``base`` (default: this process's environment) with the variables that put a process on the clock."""
        env = {k: v for k, v in (os.environ if base is None else base).items() if k not in _FOREIGN}
        preload = [str(self.shim), str(self.libfaketime)]
        if env.get("LD_PRELOAD"):
            preload.append(env["LD_PRELOAD"])
        env["LD_PRELOAD"] = " ".join(preload)
        env["FAKETIME"] = f"+0 x{self.clock.speed:g}"
        env["FAKETIME_SHARED"] = f"{self.sem_name} {self.shm_name}"
        env["FAKETIME_DONT_RESET"] = "1"
        return env

    def close(self) -> None:
        self._libc.sem_unlink(self.sem_name.encode())
        with contextlib.suppress(FileNotFoundError):
            os.unlink(f"/dev/shm{self.shm_name}")

    def __enter__(self) -> SharedClock:
        return self

    def __exit__(
        self, kind: Optional[Type[BaseException]], value: Optional[BaseException], tb: Optional[TracebackType]
    ) -> None:
        self.close()


def shared_clock_for(description: Mapping[str, float]) -> Optional[SharedClock]:
    """A shared clock for processes started against a simulator whose clock is ``description`` (the control op
    ``clock``: ``speed``, ``origin_wall``); None when it is not sped up."""
    speed = float(description.get("speed", 1.0))
    if speed == 1.0:
        return None
    return SharedClock(ScaledClock(speed, float(description["origin_wall"])))


def write_clock_probe(directory: Path, socket: Path, name: str, seconds: float = 0.0) -> Path:
    """A hook command (``DIR/NAME-clock-probe``) that reports the handler's view of the time, then takes
    ``seconds`` (on the handler's clock).

    It reads the handler's ``time.time()`` just before and just after asking the simulator for its time, and
    records a probe (kind ``probe``, name ``clock``, phase ``name``) with ``handler_time`` (the midpoint),
    ``sim_time`` and ``spread`` (half the round trip): ``handler_time - sim_time`` is the skew of the clocks.
    """
    code = (
        f"import sys, time; sys.path.insert(0, {str(Path(__file__).resolve().parent.parent)!r}); "
        f"from simulator.transport.client import SimulatorClient; c = SimulatorClient({str(socket)!r}); "
        "a = time.time(); s = c.now(); b = time.time(); "
        f"c.record_probe('clock', {name!r}, {{}}, handler_time=(a + b) / 2, sim_time=s, spread=(b - a) / 2)"
    )
    path = Path(directory) / f"{name}-clock-probe"
    path.write_text(f"#!/bin/sh\n{shlex.quote(sys.executable)} -I -c {shlex.quote(code)}\nexec sleep {seconds:g}\n")
    path.chmod(0o755)
    return path
