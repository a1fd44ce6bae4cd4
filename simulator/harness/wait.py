"""Wait, on real time, until something observable comes true: the one polling loop of the harness."""

from __future__ import annotations

import time
from typing import Callable, Optional, TypeVar

T = TypeVar("T")


def wait_until(
    predicate: Callable[[], T], timeout: float, interval: float = 0.02, give_up: Optional[Callable[[], bool]] = None
) -> Optional[T]:
    """Poll ``predicate`` until it returns something truthy and return that; None at ``timeout`` seconds, or as
    soon as ``give_up()`` says waiting longer is pointless (the process that should act has exited)."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() >= deadline or (give_up is not None and give_up()):
            return None
        time.sleep(interval)  # polling an observable, not waiting out a timeout
