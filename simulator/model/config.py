"""The settings that govern notifications for one VM and the timeout rule."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Optional

# The longest duration anything accepts (a migration, a latency, a clock advance): about 31 years. Longer
# values stall every deadline as surely as infinity, and overflow the platform's sleep.
MAX_SECONDS = 1_000_000_000


def is_duration(value: Any) -> bool:
    """A number of seconds from 0 to MAX_SECONDS: NaN or infinity would stall every deadline for good."""
    return (
        isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)
        and 0 <= value <= MAX_SECONDS
    )


def effective_timeout(host_timeout: int, vm_timeout: Optional[int]) -> int:
    """min(host, VM) when the VM value is set and > 0, else the host value [S1 3P, S6 DOC]."""
    if vm_timeout is not None and vm_timeout > 0:
        return min(host_timeout, vm_timeout)
    return host_timeout


@dataclass
class VmConfig:
    # VM `vmOpNotificationToAppEnabled`.
    enabled: bool = True
    # Source host `VmOpNotificationToApp.Timeout`; a real host's effective default is 0 [S1 3P].
    host_timeout: int = 120
    # VM `vmOpNotificationTimeout`; None is unset (vSphere shows -1) [S6, S7 OBS].
    vm_timeout: Optional[int] = None
    # The destination host's option; None means the same as the source host.
    dest_host_timeout: Optional[int] = None

    @property
    def effective_timeout(self) -> int:
        return effective_timeout(self.host_timeout, self.vm_timeout)

    @property
    def dest_effective_timeout(self) -> int:
        """What `destNotificationTimeoutInSec` carries: the same rule on the destination host (INF)."""
        dest = self.host_timeout if self.dest_host_timeout is None else self.dest_host_timeout
        return effective_timeout(dest, self.vm_timeout)
