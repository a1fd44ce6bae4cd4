"""Clocks. The model reads time only through ``now()``; the transports and the handler also sleep through
the clock, so a manual clock turns every wait into an instant jump of virtual time."""

from __future__ import annotations

import math
import threading
import time
from typing import Protocol


class Clock(Protocol):
    def now(self) -> float:
        """Wall-clock seconds since the epoch (what ``eventGenTimeInSec`` is made from)."""

    def monotonic(self) -> float: ...

    def sleep(self, seconds: float) -> None: ...


class SystemClock:
    """The real clock. ``time.time`` is looked up at call time so freezegun can move it."""

    def now(self) -> float:
        return time.time()

    def monotonic(self) -> float:
        return time.monotonic()

    def sleep(self, seconds: float) -> None:
        if seconds > 0:
            time.sleep(seconds)


class ManualClock:
    """Virtual time: it moves only when told to (``advance``, ``move_to``) or when someone sleeps on it."""

    def __init__(self, start: float = 1_700_000_000.0) -> None:
        self._now = float(start)
        self._start = float(start)
        self._lock = threading.Lock()

    def now(self) -> float:
        with self._lock:
            return self._now

    def monotonic(self) -> float:
        with self._lock:
            return self._now - self._start

    def sleep(self, seconds: float) -> None:
        self.advance(max(0.0, seconds))

    def advance(self, seconds: float) -> float:
        if not math.isfinite(seconds):
            raise ValueError("a clock moves by a finite number of seconds")
        if seconds < 0:
            raise ValueError("a clock does not go backwards")
        with self._lock:
            self._now += seconds
            return self._now

    def move_to(self, when: float) -> float:
        if not math.isfinite(when):
            raise ValueError("a clock moves to a finite time")
        with self._lock:
            if when < self._now:
                raise ValueError("a clock does not go backwards")
            self._now = float(when)
            return self._now
