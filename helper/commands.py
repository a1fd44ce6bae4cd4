"""The helper's commands as functions: look up, read, plan (pure), write only if needed, read back.

Each returns a report (``helper.reports``) or raises a HelperError; the CLI only parses and prints.
"""

from __future__ import annotations

from typing import Any, Optional

from helper import host_option, vm_config
from helper.changes import VmSettings, plan_host_change, plan_vm_change
from helper.connection import Session
from helper.errors import ExitCode, HelperError
from helper.inventory import find_by_name, hosts_around, hosts_of_cluster
from helper.preflight import HostFacts, VmFacts, preflight
from helper.properties import read_properties
from helper.reports import CheckReport, ClusterReport, HostReport, VmReport
from helper.timeouts import describe_vm_timeout
from helper.versions import (
    FIELD_SINCE,
    api_too_old_reason,
    parse_hardware_version,
    parse_tools_version,
)
from helper.vmomi import vmodl

_UPGRADE_HINT = "vMotion notifications need vCenter and ESXi 8.0 or later (API 8.0.0.1+)"


def server_fault(what: str, fault: Any) -> HelperError:
    message = getattr(fault, "msg", None) or ""
    faults = getattr(fault, "faultMessage", None) or []
    details = "; ".join(m.message for m in faults if getattr(m, "message", None))
    text = ": ".join(part for part in (type(fault).__name__, message, details) if part)
    return HelperError(ExitCode.SERVER_FAULT, f"{what} ({text})")


def _describe(settings: VmSettings) -> str:
    return f"enabled={str(settings.enabled).lower()}, timeout={describe_vm_timeout(settings.timeout)}"


def vm_command(
    session: Session,
    name: str,
    enable: Optional[bool] = None,
    timeout: Optional[int] = None,
    dry_run: bool = False,
) -> VmReport:
    """Show the VM's two fields, and set the ones given (``timeout`` -1 unsets it)."""
    reason = api_too_old_reason(session.api_version)
    if reason:
        raise HelperError(ExitCode.API_TOO_OLD, f"refusing to read or change VM {name!r}: {reason}", _UPGRADE_HINT)
    vm = find_by_name(session.content, "VM", name)
    before = vm_config.read_vm_settings(session.content, vm)
    change = plan_vm_change(before, enable, timeout)
    requested = enable is not None or timeout is not None
    if change.is_empty or dry_run:
        return VmReport(name, session.api_version, before, change.applied_to(before), change, dry_run, requested)
    try:
        vm_config.reconfigure_vm(vm, change)
    except vmodl.MethodFault as fault:
        raise server_fault(f"VM {name!r}: ReconfigVM_Task failed", fault) from None
    after = vm_config.read_vm_settings(session.content, vm)
    expected = change.applied_to(before)
    if after != expected:
        raise HelperError(
            ExitCode.NOT_APPLIED,
            f"VM {name!r}: the reconfigure task succeeded but the VM reads back {_describe(after)} "
            f"instead of {_describe(expected)}; the server ignored the change",
        )
    return VmReport(name, session.api_version, before, after, change, dry_run, requested)


def _apply_host(host: Any, name: str, timeout: Optional[int], dry_run: bool, force: bool) -> HostReport:
    before = host_option.read_host_timeout(host)
    if timeout is None:
        return HostReport(name, before, before, None, dry_run, requested=False)
    new = plan_host_change(before, timeout, force)
    if new is None or dry_run:
        return HostReport(name, before, before if new is None else new, new, dry_run, requested=True)
    try:
        host_option.write_host_timeout(host, new)
    except vmodl.MethodFault as fault:
        raise server_fault(f"host {name!r}: UpdateOptions({host_option.OPTION_KEY}={new}) refused", fault) from None
    after = host_option.read_host_timeout(host)
    if after != new:
        raise HelperError(
            ExitCode.NOT_APPLIED,
            f"host {name!r}: {host_option.OPTION_KEY} reads back {after} after writing {new}",
        )
    return HostReport(name, before, after, new, dry_run, requested=True)


def host_command(
    session: Session, name: str, timeout: Optional[int] = None, dry_run: bool = False, force: bool = False
) -> HostReport:
    """Show the host's ``VmOpNotificationToApp.Timeout``, and set it when ``timeout`` is given."""
    host = find_by_name(session.content, "host", name)
    return _apply_host(host, name, timeout, dry_run, force)


def cluster_command(
    session: Session, name: str, timeout: Optional[int] = None, dry_run: bool = False, force: bool = False
) -> ClusterReport:
    """The host option on every host of the cluster: the host a VM runs on when a vMotion starts decides."""
    cluster = find_by_name(session.content, "cluster", name)
    reports: list[HostReport] = []
    for host in hosts_of_cluster(cluster):
        try:
            reports.append(_apply_host(host, str(host.name), timeout, dry_run, force))
        except HelperError as error:
            done = [r.host for r in reports if r.changed]
            if done:
                error.message += f"; already changed before this failure: {', '.join(done)}"
            raise
    return ClusterReport(name, timeout, reports, dry_run)


def _check_paths(session: Session) -> list[str]:
    paths = ["config.version", "config.tools.toolsVersion", "guest.toolsVersion", "runtime.host"]
    # Ask only for what exists at the negotiated version; a newer field would not come back anyway.
    if session.api_version >= FIELD_SINCE["vmOpNotificationToAppEnabled"]:
        paths.append(vm_config.ENABLED)
    if session.api_version >= FIELD_SINCE["vmOpNotificationTimeout"]:
        paths.append(vm_config.TIMEOUT)
    return paths


def check_command(session: Session, name: str) -> CheckReport:
    """Preflight: gather the facts that decide whether notifications would work, then judge them."""
    vm = find_by_name(session.content, "VM", name)
    values = read_properties(session.content, vm, _check_paths(session))
    current = values.get("runtime.host")
    hosts = hosts_around(current) if current is not None else []
    enabled: Optional[bool] = None
    if vm_config.ENABLED in _check_paths(session):
        enabled = bool(values.get(vm_config.ENABLED))
    tools = parse_tools_version(values.get("guest.toolsVersion")) or parse_tools_version(
        values.get("config.tools.toolsVersion")
    )
    facts = VmFacts(
        name=name,
        api_version=session.api_version,
        hardware_version=parse_hardware_version(values.get("config.version")),
        tools_version=tools,
        enabled=enabled,
        vm_timeout=values.get(vm_config.TIMEOUT),
        current_host=str(current.name) if current is not None else None,
        hosts=[HostFacts(str(h.name), host_option.read_host_timeout(h)) for h in hosts],
    )
    return CheckReport(facts, preflight(facts))
