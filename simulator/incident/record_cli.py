"""``vmotion-record``: the recording wrapper's command.

    vmotion-record [--real PATH] [--recording FILE] ARGS...     one vmtoolsd call, recorded (ARGS as vmtoolsd's)
    vmotion-record install DIR [--real PATH] [--recording FILE] write DIR/vmtoolsd, a fast launcher of the same

The console script imports this package (and so the simulator) on every call; the installed launcher runs
the standalone ``recorder`` module with ``python -I -S`` instead, which is what to use in production.
"""

from __future__ import annotations

import argparse
import os
import py_compile
import shutil
import sys
from pathlib import Path
from typing import Dict, Optional, Sequence

from simulator.incident import recorder
from simulator.transport.shim import atomic_write

EXIT_USAGE = 2
MODULE = "_vmotion_recorder"

_POSIX_LAUNCHER = """#!{python} -IS
import sys
sys.path.insert(0, {directory!r})
from {module} import main
main(__file__, {real!r}, {recording!r})
"""
# Windows runs a .cmd with cmd.exe; the handler there passes the RPC with --cmdfile, so no JSON goes through %*.
_WINDOWS_LAUNCHER = (
    '@"{python}" -I -S -c "import sys; sys.path.insert(0, r\'{directory}\'); from {module} import main; '
    "main(r'{me}', {real!r}, {recording!r})\" %*\n"
)


def install(directory: Path, real: Optional[str], recording: Optional[str]) -> Dict[str, Path]:
    """Copy the recorder (compiled once) into ``directory`` with a ``vmtoolsd`` launcher; returns what it wrote."""
    target = directory.resolve()
    target.mkdir(parents=True, exist_ok=True)
    module = target / f"{MODULE}.py"
    shutil.copyfile(recorder.__file__, module)
    py_compile.compile(str(module), cfile=None, doraise=True)
    if os.name == "nt":
        launcher = target / "vmtoolsd.cmd"
        text = _WINDOWS_LAUNCHER.format(python=sys.executable, directory=target, module=MODULE, me=launcher,
                                        real=real, recording=recording)
    else:
        launcher = target / "vmtoolsd"
        text = _POSIX_LAUNCHER.format(python=sys.executable, directory=str(target), module=MODULE, real=real,
                                      recording=recording)
    atomic_write(launcher, text, 0o755)
    return {"launcher": launcher, "module": module}


def _install_main(argv: Sequence[str]) -> int:
    parser = argparse.ArgumentParser(prog="vmotion-record install",
                                     description="write DIR/vmtoolsd, a recording wrapper of the real vmtoolsd")
    parser.add_argument("directory", metavar="DIR")
    parser.add_argument("--real", default=None, help="the real vmtoolsd (default: the next vmtoolsd on PATH)")
    parser.add_argument("--recording", default=None,
                        help=f"the recording file (default: ${recorder.FILE_ENV}, else ~/vmotion-recording.jsonl)")
    args = parser.parse_args(argv)
    try:
        written = install(Path(args.directory), args.real, args.recording)
    except OSError as exc:
        print(f"vmotion-record: cannot install into {args.directory}: {exc}", file=sys.stderr)
        return 1
    print(written["launcher"])
    return 0


def main(argv: Optional[Sequence[str]] = None) -> int:
    args = list(sys.argv[1:] if argv is None else argv)
    if args[:1] == ["install"]:
        return _install_main(args[1:])
    if args[:1] in (["-h"], ["--help"]):
        print(__doc__)
        return 0
    sys.argv[1:] = args
    recorder.main()
    return 0  # not reached: recorder.main exits with the real vmtoolsd's status
