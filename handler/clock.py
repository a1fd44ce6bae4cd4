"""Time, injected: the core only ever asks a Clock, so tests run it on virtual time."""

from __future__ import annotations

import threading
import time
from typing import Protocol


class Clock(Protocol):
    def now(self) -> float:
        """Epoch seconds (compared with the hypervisor's ``eventGenTimeInSec``)."""
        ...

    def monotonic(self) -> float: ...

    def sleep(self, seconds: float) -> None: ...


class SystemClock:
    """The wall clock. ``sleep`` returns early once ``wake()`` is called (a signal asked us to stop)."""

    def __init__(self) -> None:
        self._woken = threading.Event()

    def now(self) -> float:
        return time.time()

    def monotonic(self) -> float:
        return time.monotonic()

    def sleep(self, seconds: float) -> None:
        if seconds > 0 and not self._woken.is_set():
            self._woken.wait(seconds)

    def wake(self) -> None:
        self._woken.set()
