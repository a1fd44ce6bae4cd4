# The fake `vmtoolsd` (and `vmware-rpctool`): a drop-in for the real executables, talking to `vmotion-sim serve`.
#
# `vmotion-sim shim DIR` copies this module into DIR (compiled, so no call pays for compiling it) and writes
# two tiny launchers, `vmtoolsd` and `vmware-rpctool`, run with -I -S, that import it and call main(). It
# imports nothing beyond built-in modules (no json, no socket package), so a call costs about what starting
# the interpreter costs. Behaviour follows open-vm-tools [S8]:
#   vmtoolsd --cmd STRING | --cmd=STRING | --cmdfile FILE   (file content, trailing whitespace removed)
#   vmware-rpctool STRING
# A reply with RPC status "1" goes to stdout with exit 0; any other to stderr with exit 1; no hypervisor
# (here: no simulator on the socket) gives "Unable to send command to VMware hypervisor." and exit 1. A usage
# error (no command, --cmd without a value, an option it does not simulate) is one line on stderr, exit 1.
import _socket
import posix
import sys
import time

UNABLE = "Unable to send command to VMware hypervisor."
# Usage errors exit 1, as the README promises: what the real vmtoolsd does with them is not known here.
ONLY = "only --cmd STRING and --cmdfile FILE are simulated"
FAKE = "vmtoolsd (vmotion-sim fake): "
# The simulator refuses a request line over 1 MiB (simulator/transport/server.py MAX_LINE); what a real vmtoolsd
# does with a command that large is unknown, so the fake says plainly that it is too long instead of pretending.
MAX_REQUEST = 1 << 20
# A burst of calls can fill the server's accept queue for a moment: wait for room, up to this long.
CONNECT_SECONDS = 30.0


def fail(message: str, code: int = 1) -> SystemExit:
    sys.stderr.write(message + "\n")
    sys.stderr.flush()
    return SystemExit(code)


def json_string(text: str) -> str:
    out = ['"']
    for ch in text:
        o = ord(ch)
        if ch == '"' or ch == "\\":
            out.append("\\" + ch)
        elif o < 0x20 or o > 0x7E:
            if o > 0xFFFF:
                o -= 0x10000
                out.append(f"\\u{0xD800 + (o >> 10):04x}\\u{0xDC00 + (o & 0x3FF):04x}")
            else:
                out.append(f"\\u{o:04x}")
        else:
            out.append(ch)
    out.append('"')
    return "".join(out)


def read_string(text: str, key: str) -> str:
    # The server writes ASCII-only JSON, so a JSON string body is exactly a unicode_escape body
    # (json never writes the one escape that differs, "\/").
    start = text.index('"' + key + '": "') + len(key) + 5
    end = start
    while text[end] != '"':
        end += 2 if text[end] == "\\" else 1
    body = text[start:end].encode("ascii").decode("unicode_escape")
    # Joins the surrogate pairs json writes for characters beyond U+FFFF; a lone one (a byte that was not
    # UTF-8 on the way in) stays as it is, for write_bytes to give back.
    return body.encode("utf-16-le", "surrogatepass").decode("utf-16-le", "surrogatepass")


def write_bytes(stream: "object", text: str) -> None:
    # vmtoolsd passes bytes through: bytes that were not UTF-8 on the way in come back out unchanged.
    try:
        data = text.encode("utf-8", "surrogateescape")
    except UnicodeEncodeError:
        data = text.encode("utf-8", "replace")
    stream.buffer.write(data)  # type: ignore[attr-defined]
    stream.flush()  # type: ignore[attr-defined]


def command_from_argv(program: str, argv: "list[str]") -> "tuple[str, str]":
    """The command, and how it came: ``argv`` (readable by any local user in /proc) or ``file``."""
    if program == "vmware-rpctool":
        if len(argv) != 1:
            raise fail("Usage: vmware-rpctool <rpc string>")
        return argv[0], "argv"
    i = 0
    while i < len(argv):
        arg = argv[i]
        if arg in ("--cmd", "--cmdfile") and i + 1 == len(argv):
            raise fail(f"vmtoolsd (vmotion-sim fake): {arg} needs a value")
        if arg == "--cmd":
            return argv[i + 1], "argv"
        if arg.startswith("--cmd="):
            return arg[6:], "argv"
        if (arg == "--cmdfile" and i + 1 < len(argv)) or arg.startswith("--cmdfile="):
            path = argv[i + 1] if arg == "--cmdfile" else arg[10:]
            try:
                with open(path, "rb") as f:
                    data = f.read(MAX_REQUEST + 1)  # bounded: more than this is refused below anyway
                return data.decode("utf-8", "surrogateescape").rstrip(" \t\n\r\f\v"), "file"
            except OSError:
                raise fail(f"Unable to read command from file {path}.") from None
        if arg.startswith("-"):
            raise fail(f"vmtoolsd (vmotion-sim fake): unknown option {arg}; {ONLY}")
        i += 1
    raise fail(f"vmtoolsd (vmotion-sim fake): {ONLY}")


def connect(path: str) -> "_socket.socket":
    conn = _socket.socket(_socket.AF_UNIX, _socket.SOCK_STREAM)
    conn.settimeout(300.0)
    deadline = time.monotonic() + CONNECT_SECONDS
    pause = 0.001
    while True:
        try:
            conn.connect(path)
            return conn
        except BlockingIOError:  # EAGAIN: the accept queue is full for now, not "no hypervisor"
            if time.monotonic() > deadline:
                raise
            time.sleep(pause)
            pause = min(pause * 2, 0.05)


def check_peer(conn: "_socket.socket", path: str) -> None:
    # Whoever binds the socket first receives every RPC and token: refuse a server run by another user (root
    # excepted). SO_PEERCRED is Linux's; elsewhere the socket's private directory is the protection.
    peercred = getattr(_socket, "SO_PEERCRED", None)
    if peercred is None:
        return
    cred = conn.getsockopt(_socket.SOL_SOCKET, peercred, 12)  # struct ucred: pid, uid, gid
    uid = int.from_bytes(cred[4:8], sys.byteorder)
    if uid not in (posix.getuid(), 0):
        conn.close()
        raise fail(f"{FAKE}the socket {path} is served by uid {uid}, not by you: refusing to send the command")


def main(program: str, socket_path: str) -> None:
    command, via = command_from_argv(program, sys.argv[1:])
    path = posix.environ.get(b"VMOTION_SIM_SOCKET", socket_path.encode()).decode("utf-8", "surrogateescape")
    request = ('{"op": "rpc", "command": ' + json_string(command) + ', "via": "' + via + '"}\n').encode("ascii")
    if len(request) > MAX_REQUEST:
        raise fail(f"{FAKE}the command is too long for the simulator ({len(request)} bytes encoded; at most "
                   f"{MAX_REQUEST})")
    try:
        conn = connect(path)
        check_peer(conn, path)
        conn.sendall(request)
        chunks = []
        while True:
            chunk = conn.recv(65536)
            if not chunk:
                break
            chunks.append(chunk)
            if chunk.endswith(b"\n"):
                break
        conn.close()
    except OSError:
        raise fail(UNABLE) from None
    reply = b"".join(chunks).decode("ascii", "replace")
    if not reply.startswith('{"ok": true'):
        raise fail(UNABLE) from None
    exit_code = int(reply[reply.index('"exit_code": ') + 13 :].split(",", 1)[0])
    stdout = read_string(reply, "stdout")
    stderr = read_string(reply, "stderr")
    if stdout:
        write_bytes(sys.stdout, stdout)
    if stderr:
        write_bytes(sys.stderr, stderr)
    sys.exit(exit_code)
