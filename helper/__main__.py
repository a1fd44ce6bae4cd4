"""``python -m helper`` and the ``vmotion-helper`` console script."""

from __future__ import annotations

import sys

from helper.cli import main

if __name__ == "__main__":
    sys.exit(main())
