"""Write the fake ``vmtoolsd`` and ``vmware-rpctool`` executables into a directory, bound to a socket."""

from __future__ import annotations

import os
import py_compile
import shlex
import shutil
import sys
from pathlib import Path
from typing import Dict, Union

PROGRAMS = ("vmtoolsd", "vmware-rpctool")
MODULE = "_vmotion_fake_vmtoolsd"
_SOURCE = Path(__file__).with_name("fake_vmtoolsd.py")

# -I: ignore the caller's PYTHON* variables and user site; -S: skip site, the bulk of start-up time.
# A script run directly is compiled on every run; the module it imports is compiled once, here.
_SHEBANG_SAFE_LENGTH = 120


def launcher_text(python: str, flags: str, directory: str, code: str) -> str:
    """An executable script: ``python FLAGS`` runs ``code`` with ``directory`` first on ``sys.path``.

    The kernel splits a "#!" line at the first blank and truncates it at 127 bytes on older kernels: an
    interpreter path like that (a venv under "My Projects") gets a shell launcher, at the cost of one exec.
    """
    if len(python) <= _SHEBANG_SAFE_LENGTH and not any(c.isspace() for c in python):
        return f"#!{python} {flags}\nimport sys\nsys.path.insert(0, {directory!r})\n{code}\n"
    one_line = f"import sys; sys.path.insert(0, {directory!r}); " + code.replace("\n", "; ")
    return f'#!/bin/sh\nexec {shlex.quote(python)} {flags} -c {shlex.quote(one_line)} "$@"\n'


def _launcher(python: str, directory: str, module: str, program: str, socket: str) -> str:
    return launcher_text(python, "-IS", directory, f"from {module} import main\nmain({program!r}, {socket!r})")


def atomic_write(path: Path, text: str, mode: int) -> None:
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text(text)
    tmp.chmod(mode)
    os.replace(tmp, path)


def write_shims(directory: Union[str, Path], socket_path: Union[str, Path]) -> Dict[str, Path]:
    """Returns {program name: path}. Prepend ``directory`` to PATH to run any handler against the simulator."""
    target = Path(directory).resolve()
    target.mkdir(parents=True, exist_ok=True)
    module = target / f"{MODULE}.py"
    shutil.copyfile(_SOURCE, module)
    py_compile.compile(str(module), cfile=None, doraise=True)
    written: Dict[str, Path] = {}
    for program in PROGRAMS:
        path = target / program
        launcher = _launcher(sys.executable, str(target), MODULE, program, str(Path(socket_path).resolve()))
        atomic_write(path, launcher, 0o755)
        written[program] = path
    return written
