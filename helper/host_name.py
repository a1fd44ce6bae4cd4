"""``VMWARE_HOST`` checked before connecting: a host name or an IP address, nothing else.

The rejected value is never echoed: a password typed into the wrong variable must not reach a terminal or a
log, so the message says what is wrong with the value instead.
"""

from __future__ import annotations

import ipaddress
import re

from helper.errors import ExitCode, HelperError

# RFC 1123 labels (underscores tolerated: some internal DNS zones have them), dots between, one trailing dot.
_LABEL = r"[A-Za-z0-9_](?:[A-Za-z0-9_-]{0,61}[A-Za-z0-9_])?"
_HOST_NAME = re.compile(rf"{_LABEL}(?:\.{_LABEL})*\.?")
_MAX_NAME = 253


def _refused(why: str) -> HelperError:
    return HelperError(ExitCode.USAGE, f"invalid VMWARE_HOST: {why}", "set it to vCenter's or the host's name or IP")


def check_host(text: str) -> str:
    """The host to connect to (an IPv6 literal in brackets), or a USAGE error saying what is wrong."""
    host = text.strip()
    if not host:
        raise _refused("it is empty or blank")
    if any(ord(c) < 0x20 or ord(c) == 0x7F for c in host):
        raise _refused("it contains a control character (a newline?)")
    if "/" in host:
        raise _refused("it is a host name or address, not a URL: leave out the scheme and any path")
    if any(c.isspace() for c in host):
        raise _refused("it contains a space, which no host name or address has")
    if not host.isascii():
        raise _refused("it is not ASCII: give an internationalised name in its ASCII form (xn--...)")
    literal = host[1:-1] if host.startswith("[") and host.endswith("]") else host
    try:
        address = ipaddress.ip_address(literal)
    except ValueError:
        pass
    else:
        # IPv6 in brackets: http.client (pyVmomi's version probe) would take a bare one's last group for a port.
        return f"[{address}]" if address.version == 6 else str(address)
    if ":" in host:
        raise _refused("it is not a host name or an IP address (a port goes in VMWARE_PORT)")
    if len(host) > _MAX_NAME or not _HOST_NAME.fullmatch(host):
        raise _refused(
            f"it is not a host name or an IP address ({len(host)} characters; a name is labels of up to 63 "
            "letters, digits and hyphens, joined by dots)"
        )
    return host
