"""The README's option table states the defaults that handler/defaults.py (through the options) really has."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from handler.config import OPTIONS, Option

README = Path(__file__).resolve().parents[2] / "README.md"


def _rows() -> dict[str, str]:
    rows = {}
    for line in README.read_text(encoding="utf-8").splitlines():
        match = re.match(r"\| `(--[a-z-]+)`[^|]*\| `?(VMOTION_HANDLER_[A-Z_]+)`? \| ([^|]+) \|", line)
        if match:
            rows[match.group(2)] = match.group(3).strip()
    return rows


@pytest.mark.parametrize("opt", [o for o in OPTIONS if o.default is not None], ids=lambda o: o.name)
def test_the_readme_states_each_default(opt: Option) -> None:
    stated = _rows()[opt.env]
    if isinstance(opt.default, bool):
        assert stated == f"`{str(opt.default).lower()}`"
    elif isinstance(opt.default, float):
        assert float(stated.strip("`")) == opt.default
    else:
        assert stated == f"`{opt.default}`"
