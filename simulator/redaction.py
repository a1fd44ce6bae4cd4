"""Tokens out of the journal: a uniqueToken is a bearer credential, so no journal entry holds one.

Each distinct token (or whatever a guest sent in its place) becomes one stable placeholder,
``redacted-token-N`` numbered in order of first sight, so the journal still tells two apps apart.
"""

from __future__ import annotations

import re
from typing import Any, Dict

# The value of a "uniqueToken" field, escapes and all, in a request or a reply.
_FIELD = re.compile(r'("uniqueToken"\s*:\s*")((?:[^"\\]|\\.)*)(")')
# A token quoted anywhere else (an error text, a note): the 8-4-4-4-12 hex shape every token has.
TOKEN_SHAPE = re.compile(r"\b[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}\b")


class TokenRedactor:
    def __init__(self) -> None:
        self._placeholders: Dict[str, str] = {}

    def placeholder(self, token: str) -> str:
        name = self._placeholders.get(token)
        if name is None:
            name = self._placeholders[token] = f"redacted-token-{len(self._placeholders) + 1}"
        return name

    def text(self, text: str) -> str:
        text = _FIELD.sub(lambda m: m.group(1) + self.placeholder(m.group(2)) + m.group(3), text)
        return TOKEN_SHAPE.sub(lambda m: self.placeholder(m.group(0)), text)

    def value(self, value: Any) -> Any:
        """``value`` with every string in it redacted (dicts and lists followed)."""
        if isinstance(value, str):
            return self.text(value)
        if isinstance(value, dict):
            return {k: self.value(v) for k, v in value.items()}
        if isinstance(value, (list, tuple)):
            return [self.value(v) for v in value]
        return value
