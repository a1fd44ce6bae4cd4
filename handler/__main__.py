"""``python -m handler`` and the ``vmotion-handler`` console script."""

from __future__ import annotations

import sys
from typing import Optional, Sequence

from handler.console import run_console
from handler.daemon import main as _main


def main(argv: Optional[Sequence[str]] = None) -> int:
    return run_console(lambda: _main(argv))


if __name__ == "__main__":
    sys.exit(main())
