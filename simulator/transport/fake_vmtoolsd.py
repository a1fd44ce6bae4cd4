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

UNABLE = "Unable to send command to VMware hypervisor."
# Usage errors exit 1, as the README promises: what the real vmtoolsd does with them is not known here.
ONLY = "only --cmd STRING and --cmdfile FILE are simulated"


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
    return body.encode("utf-16", "surrogatepass").decode("utf-16")


def command_from_argv(program: str, argv: "list[str]") -> str:
    if program == "vmware-rpctool":
        if len(argv) != 1:
            raise fail("Usage: vmware-rpctool <rpc string>")
        return argv[0]
    i = 0
    while i < len(argv):
        arg = argv[i]
        if arg in ("--cmd", "--cmdfile") and i + 1 == len(argv):
            raise fail(f"vmtoolsd (vmotion-sim fake): {arg} needs a value")
        if arg == "--cmd":
            return argv[i + 1]
        if arg.startswith("--cmd="):
            return arg[6:]
        if (arg == "--cmdfile" and i + 1 < len(argv)) or arg.startswith("--cmdfile="):
            path = argv[i + 1] if arg == "--cmdfile" else arg[10:]
            try:
                with open(path, "rb") as f:
                    return f.read().decode("utf-8", "replace").rstrip(" \t\n\r\f\v")
            except OSError:
                raise fail(f"Unable to read command from file {path}.") from None
        if arg.startswith("-"):
            raise fail(f"vmtoolsd (vmotion-sim fake): unknown option {arg}; {ONLY}")
        i += 1
    raise fail(f"vmtoolsd (vmotion-sim fake): {ONLY}")


def main(program: str, socket_path: str) -> None:
    command = command_from_argv(program, sys.argv[1:])
    path = posix.environ.get(b"VMOTION_SIM_SOCKET", socket_path.encode()).decode()
    request = ('{"op": "rpc", "command": ' + json_string(command) + "}\n").encode("ascii")
    try:
        conn = _socket.socket(_socket.AF_UNIX, _socket.SOCK_STREAM)
        conn.settimeout(300.0)
        conn.connect(path)
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
        sys.stdout.buffer.write(stdout.encode("utf-8", "surrogateescape"))
        sys.stdout.flush()
    if stderr:
        sys.stderr.buffer.write(stderr.encode("utf-8", "surrogateescape"))
        sys.stderr.flush()
    sys.exit(exit_code)
