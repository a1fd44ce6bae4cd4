"""Run our own code in a child interpreter, whatever the caller's current directory or ``PYTHONPATH`` hold.

A user's project may hold packages named ``handler`` or ``simulator``: a child started as ``python -m handler``
from there would run theirs. Every child the harness starts runs isolated (``-I``: no current directory, no
``PYTHON*`` variables, no user site) with the directory our packages came from first on its path: the checkout,
or site-packages when installed from the wheel.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import List, Union

from simulator.transport.shim import atomic_write, launcher_text

PACKAGE_ROOT = str(Path(__file__).resolve().parents[2])


def python_running(code: str) -> List[str]:
    """argv of this interpreter running ``code`` (``sys`` imported) on our packages; arguments may follow."""
    return [sys.executable, "-I", "-c", f"import sys; sys.path.insert(0, {PACKAGE_ROOT!r}); {code}"]


def python_module(module: str) -> List[str]:
    """argv of ``python -m MODULE``, ours; arguments may follow."""
    return python_running(f"import runpy; runpy.run_module({module!r}, run_name='__main__', alter_sys=True)")


def write_launcher(path: Union[str, Path], code: str) -> Path:
    """An executable file that runs ``code`` on our packages: one path, usable as a command without a shell."""
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    atomic_write(target, launcher_text(sys.executable, "-I", PACKAGE_ROOT, code), 0o755)
    return target
