# The recording wrapper: put it in front of the real vmtoolsd; every call passes through unchanged and is
# appended to a recording (JSON lines) with its tokens replaced by stable placeholders.
#
# This file is deliberately standalone (standard library only, nothing from this project), because
# `vmotion-record install DIR` copies it, compiled, beside a launcher run with `python -I -S`, so a call
# pays for one interpreter start and little else. It therefore imports only modules that are cheap to load
# and avoids `subprocess`, `json` and `re` on the POSIX path (each costs milliseconds at start-up).
#
#   vmtoolsd [--real PATH] [--recording FILE] ARGS...    (wrapper options first; ARGS go to the real one)
#
# Environment: VMOTION_RECORD_REAL (the real vmtoolsd), VMOTION_RECORD_FILE (the recording),
# VMOTION_RECORD_MAX_BYTES (rotate past this size, default 10 MB), VMOTION_RECORD_KEEP (rotated files kept, 3).
# Never does a failure to record change the call: the stdout bytes, stderr bytes and exit status are the
# real vmtoolsd's. The only output of our own is when the real vmtoolsd cannot be found or started: one line
# on stderr and exit status 1, which is what vmtoolsd itself does when it cannot reach the hypervisor.
import sys
import time

WINDOWS = sys.platform == "win32"
if sys.platform == "win32":  # spelled out, so type checkers pick the branch
    import os as _os
else:
    import posix as _os  # the builtin module: os's Python layer alone costs about 1 ms per call to load
PATHSEP = ";" if WINDOWS else ":"
SEP = "\\" if WINDOWS else "/"

REAL_ENV = "VMOTION_RECORD_REAL"
FILE_ENV = "VMOTION_RECORD_FILE"
MAX_BYTES_ENV = "VMOTION_RECORD_MAX_BYTES"
KEEP_ENV = "VMOTION_RECORD_KEEP"
ACTIVE_ENV = "VMOTION_RECORD_ACTIVE"  # set for the real vmtoolsd: a wrapper that finds it set would loop
DEFAULT_MAX_BYTES = 10_000_000
DEFAULT_KEEP = 3
FORMAT_VERSION = 1
WINDOWS_VMTOOLSD = r"C:\Program Files\VMware\VMware Tools\vmtoolsd.exe"
_HEX = frozenset("0123456789abcdefABCDEF")
_TOKEN_SHAPE = (8, 4, 4, 4, 12)


class NoRealVmtoolsd(Exception):
    pass


# ------------------------------------------------------------------------------------------ tokens


def _sha256(data: bytes) -> bytes:
    # The builtin extension is much cheaper to load than hashlib (which loads OpenSSL).
    try:
        from _sha2 import sha256  # type: ignore[import-not-found,unused-ignore]  # Python >= 3.12
    except ImportError:
        try:
            from _sha256 import sha256  # type: ignore[import-not-found,no-redef,unused-ignore]  # Python <= 3.11
        except ImportError:
            from hashlib import sha256
    return bytes(sha256(data).digest())


def keyed_hash(key: bytes, token: str) -> str:
    """HMAC-SHA256 of the token under the recording's key, in hex (RFC 2104, written out to stay cheap)."""
    block = key.ljust(64, b"\0") if len(key) <= 64 else _sha256(key).ljust(64, b"\0")
    inner = _sha256(bytes(b ^ 0x36 for b in block) + token.encode("utf-8"))
    return _sha256(bytes(b ^ 0x5C for b in block) + inner).hex()


def _is_token_at(text: str, start: int) -> bool:
    i = start
    for n, length in enumerate(_TOKEN_SHAPE):
        for ch in text[i : i + length]:
            if ch not in _HEX:
                return False
        if len(text) < i + length:
            return False
        i += length
        if n < 4:
            if i >= len(text) or text[i] != "-":
                return False
            i += 1
    before_ok = start == 0 or not (text[start - 1].isalnum() or text[start - 1] == "_")
    after_ok = i == len(text) or not (text[i].isalnum() or text[i] == "_")
    return before_ok and after_ok


def redact(text: str, key: bytes) -> str:
    """Replace every 8-4-4-4-12 hex string (a uniqueToken's shape) by ``token-<12 hex>``, the same for the same
    token under the same key, so a replay can still tell registrations apart."""
    if "-" not in text:
        return text
    out = []
    i = 0
    pos = text.find("-")
    while pos != -1:
        start = pos - 8
        if start >= i and _is_token_at(text, start):
            out.append(text[i:start])
            out.append("token-" + keyed_hash(key, text[start : start + 36])[:12])
            i = start + 36
            pos = text.find("-", i)
        else:
            pos = text.find("-", pos + 1)
    out.append(text[i:])
    return "".join(out)


def load_key(recording: str) -> bytes:
    """The recording's secret key, ``RECORDING.key`` (0600), created on first use. Rotation keeps it, so a
    token keeps its placeholder across the rotated files."""
    path = recording + ".key"
    try:
        with open(path, "rb") as fh:
            key = fh.read()
        if len(key) >= 32:
            return key
    except FileNotFoundError:
        pass
    # Written whole under another name, then linked into place: a concurrent call never reads half a key.
    tmp = f"{path}.{_os.getpid()}.tmp"
    fd = _os.open(tmp, _os.O_WRONLY | _os.O_CREAT | _os.O_EXCL | getattr(_os, "O_NOFOLLOW", 0), 0o600)
    try:
        _os.write(fd, _os.urandom(32).hex().encode("ascii"))
    finally:
        _os.close(fd)
    try:
        _os.link(tmp, path)
    except FileExistsError:
        pass
    finally:
        _os.unlink(tmp)
    with open(path, "rb") as fh:
        return fh.read()


# ------------------------------------------------------------------------------------------ the record


def _json_string(text: str) -> str:
    try:
        from _json import encode_basestring_ascii
    except ImportError:
        from json.encoder import encode_basestring_ascii
    return str(encode_basestring_ascii(text))


def _json_value(value: object) -> str:
    if isinstance(value, str):
        return _json_string(value)
    if isinstance(value, bool) or value is None:
        return {True: "true", False: "false", None: "null"}[value]
    if isinstance(value, (int, float)):
        return repr(value)
    if isinstance(value, list):
        return "[" + ", ".join(_json_value(v) for v in value) + "]"
    raise TypeError(type(value))


def record_line(fields: "list[tuple[str, object]]") -> bytes:
    return ("{" + ", ".join(_json_string(k) + ": " + _json_value(v) for k, v in fields) + "}\n").encode("ascii")


def request_of(argv: "list[str]") -> "tuple[str, str | None]":
    """(how the RPC came, the RPC string) as vmtoolsd would read it from ARGS: --cmd, --cmd=, --cmdfile."""
    i = 0
    while i < len(argv):
        arg = argv[i]
        if arg == "--cmd" and i + 1 < len(argv):
            return "cmd", argv[i + 1]
        if arg.startswith("--cmd="):
            return "cmd", arg[6:]
        if (arg == "--cmdfile" and i + 1 < len(argv)) or arg.startswith("--cmdfile="):
            path = argv[i + 1] if arg == "--cmdfile" else arg[10:]
            try:
                with open(path, "rb") as fh:
                    # vmtoolsd drops trailing whitespace from the file's content (g_strchomp) [S8].
                    return "cmdfile", fh.read().decode("utf-8", "surrogateescape").rstrip(" \t\n\r\f\v")
            except OSError:
                return "cmdfile", None
        i += 1
    return "other", None


def _rotate(path: str, keep: int) -> None:
    for n in range(keep - 1, 0, -1):
        if _stat(f"{path}.{n}") is not None:
            _os.replace(f"{path}.{n}", f"{path}.{n + 1}")
    if keep >= 1:
        _os.replace(path, f"{path}.1")
    else:
        _os.unlink(path)


def append(path: str, line: bytes, max_bytes: int, keep: int) -> None:
    flags = _os.O_WRONLY | _os.O_APPEND | _os.O_CREAT | getattr(_os, "O_NOFOLLOW", 0) | getattr(_os, "O_BINARY", 0)
    fd = _os.open(path, flags, 0o600)
    try:
        size = _os.fstat(fd).st_size
        if size and size + len(line) > max_bytes:
            _os.close(fd)
            fd = -1
            _rotate(path, keep)
            fd = _os.open(path, flags, 0o600)
        _os.write(fd, line)
    finally:
        if fd >= 0:
            _os.close(fd)


def _int_env(name: str, default: int) -> int:
    try:
        return int(getenv(name) or "")
    except ValueError:
        return default


def write_record(recording: str, argv: "list[str]", started: float, duration: float, stdout: bytes,
                 stderr: bytes, exit_code: int) -> None:
    key = load_key(recording)
    how, request = request_of(argv)

    def text(data: bytes) -> str:
        return redact(data.decode("utf-8", "surrogateescape"), key)

    fields: list[tuple[str, object]] = [
        ("v", FORMAT_VERSION),
        ("time", round(started, 6)),
        ("duration", round(duration, 6)),
        ("via", how),
        ("request", None if request is None else redact(request, key)),
        ("stdout", text(stdout)),
        ("stderr", text(stderr)),
        ("exit_code", exit_code),
    ]
    if how == "other":
        fields.append(("argv", [redact(a, key) for a in argv]))
    append(recording, record_line(fields), _int_env(MAX_BYTES_ENV, DEFAULT_MAX_BYTES), _int_env(KEEP_ENV, DEFAULT_KEEP))


# ------------------------------------------------------------------------------------------ the real vmtoolsd


def getenv(name: str) -> "str | None":
    if sys.platform == "win32":
        return _os.environ.get(name)
    value = _os.environ.get(name.encode())
    return None if value is None else value.decode("utf-8", "surrogateescape")


def _stat(path: str) -> "_os.stat_result | None":
    try:
        return _os.stat(path)
    except (OSError, ValueError):
        return None


def _same_file(a: str, b: str) -> bool:
    sa, sb = _stat(a), _stat(b)
    return sa is not None and sb is not None and (sa.st_dev, sa.st_ino) == (sb.st_dev, sb.st_ino)


def _executable_file(path: str) -> bool:
    st = _stat(path)
    return st is not None and (st.st_mode & 0o170000) == 0o100000 and _os.access(path, 1)  # S_ISREG, X_OK


def find_real(explicit: "str | None", me: str) -> str:
    """--real, else $VMOTION_RECORD_REAL, else the first vmtoolsd on PATH that is not this wrapper."""
    chosen = explicit or getenv(REAL_ENV)
    if chosen:
        if _same_file(chosen, me):
            raise NoRealVmtoolsd(f"{chosen} is this wrapper, not the real vmtoolsd")
        return chosen
    names = ["vmtoolsd"]
    if WINDOWS:
        names = ["vmtoolsd" + ext.lower() for ext in (getenv("PATHEXT") or ".EXE").split(";") if ext]
    for directory in (getenv("PATH") or "").split(PATHSEP):
        for name in names:
            candidate = (directory.rstrip(SEP) or ".") + SEP + name
            if _executable_file(candidate) and not _same_file(candidate, me):
                return candidate
    if WINDOWS and _stat(WINDOWS_VMTOOLSD) is not None:
        return WINDOWS_VMTOOLSD
    raise NoRealVmtoolsd("no vmtoolsd on PATH other than this wrapper (give --real PATH or $" + REAL_ENV + ")")


def _scratch() -> int:
    """An anonymous file for one output stream: a file, not a pipe, so nothing can deadlock on a full pipe."""
    if hasattr(_os, "memfd_create"):
        try:
            return int(_os.memfd_create("vmotion-record", 0))
        except OSError:
            pass
    import tempfile

    fd, name = tempfile.mkstemp(prefix="vmotion-record-")
    _os.unlink(name)
    return fd


def _read_all(fd: int) -> bytes:
    _os.lseek(fd, 0, 0)
    chunks: list[bytes] = []
    while True:
        chunk = _os.read(fd, 1 << 16)
        if not chunk:
            return b"".join(chunks)
        chunks.append(chunk)


def run_real(real: str, args: "list[str]") -> "tuple[bytes, bytes, int]":
    if sys.platform == "win32" or not hasattr(_os, "posix_spawn"):
        import os
        import subprocess

        env = dict(os.environ)
        env[ACTIVE_ENV] = "1"
        done = subprocess.run([real, *args], capture_output=True, env=env, check=False)
        return done.stdout, done.stderr, done.returncode
    child_env = dict(_os.environ)
    child_env[ACTIVE_ENV.encode()] = b"1"
    out, err = _scratch(), _scratch()
    try:
        actions = [(_os.POSIX_SPAWN_DUP2, out, 1), (_os.POSIX_SPAWN_DUP2, err, 2)]
        pid = _os.posix_spawn(real, [real, *args], child_env, file_actions=actions)
        while True:
            try:
                _, status = _os.waitpid(pid, 0)
                break
            except InterruptedError:
                continue
        return _read_all(out), _read_all(err), _os.waitstatus_to_exitcode(status)
    finally:
        _os.close(out)
        _os.close(err)


def _write_fd(fd: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        try:
            n = _os.write(fd, view)
        except OSError:
            return  # the caller closed its end: nothing more to deliver
        view = view[n:]


def _split_options(argv: "list[str]") -> "tuple[str | None, str | None, list[str]]":
    """Our own options only lead the argument list; everything from the first other word is vmtoolsd's."""
    real = recording = None
    i = 0
    while i + 1 < len(argv) and argv[i] in ("--real", "--recording"):
        if argv[i] == "--real":
            real = argv[i + 1]
        else:
            recording = argv[i + 1]
        i += 2
    return real, recording, argv[i:]


def default_recording() -> str:
    home = getenv("USERPROFILE" if WINDOWS else "HOME")
    if not home and not WINDOWS:
        import pwd

        home = pwd.getpwuid(_os.getuid()).pw_dir
    return (home or ".").rstrip(SEP) + SEP + "vmotion-recording.jsonl"


def main(me: "str | None" = None, real: "str | None" = None, recording: "str | None" = None) -> None:
    """Run one vmtoolsd call through the recorder. ``real``/``recording`` are baked in by an installed launcher."""
    me = me or sys.argv[0]
    opt_real, opt_recording, args = _split_options(sys.argv[1:])
    real = opt_real or real
    recording = opt_recording or getenv(FILE_ENV) or recording or default_recording()
    try:
        if getenv(ACTIVE_ENV):
            raise NoRealVmtoolsd("the wrapper called itself; point --real or $" + REAL_ENV + " at the real vmtoolsd")
        real = find_real(real, me)
        started = time.time()
        t0 = time.perf_counter()
        stdout, stderr, exit_code = run_real(real, args)
        duration = time.perf_counter() - t0
    except (NoRealVmtoolsd, OSError) as exc:
        sys.stderr.write(f"vmotion-record: {exc}\n")
        sys.stderr.flush()
        raise SystemExit(1) from None
    _write_fd(1, stdout)
    _write_fd(2, stderr)
    # A failure to record must never change the call (contextlib.suppress would cost an import per call).
    try:  # noqa: SIM105
        write_record(recording, args, started, duration, stdout, stderr, exit_code)
    except Exception:
        pass
    if exit_code < 0:
        exit_code = 128 - exit_code  # killed by a signal: the shell's convention
    sys.exit(exit_code)
