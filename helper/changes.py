"""What change a command needs, decided from what the server reports (pure: no I/O).

An empty plan means "nothing to do": the helper then starts no task and says so, which makes every
command safe to re-run (idempotent).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Optional

from helper.timeouts import VM_TIMEOUT_UNSET, vm_timeout_is_set


@dataclass(frozen=True)
class VmSettings:
    """The two VM fields as read back. ``timeout`` None means unset (the server omitted it or sent -1)."""

    enabled: bool
    timeout: Optional[int]

    @classmethod
    def from_server(cls, enabled: Optional[bool], timeout: Optional[int]) -> VmSettings:
        # Unset reads as FALSE [S6 DOC: "If unset defaults to FALSE"]; -1 reads as unset [S7 OBS].
        return cls(enabled=bool(enabled), timeout=timeout if vm_timeout_is_set(timeout) else None)


@dataclass(frozen=True)
class VmChange:
    """The ConfigSpec fields to send; None means "leave this field out of the spec"."""

    enabled: Optional[bool] = None
    timeout: Optional[int] = None  # VM_TIMEOUT_UNSET (-1) unsets it

    @property
    def is_empty(self) -> bool:
        return self.enabled is None and self.timeout is None

    def applied_to(self, current: VmSettings) -> VmSettings:
        """What the VM should read back once this change is made."""
        enabled = current.enabled if self.enabled is None else self.enabled
        timeout = current.timeout
        if self.timeout is not None:
            timeout = self.timeout if vm_timeout_is_set(self.timeout) else None
        return VmSettings(enabled=enabled, timeout=timeout)


def plan_vm_change(current: VmSettings, enable: Optional[bool], timeout: Optional[int]) -> VmChange:
    """Only the fields that differ from the current settings; 0 is a value like any other."""
    new_enabled = enable if enable is not None and enable != current.enabled else None
    new_timeout: Optional[int] = None
    if timeout is not None:
        wanted = timeout if vm_timeout_is_set(timeout) else None
        if wanted != current.timeout:
            new_timeout = timeout if wanted is not None else VM_TIMEOUT_UNSET
    return VmChange(enabled=new_enabled, timeout=new_timeout)


def plan_host_change(current: Optional[int], wanted: int, force: bool = False) -> Optional[int]:
    """The host option value to write, or None when the host already has it.

    ``current`` None means the option is absent or not an integer. ``force`` writes even an equal value:
    a host that displays 1800 may be showing the default, whose real value is 0 [S1 3P, protocol.md §8.2],
    and writing it explicitly is the only way to be sure.
    """
    if current == wanted and not force:
        return None
    return wanted
