"""The handler's defaults and the bounds of its durations, stated once.

``CoreSettings``, the command-line options and the hook runner all take their defaults from here, and the
configuration checks every duration against its bounds. An upper bound is there because a wait longer than
the platform can express (``threading.TIMEOUT_MAX``) crashes later, mid-operation, and because no sane
setting comes near it: each bound is far beyond any vSphere timeout (the host's own limit is 1,800 s).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Dict

APP_NAME = "vmotion-handler"
INTERVAL = 1.0
SAFETY_MARGIN = 2.0
ACK_TIMEOUT_CHANGE = True
UNQUIESCE_TIMEOUT = 300.0
RPC_TIMEOUT = 10.0  # how long one vmtoolsd call may take before it counts as hung
END_TIMEOUT = 3600.0  # past the hypervisor's deadline, how long to wait for the end (0: for ever)
KILL_GRACE = 1.0
BACKOFF_INITIAL = 0.5
BACKOFF_MAX = 30.0
SHUTDOWN_RPC_ATTEMPTS = 3

HOUR = 3600.0
DAY = 24 * HOUR


@dataclass(frozen=True)
class Bounds:
    """Seconds in [minimum, maximum]; ``minimum_allowed`` False makes the minimum itself invalid."""

    minimum: float
    maximum: float
    minimum_allowed: bool = True

    def describe(self) -> str:
        low = "at least" if self.minimum_allowed else "greater than"
        return f"{low} {self.minimum:.15g} and at most {self.maximum:.15g}"

    def contains(self, value: float) -> bool:
        above = value >= self.minimum if self.minimum_allowed else value > self.minimum
        return above and value <= self.maximum


DURATION_BOUNDS: Dict[str, Bounds] = {
    "interval": Bounds(0.0, HOUR, minimum_allowed=False),
    "rpc_timeout": Bounds(0.0, HOUR, minimum_allowed=False),
    "safety_margin": Bounds(0.0, HOUR),
    "unquiesce_timeout": Bounds(0.0, DAY, minimum_allowed=False),
    "end_timeout": Bounds(0.0, 30 * DAY),  # 0: wait for ever
    "kill_grace": Bounds(0.0, HOUR),
    "backoff_max": Bounds(0.0, HOUR, minimum_allowed=False),
}
