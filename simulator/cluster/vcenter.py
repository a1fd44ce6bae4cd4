"""``evacuate --from-vcenter HOST``: the VMs a host runs and their timeouts, read from vCenter by the helper.

The helper's own code does the reading (its credentials from ``VMWARE_HOST``, ``VMWARE_USER``,
``VMWARE_PASSWORD``, ``VMWARE_PORT``, ``VMWARE_VALIDATE_CERTS``; its session, name lookup, host option and VM
settings readers; its effective-timeout rule), so the what-if sees exactly what the helper would report. It
needs pyVmomi (the ``[helper]`` extra); the rest of the what-if runs on the standard library.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, List, Mapping, Optional, Tuple

POWERED_ON = "poweredOn"


class VCenterUnusable(Exception):
    """vCenter could not be read as asked; ``usage`` tells a bad request (exit 2) from a failed read (exit 3)."""

    def __init__(self, message: str, usage: bool) -> None:
        super().__init__(message)
        self.usage = usage


@dataclass(frozen=True)
class VmOnHost:
    name: str
    enabled: bool  # vmOpNotificationToAppEnabled
    vm_timeout: Optional[int]  # vmOpNotificationTimeout; None: unset
    effective_timeout: int  # what its guest would be told; 0: no notifications for it


@dataclass(frozen=True)
class HostToEvacuate:
    name: str
    host_timeout: Optional[int]  # VmOpNotificationToApp.Timeout; None: absent (the host's real default, 0)
    vms: Tuple[VmOnHost, ...]  # the powered-on VMs, the ones maintenance mode moves, by name


def read_host(host_name: str, env: Mapping[str, str]) -> HostToEvacuate:
    try:
        from helper.changes import VmSettings
        from helper.connection import Session
        from helper.credentials import credentials_from_env
        from helper.errors import ExitCode, HelperError
        from helper.host_option import read_host_timeout
        from helper.inventory import find_by_name
        from helper.properties import read_properties
        from helper.timeouts import effective_timeout
        from helper.vm_config import ENABLED, TIMEOUT
    except ImportError as missing:
        raise VCenterUnusable(f"--from-vcenter needs pyVmomi (the [helper] extra): {missing}", usage=True) from None
    usage_codes = {ExitCode.USAGE, ExitCode.NOT_FOUND, ExitCode.AMBIGUOUS}
    try:
        with Session.open(credentials_from_env(env)) as session:
            host = find_by_name(session.content, "host", host_name)
            host_timeout = read_host_timeout(host)
            vms: List[VmOnHost] = []
            for vm in list(host.vm):
                values: Any = read_properties(session.content, vm, ["name", "runtime.powerState", ENABLED, TIMEOUT])
                if str(values.get("runtime.powerState")) != POWERED_ON:
                    continue
                settings = VmSettings.from_server(values.get(ENABLED), values.get(TIMEOUT))
                effective = effective_timeout(host_timeout, settings.timeout) if settings.enabled else 0
                vms.append(VmOnHost(str(values.get("name")), settings.enabled, settings.timeout, max(0, effective)))
    except HelperError as error:
        raise VCenterUnusable(error.one_line(), usage=error.code in usage_codes) from None
    return HostToEvacuate(host_name, host_timeout, tuple(sorted(vms, key=lambda v: v.name)))
