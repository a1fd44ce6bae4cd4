"""Where to connect and as whom, from the environment (pure: takes the mapping, reads nothing else).

The password is kept out of every repr and message: it must never reach a terminal or a log.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Mapping

from helper.errors import ExitCode, HelperError

REQUIRED = ("VMWARE_HOST", "VMWARE_USER", "VMWARE_PASSWORD")
_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"0", "false", "no", "off"}


@dataclass(frozen=True)
class Credentials:
    host: str
    port: int
    user: str
    password: str = field(repr=False)
    validate_certs: bool = True

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
    try:
        port = int(text.strip(), 10)
    except ValueError:
        port = 0
    if not 1 <= port <= 65535:
        raise HelperError(ExitCode.USAGE, f"invalid VMWARE_PORT {text!r}: expected a port number 1-65535")
    return port


def credentials_from_env(env: Mapping[str, str]) -> Credentials:
    missing = [name for name in REQUIRED if not env.get(name)]
    if missing:
        raise HelperError(
            ExitCode.USAGE,
            f"missing environment variable(s) {', '.join(missing)}: "
            "set VMWARE_HOST, VMWARE_USER and VMWARE_PASSWORD (optional: VMWARE_PORT, VMWARE_VALIDATE_CERTS)",
        )
    return Credentials(
        host=env["VMWARE_HOST"].strip(),
        port=_port(env.get("VMWARE_PORT", "") or "443"),
        user=env["VMWARE_USER"],
        password=env["VMWARE_PASSWORD"],
        validate_certs=_validate_certs(env.get("VMWARE_VALIDATE_CERTS", "")),
    )
