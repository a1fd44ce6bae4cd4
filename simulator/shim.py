"""Write the fake ``vmtoolsd`` and ``vmware-rpctool`` executables into a directory, bound to a socket."""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Dict, Union

PROGRAMS = ("vmtoolsd", "vmware-rpctool")
_SOURCE = Path(__file__).with_name("fake_vmtoolsd.py")


def write_shims(directory: Union[str, Path], socket_path: Union[str, Path]) -> Dict[str, Path]:
    """Returns {program name: path}. Prepend ``directory`` to PATH to run any handler against the simulator."""
    target = Path(directory)
    target.mkdir(parents=True, exist_ok=True)
    source = _SOURCE.read_text()
    socket_text = str(Path(socket_path).resolve())
    if '"' in socket_text or "\\" in socket_text or "\n" in socket_text:
        raise ValueError("the socket path must not contain quotes, backslashes or newlines")
    written: Dict[str, Path] = {}
    for program in PROGRAMS:
        body = source.replace("__SOCKET__", socket_text).replace("__PROGRAM__", program)
        path = target / program
        tmp = path.with_name(f".{program}.tmp")
        # -I: ignore the caller's PYTHON* variables and user site; -S: skip site, the bulk of start-up time.
        tmp.write_text(f"#!{sys.executable} -IS\n{body}")
        tmp.chmod(0o755)
        os.replace(tmp, path)
        written[program] = path
    return written
