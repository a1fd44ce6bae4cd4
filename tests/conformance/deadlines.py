"""A run whose verdict only needs a deadline to pass (a handler that never acks, forced at the timeout) goes at
speed: the simulated VM's clock K times faster and the handler under libfaketime on it (``--vmotion-speed``),
so an 8-second timeout passes in under a second. Where speed cannot work (no libfaketime, no C compiler) the
same run goes on real time: slower, never skipped."""

from __future__ import annotations

import functools
from typing import Tuple

from simulator.speed import unavailable

SPEED = 8


@functools.cache
def at_speed() -> Tuple[str, ...]:
    """pytest options for a plugin run at speed, or none where it cannot be."""
    return () if unavailable() else ("--vmotion-speed", str(SPEED))
