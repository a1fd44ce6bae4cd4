"""Whole numbers as a person types them in ASCII: ``int()`` alone also takes ``4_43`` and other scripts' digits
(``٤٤٣``), which no one means for a port or a number of seconds."""

from __future__ import annotations

from typing import Optional


def parse_whole_number(text: str) -> Optional[int]:
    """``[-]DIGITS`` in ASCII, blanks around allowed; None for anything else."""
    body = text.strip()
    digits = body[1:] if body.startswith("-") else body
    if not (digits.isascii() and digits.isdigit()):
        return None
    return int(body, 10)
