"""Version rules: which API version carries which field, and the hardware and Tools minimums.

pyVmomi serialises only the properties that exist in the API version negotiated with the server and drops
the others without a word, so a reconfigure at an older version "succeeds" and changes nothing
[issue 4, fact 1]. The helper therefore decides from the negotiated version before it sends anything.
"""

from __future__ import annotations

import re
from typing import Optional, Tuple

from helper.errors import ExitCode, HelperError

ApiVersion = Tuple[int, ...]

# Since when each VirtualMachineConfigSpec field exists [protocol.md §8.1; S6, S7].
FIELD_SINCE: dict[str, ApiVersion] = {
    "vmOpNotificationToAppEnabled": (7, 0, 3, 0),
    "vmOpNotificationTimeout": (8, 0, 0, 1),
}
MIN_API_VERSION: ApiVersion = (8, 0, 0, 1)  # both fields [protocol.md §8.3]
MIN_HARDWARE_VERSION = 20  # "The feature is tied to HWv20" [S3; protocol.md §8.1]
MIN_TOOLS_VERSION: tuple[int, int] = (11, 0)  # VMware Tools / open-vm-tools 11.0+ [S1; protocol.md §8.3]


def parse_api_version(text: str) -> ApiVersion:
    """``"8.0.1.0"`` -> ``(8, 0, 1, 0)``; padded with zeros so that ``"7.0"`` compares as ``7.0.0.0``."""
    parts = text.strip().split(".")
    if not parts or not all(p.isdigit() for p in parts):
        raise HelperError(ExitCode.UNREACHABLE, f"the endpoint reports an unreadable API version {text!r}")
    numbers = tuple(int(p) for p in parts)
    return numbers + (0,) * (4 - len(numbers))


def format_api_version(version: ApiVersion) -> str:
    return ".".join(str(n) for n in version)


def dropped_fields(negotiated: ApiVersion) -> list[str]:
    """The notification fields pyVmomi would silently leave out of a request at this API version."""
    return [field for field, since in FIELD_SINCE.items() if negotiated < since]


def api_too_old_reason(negotiated: ApiVersion) -> Optional[str]:
    """Why the VM fields cannot be read or written at this version, or None when they can."""
    dropped = dropped_fields(negotiated)
    if not dropped:
        return None
    needs = ", ".join(f"{f} needs {format_api_version(FIELD_SINCE[f])}" for f in dropped)
    return (
        f"the negotiated vSphere API version is {format_api_version(negotiated)}; at that version pyVmomi "
        f"silently drops {' and '.join(dropped)} from every request ({needs})"
    )


_HW = re.compile(r"^vmx-(\d+)$")


def parse_hardware_version(text: Optional[str]) -> Optional[int]:
    """``"vmx-20"`` -> 20; None when the server reports nothing usable."""
    if not text:
        return None
    match = _HW.match(text.strip())
    return int(match.group(1)) if match else None


def parse_tools_version(value: object) -> Optional[tuple[int, int, int]]:
    """Tools report their version as one integer, major << 10 | minor << 5 | patch (12352 is 12.2.0).

    0 or nothing means "not installed or not reported" (a powered-off VM reports nothing), hence None.
    """
    if isinstance(value, str):
        value = value.strip()
        if not value.isdigit():
            return None
        value = int(value)
    if not isinstance(value, int) or value <= 0:
        return None
    return (value >> 10, (value >> 5) & 0x1F, value & 0x1F)
