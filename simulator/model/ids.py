"""Tokens and operation ids shaped like the observed ones."""

from __future__ import annotations

import random
from typing import Optional

# Migration ids look like C + a microsecond timestamp, C ~ 6 277 405 962 516 000 000 (INF from 2 samples):
# both observed ids are above 2**53, which is what breaks float-based JSON parsers.
MIGRATION_ID_BASE = 6_277_405_962_516_000_000
# Ids are unsigned 64-bit on the wire (the guest's ack is refused above 2**64 - 1): the time part wraps
# around inside what is left, so no clock reading, however far ahead, yields an id that cannot be acked.
_ID_LIMIT = 2**64
_HEADROOM = 2**32  # room for the random part and for ids issued one above the last
_MIGRATION_SPAN = _ID_LIMIT - MIGRATION_ID_BASE - _HEADROOM
_TIMEOUT_CHANGE_SPAN = (_ID_LIMIT - _HEADROOM) // 1_000_000


class IdSource:
    def __init__(self, seed: Optional[int] = None) -> None:
        self._random = random.Random(seed)
        self._last: dict[str, int] = {}

    def token(self) -> str:
        """Lowercase 8-4-4-4-12 hex starting with "52", like both observed tokens."""
        digits = "52" + "".join(self._random.choice("0123456789abcdef") for _ in range(30))
        return f"{digits[:8]}-{digits[8:12]}-{digits[12:16]}-{digits[16:20]}-{digits[20:]}"

    def _unique(self, kind: str, candidate: int) -> int:
        last = self._last.get(kind)
        issued = candidate if last is None or candidate > last else last + 1
        if issued >= _ID_LIMIT:  # unreachable in practice (2**32 ids past a wrap); start over, never overflow
            issued = candidate
        self._last[kind] = issued
        return issued

    def migration_id(self, now: float) -> int:
        micros = int(now * 1_000_000) % _MIGRATION_SPAN
        return self._unique("migration", MIGRATION_ID_BASE + micros + self._random.randrange(1_000))

    def timeout_change_id(self, now: float) -> int:
        """The observed timeout-change id is the event's epoch time in microseconds."""
        seconds = int(now) % _TIMEOUT_CHANGE_SPAN
        return self._unique("timeout-change", seconds * 1_000_000 + self._random.randrange(1_000_000))
