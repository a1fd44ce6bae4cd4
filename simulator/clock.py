"""Clocks. The model reads time only through ``now()``; the transports and the handler also sleep through
the clock, so a manual clock turns every wait into an instant jump of virtual time."""

from __future__ import annotations

import heapq
import itertools
import math
import threading
import time
from typing import Callable, Dict, List, Optional, Protocol, Tuple


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
    """Virtual time: it moves only when told to (``advance``, ``move_to``) or when someone sleeps on it.

    ``call_at`` schedules an action (a vMotion requested, a setting changed) at a virtual time; whoever moves
    the clock past that time runs it, with the clock standing at exactly that time. So a handler that sleeps
    through second 10 finds the vMotion requested at second 10, as it would on a real host.
    """

    def __init__(self, start: float = 1_700_000_000.0) -> None:
        self._now = float(start)
        self._start = float(start)
        self._lock = threading.Lock()
        self._scheduled: List[Tuple[float, int, Callable[[], object]]] = []
        self._order = itertools.count()

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
            target = self._now + seconds
        return self.move_to(target)

    def move_to(self, when: float) -> float:
        if not math.isfinite(when):
            raise ValueError("a clock moves to a finite time")
        with self._lock:
            if when < self._now:
                raise ValueError("a clock does not go backwards")
        while True:
            with self._lock:
                if not self._scheduled or self._scheduled[0][0] > when:
                    self._now = max(self._now, float(when))
                    return self._now
                due, _, action = heapq.heappop(self._scheduled)
                self._now = max(self._now, due)
            action()  # outside the lock: an action may read the clock, or move it further

    def call_at(self, when: float, action: Callable[[], object]) -> None:
        """Run ``action`` when the clock reaches ``when`` (at the next move if that time has passed)."""
        with self._lock:
            heapq.heappush(self._scheduled, (float(when), next(self._order), action))

    def call_later(self, seconds: float, action: Callable[[], object]) -> None:
        self.call_at(self.now() + seconds, action)


class ScaledClock:
    """The real clock run ``speed`` times faster from a shared origin: the clock a sped-up handler sees.

    At wall time ``origin_wall`` it reads ``origin_fake``; every real second after that is ``speed`` seconds.
    libfaketime, given the same origin and rate (``simulator.speed``), shows a handler process the same time,
    so ``eventGenTimeInSec`` and the handler's own ``time()`` agree. ``monotonic`` and ``sleep`` scale alike.
    """

    def __init__(
        self,
        speed: float,
        origin_wall: Optional[float] = None,
        origin_fake: Optional[float] = None,
        wall: Callable[[], float] = time.time,
    ) -> None:
        if not (math.isfinite(speed) and speed > 0):
            raise ValueError("speed must be a finite number > 0")
        self.speed = float(speed)
        self._wall = wall
        self.origin_wall = float(wall() if origin_wall is None else origin_wall)
        self.origin_fake = float(self.origin_wall if origin_fake is None else origin_fake)
        self._mono0 = time.monotonic()

    def at(self, wall_time: float) -> float:
        """What this clock reads at ``wall_time`` (real epoch seconds)."""
        return self.origin_fake + (wall_time - self.origin_wall) * self.speed

    def now(self) -> float:
        return self.at(self._wall())

    def monotonic(self) -> float:
        return (time.monotonic() - self._mono0) * self.speed

    def sleep(self, seconds: float) -> None:
        if seconds > 0:
            time.sleep(seconds / self.speed)


class StoppableClock:
    """A real (or scaled) clock that can be stopped: it runs until ``stop()``, then stands at that time.

    A real-time incident run stops the simulator's clock at the scenario's end, as a virtual run's clock stops
    there: what the hypervisor would do while the handler is being stopped (a deadline passing, a migration
    ending) is not part of the run. Sleeping still takes real time.
    """

    def __init__(self, base: Clock) -> None:
        self.base = base
        self._stopped: Optional[Tuple[float, float]] = None  # (now, monotonic) where it stopped

    def now(self) -> float:
        return self.base.now() if self._stopped is None else self._stopped[0]

    def monotonic(self) -> float:
        return self.base.monotonic() if self._stopped is None else self._stopped[1]

    def sleep(self, seconds: float) -> None:
        self.base.sleep(seconds)

    def stop(self) -> None:
        if self._stopped is None:
            self._stopped = (self.base.now(), self.base.monotonic())


def clock_description(clock: object) -> Dict[str, float]:
    """What a client needs to put a process on a served simulator's clock (the control op ``clock``)."""
    if isinstance(clock, StoppableClock):
        clock = clock.base
    if isinstance(clock, ScaledClock):
        return {"speed": clock.speed, "origin_wall": clock.origin_wall, "origin_fake": clock.origin_fake}
    return {"speed": 1.0}
