"""A real virtual environment under a directory whose name has a space, with this checkout importable.

For tests of interpreter paths with a space (a venv under "My Projects"). A symlink to ``sys.executable`` is
not one: the link's interpreter looks for ``pyvenv.cfg`` beside the link, finds none, and is the bare system
interpreter, which can import the project only on a machine where someone installed it there.
"""

from __future__ import annotations

import subprocess
import sys
import venv
from pathlib import Path

CHECKOUT = Path(__file__).resolve().parents[1]


def spaced_venv_python(base: Path) -> Path:
    """Create the venv under ``base / "My Projects"`` and return its interpreter."""
    home = base / "My Projects" / "venv"
    venv.EnvBuilder(with_pip=False, symlinks=sys.platform != "win32").create(home)
    python = home / ("Scripts/python.exe" if sys.platform == "win32" else "bin/python")
    purelib = _purelib(python)
    # What `pip install -e .` would give, without pip or the network: the checkout on the venv's sys.path.
    (purelib / "vmotion_checkout.pth").write_text(f"{CHECKOUT}\n")
    return python


def _purelib(python: Path) -> Path:
    out = subprocess.run(
        [str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
        capture_output=True, text=True, check=True, timeout=60,
    )
    return Path(out.stdout.strip())
