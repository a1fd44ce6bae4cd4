"""Tokens and operation ids shaped like the observed ones."""

from __future__ import annotations

import random
from typing import Optional

# Migration ids look like C + a microsecond timestamp, C ~ 6 277 405 962 516 000 000 (INF from 2 samples):
# both observed ids are above 2**53, which is what breaks float-based JSON parsers.
MIGRATION_ID_BASE = 6_277_405_962_516_000_000


class IdSource:
    def __init__(self, seed: Optional[int] = None) -> None:
        self._random = random.Random(seed)
        self._last: dict[str, int] = {}

    def token(self) -> str:
        """Lowercase 8-4-4-4-12 hex starting with "52", like both observed tokens."""
        digits = "52" + "".join(self._random.choice("0123456789abcdef") for _ in range(30))
        return f"{digits[:8]}-{digits[8:12]}-{digits[12:16]}-{digits[16:20]}-{digits[20:]}"

    def _unique(self, kind: str, candidate: int) -> int:
        issued = max(candidate, self._last.get(kind, 0) + 1)
        self._last[kind] = issued
        return issued

    def migration_id(self, now: float) -> int:
        return self._unique("migration", MIGRATION_ID_BASE + int(now * 1_000_000) + self._random.randrange(1_000))

    def timeout_change_id(self, now: float) -> int:
        """The observed timeout-change id is the event's epoch time in microseconds."""
        return self._unique("timeout-change", int(now) * 1_000_000 + self._random.randrange(1_000_000))
