"""Where to connect and as whom, from the environment (pure: takes the mapping, reads nothing else).

The password is kept out of every repr and message: it must never reach a terminal or a log.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Mapping

from helper.errors import ExitCode, HelperError
from helper.host_name import check_host
from helper.whole_numbers import parse_whole_number

REQUIRED = ("VMWARE_HOST", "VMWARE_USER", "VMWARE_PASSWORD")
_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"0", "false", "no", "off"}


DEFAULT_CONNECT_TIMEOUT_S = 30
MAX_CONNECT_TIMEOUT_S = 600


@dataclass(frozen=True)
class Credentials:
    host: str
    port: int
    user: str
    password: str = field(repr=False)
    validate_certs: bool = True
    # Bounds the whole connect: TCP, the TLS handshake and pyVmomi's version probe, each read and write.
    connect_timeout: int = DEFAULT_CONNECT_TIMEOUT_S

    @property
    def endpoint(self) -> str:
        return f"{self.host}:{self.port}"


def _validate_certs(text: str) -> bool:
    # Certificate checks stay on unless explicitly turned off; an unreadable value is an error, not "off"
    # (the PoC turned checks off for any value other than "true" [protocol.md §1.2]).
    value = text.strip().lower()
    if value == "" or value in _TRUE:
        return True
    if value in _FALSE:
        return False
    raise HelperError(ExitCode.USAGE, f"invalid VMWARE_VALIDATE_CERTS {text!r}: use true or false (default: true)")


def _port(text: str) -> int:
    port = parse_whole_number(text)
    if port is None or not 1 <= port <= 65535:
        raise HelperError(ExitCode.USAGE, "invalid VMWARE_PORT: expected a port number 1-65535 in ASCII digits")
    return port


def _connect_timeout(text: str) -> int:
    seconds = parse_whole_number(text)
    if seconds is None or not 1 <= seconds <= MAX_CONNECT_TIMEOUT_S:
        raise HelperError(
            ExitCode.USAGE,
            f"invalid VMWARE_CONNECT_TIMEOUT: expected whole seconds 1-{MAX_CONNECT_TIMEOUT_S} in ASCII digits "
            f"(default {DEFAULT_CONNECT_TIMEOUT_S})",
        )
    return seconds


def credentials_from_env(env: Mapping[str, str]) -> Credentials:
    missing = [name for name in REQUIRED if not env.get(name)]
    if missing:
        raise HelperError(
            ExitCode.USAGE,
            f"missing environment variable(s) {', '.join(missing)}: "
            "set VMWARE_HOST, VMWARE_USER and VMWARE_PASSWORD "
            "(optional: VMWARE_PORT, VMWARE_VALIDATE_CERTS, VMWARE_CONNECT_TIMEOUT)",
        )
    return Credentials(
        host=check_host(env["VMWARE_HOST"]),
        port=_port(env.get("VMWARE_PORT", "") or "443"),
        user=env["VMWARE_USER"],
        password=env["VMWARE_PASSWORD"],
        validate_certs=_validate_certs(env.get("VMWARE_VALIDATE_CERTS", "")),
        connect_timeout=_connect_timeout(env.get("VMWARE_CONNECT_TIMEOUT", "") or str(DEFAULT_CONNECT_TIMEOUT_S)),
    )
