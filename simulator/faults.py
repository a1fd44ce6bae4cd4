"""Faults a test can switch on. They act on the channel between guest and hypervisor, not on the rules."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any, Optional

from simulator.model.config import MAX_SECONDS, is_duration
from simulator.rpc import UNABLE_TO_SEND, RpcResult, failure


@dataclass(frozen=True)
class Faults:
    # Seconds added to every RPC (on a manual clock, virtual seconds).
    latency: float = 0.0
    # The guest RPC channel is down: vmtoolsd answers as outside a VM, and the request never arrives.
    channel_down: bool = False
    # The reply is replaced by bytes that are not JSON (the request was still carried out).
    garble: bool = False
    # The reply is cut in half, without its newline (the request was still carried out).
    truncate: bool = False
    # An ESXi without the feature: every verb gets ``Unknown command``.
    unsupported: bool = False
    # How many more RPCs the faults apply to; None is until cleared.
    remaining: Optional[int] = None

    def __post_init__(self) -> None:
        if not is_duration(self.latency):
            raise ValueError(f"latency must be a number of seconds from 0 to {MAX_SECONDS}")
        for name in ("channel_down", "garble", "truncate", "unsupported"):
            if not isinstance(getattr(self, name), bool):
                raise ValueError(f"{name} must be true or false")
        remaining = self.remaining
        if remaining is not None and (isinstance(remaining, bool) or not isinstance(remaining, int) or remaining < 0):
            raise ValueError("remaining must be a whole number >= 0 (or unset)")

    @property
    def active(self) -> bool:
        switched_on = self.latency > 0 or self.channel_down or self.garble or self.truncate or self.unsupported
        return switched_on and (self.remaining is None or self.remaining > 0)

    def spent_one(self) -> Faults:
        if self.remaining is None:
            return self
        if self.remaining <= 1:
            return Faults()
        return dataclasses.replace(self, remaining=self.remaining - 1)

    def as_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


def short_circuit(faults: Faults) -> Optional[RpcResult]:
    """A fault that answers before the hypervisor sees the request."""
    if faults.channel_down:
        return failure(UNABLE_TO_SEND)
    if faults.unsupported:
        return failure("Unknown command")
    return None


def distort(faults: Faults, result: RpcResult) -> RpcResult:
    """A fault that spoils the reply on its way back."""
    if faults.garble:
        return RpcResult("\x1b[?garbled\x00 reply ###\n" if result.stdout else "", result.stderr, result.exit_code)
    if faults.truncate:
        text = result.stdout or result.stderr
        cut = text.rstrip("\n")[: max(1, len(text) // 2)]
        return RpcResult(cut, "", result.exit_code) if result.stdout else RpcResult("", cut, result.exit_code)
    return result
