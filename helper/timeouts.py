"""The timeout values: what the user may type, what the server means, and the effective timeout.

Units are seconds everywhere [protocol.md §8.1, §8.2]. Both settings are ``long`` on the wire.
"""

from __future__ import annotations

from typing import Optional

from helper.errors import ExitCode, HelperError
from helper.whole_numbers import parse_whole_number

# A VM whose timeout was never set reads back -1 on a real vCenter 8 [protocol.md §8.1, S7 OBS], and a
# ConfigSpec cannot "unset" a property by omitting it (omitted means "leave as is"), so -1 is what we send
# to unset it. Whether vCenter treats a written -1 as unset is not documented (INF; protocol.md §10.11).
VM_TIMEOUT_UNSET = -1
LONG_MAX = 2**63 - 1  # xsd:long


def vm_timeout_is_set(vm_timeout: Optional[int]) -> bool:
    """A VM timeout counts as set when the server reports a value >= 0 (absent or -1 mean unset)."""
    return vm_timeout is not None and vm_timeout >= 0


def effective_timeout(host_timeout: Optional[int], vm_timeout: Optional[int]) -> int:
    """The timeout the guest gets: min(host, VM) when the VM value is set and > 0, else the host value.

    [protocol.md §6, §11; S1 3P "the smaller of host and VM", S6 DOC "if unset, defaults to cluster/host"].
    A host whose option is absent counts as 0, its real default [S1 3P], which disables the feature.
    """
    host = 0 if host_timeout is None else host_timeout
    if vm_timeout is not None and vm_timeout > 0:
        return min(host, vm_timeout)
    return host


def _parse_long(text: str, what: str) -> int:
    value = parse_whole_number(text)
    if value is None:
        raise HelperError(ExitCode.USAGE, f"invalid {what} {text!r}: expected a whole number of seconds (ASCII digits)")
    if value > LONG_MAX:
        raise HelperError(ExitCode.USAGE, f"invalid {what} {text!r}: larger than {LONG_MAX} (xsd:long)")
    return value


def parse_host_timeout(text: str) -> int:
    """``host``/``cluster --timeout``: seconds >= 0; 0 is a value (it disables notifications on that host)."""
    value = _parse_long(text, "host timeout")
    if value < 0:
        raise HelperError(ExitCode.USAGE, f"invalid host timeout {text!r}: must be 0 or more seconds")
    return value


def parse_vm_timeout(text: str) -> int:
    """``vm --timeout``: seconds >= 0, or ``unset`` (also ``-1``) to go back to the host's value."""
    if text.strip().lower() == "unset":
        return VM_TIMEOUT_UNSET
    value = _parse_long(text, "VM timeout")
    if value < VM_TIMEOUT_UNSET:
        raise HelperError(ExitCode.USAGE, f"invalid VM timeout {text!r}: must be 0 or more seconds, or 'unset'")
    return value


def describe_vm_timeout(vm_timeout: Optional[int]) -> str:
    return str(vm_timeout) if vm_timeout_is_set(vm_timeout) else "unset"
