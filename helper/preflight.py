"""The ``check`` verdicts: would vMotion notifications reach the applications of this VM? (pure)

The facts are gathered by the I/O side (``helper.commands``); every rule lives here so it is tested
without a server.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal, Optional

from helper.timeouts import effective_timeout, vm_timeout_is_set
from helper.versions import (
    FIELD_SINCE,
    MIN_HARDWARE_VERSION,
    MIN_TOOLS_VERSION,
    ApiVersion,
    api_too_old_reason,
    format_api_version,
)

Status = Literal["ok", "warn", "fail"]

# The value a host shows for the option while its real default is 0 [S1 3P; protocol.md §8.2].
DISPLAYED_DEFAULT = 1800


@dataclass(frozen=True)
class HostFacts:
    name: str
    timeout: Optional[int]  # None: option absent (or not an integer), which behaves as 0


@dataclass(frozen=True)
class VmFacts:
    name: str
    api_version: ApiVersion
    hardware_version: Optional[int]
    tools_version: Optional[tuple[int, int, int]]
    enabled: Optional[bool]  # None: not readable at this API version
    vm_timeout: Optional[int]  # None or -1: unset
    current_host: Optional[str]
    hosts: list[HostFacts]  # every host of the VM's cluster (or its standalone host)


@dataclass(frozen=True)
class Verdict:
    item: str
    status: Status
    detail: str


@dataclass(frozen=True)
class Preflight:
    verdicts: list[Verdict]
    effective_timeout: Optional[int]  # on the host the VM runs on now; None if it runs nowhere
    effective_by_host: dict[str, int] = field(default_factory=dict)

    @property
    def works(self) -> bool:
        return all(v.status != "fail" for v in self.verdicts)


def _api(facts: VmFacts) -> Verdict:
    reason = api_too_old_reason(facts.api_version)
    if reason:
        return Verdict("api_version", "fail", reason)
    return Verdict("api_version", "ok", f"{format_api_version(facts.api_version)} carries both VM fields")


def _hardware(facts: VmFacts) -> Verdict:
    hw = facts.hardware_version
    if hw is None:
        return Verdict("hardware_version", "warn", f"not reported; the feature needs vmx-{MIN_HARDWARE_VERSION}+")
    if hw < MIN_HARDWARE_VERSION:
        return Verdict("hardware_version", "fail", f"vmx-{hw}; the feature needs vmx-{MIN_HARDWARE_VERSION} or later")
    return Verdict("hardware_version", "ok", f"vmx-{hw}")


def _tools(facts: VmFacts) -> Verdict:
    need = f"{MIN_TOOLS_VERSION[0]}.{MIN_TOOLS_VERSION[1]}"
    tv = facts.tools_version
    if tv is None:
        # A powered-off VM, or one without Tools, reports nothing: the helper cannot tell, so it warns.
        return Verdict("tools_version", "warn", f"not reported; the guest needs VMware Tools {need}+")
    shown = ".".join(str(n) for n in tv)
    if tv[:2] < MIN_TOOLS_VERSION:
        return Verdict("tools_version", "fail", f"{shown}; the guest needs VMware Tools {need} or later")
    return Verdict("tools_version", "ok", shown)


def _flag(facts: VmFacts) -> Verdict:
    if facts.enabled is None:
        return Verdict("vmOpNotificationToAppEnabled", "fail", "not readable at this API version")
    if not facts.enabled:
        return Verdict("vmOpNotificationToAppEnabled", "fail", "false: applications cannot register (vm NAME --enable)")
    return Verdict("vmOpNotificationToAppEnabled", "ok", "true")


def _vm_timeout(facts: VmFacts) -> Verdict:
    if facts.api_version < FIELD_SINCE["vmOpNotificationTimeout"]:
        return Verdict("vmOpNotificationTimeout", "warn", "not readable at this API version")
    t = facts.vm_timeout
    if not vm_timeout_is_set(t):
        return Verdict("vmOpNotificationTimeout", "ok", "unset: the host value applies")
    if t == 0:
        # S6 DOC asks for a non-zero positive value; the effective-timeout rule falls back to the host.
        return Verdict(
            "vmOpNotificationTimeout",
            "warn",
            "0: the API documentation requires a positive value; the host value is used instead",
        )
    return Verdict("vmOpNotificationTimeout", "ok", f"{t} s (the smaller of this and the host value applies)")


def _hosts(facts: VmFacts, effective: dict[str, int]) -> list[Verdict]:
    verdicts: list[Verdict] = []
    # With no current host, the VM cannot be notified only if no host would notify.
    nowhere_works = facts.current_host is None and all(t <= 0 for t in effective.values())
    for host in facts.hosts:
        shown = "absent (default 0)" if host.timeout is None else f"{host.timeout} s"
        here = " (the VM runs here)" if host.name == facts.current_host else ""
        if effective[host.name] <= 0:
            status: Status = "fail" if host.name == facts.current_host or nowhere_works else "warn"
            detail = (
                f"{shown}{here}: a vMotion starting from this host sends no notification (host {host.name} --timeout N)"
            )
        elif host.timeout == DISPLAYED_DEFAULT:
            status = "warn"
            detail = (
                f"{shown}{here}: {DISPLAYED_DEFAULT} is what a host displays while its real default is 0; "
                f"if it was never set, set it explicitly (host {host.name} --timeout N --force)"
            )
        else:
            status, detail = "ok", f"{shown}{here}, effective {effective[host.name]} s"
        verdicts.append(Verdict(f"host {host.name}", status, detail))
    if not facts.hosts:
        verdicts.append(Verdict("hosts", "fail", "the VM has no host to run on"))
    return verdicts


def preflight(facts: VmFacts) -> Preflight:
    effective = {h.name: effective_timeout(h.timeout, facts.vm_timeout) for h in facts.hosts}
    verdicts = [_api(facts), _hardware(facts), _tools(facts), _flag(facts), _vm_timeout(facts)]
    verdicts += _hosts(facts, effective)
    current = effective.get(facts.current_host) if facts.current_host is not None else None
    if facts.current_host is None and facts.hosts:
        verdicts.append(Verdict("current_host", "warn", "the VM is on no host now; see each host above"))
    return Preflight(verdicts=verdicts, effective_timeout=current, effective_by_host=effective)
