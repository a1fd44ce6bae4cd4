"""The optional bridge from a vCenter (or the vCenter simulator) to the guest simulator, over pyVmomi.

In a real vSphere the hypervisor reads the notification settings from the VM and the hosts; here the bridge
does it for the guest simulator: ``settings_for_move(vm, destination)`` reads the VM's
``vmOpNotificationToAppEnabled`` and ``vmOpNotificationTimeout`` and the ``VmOpNotificationToApp.Timeout``
option of the host the VM runs on (the source decides [S5/S10]) and of the destination host, and ``apply``
hands them to a :class:`~simulator.Simulator`, which derives its effective and destination timeouts from them.
Once the simulated migration has ended with success, ``relocate`` moves the VM in vCenter (``RelocateVM_Task``).

It reads vCenter through the helper's own vSphere code (``helper.inventory`` finds one object by its decoded
name, ``helper.host_option`` reads the option by its exact key), so both see vCenter the same way.
pyVmomi is needed only here (the ``[helper]`` extra); the rest of ``simulator`` runs on the standard library.
"""

from __future__ import annotations

import ssl
from dataclasses import dataclass
from typing import Any, List, Optional

from simulator.inprocess import Simulator, SimulatorError


class BridgeError(Exception):
    """vCenter could not be read or changed as asked (the message says why)."""


@dataclass(frozen=True)
class MoveSettings:
    """What the hypervisor would apply to one vMotion of one VM."""

    vm: str
    source_host: str
    destination_host: str
    enabled: bool
    vm_timeout: Optional[int]  # None: unset (vSphere reads -1)
    host_timeout: int  # the source host's option; absent counts as 0, its real default [S1 3P]
    dest_host_timeout: int


def _vim() -> Any:
    try:
        from pyVmomi import vim
    except ImportError as e:
        raise BridgeError("the vCenter bridge needs pyVmomi (the [helper] extra)") from e
    return vim


def _pyvim(module: str) -> Any:
    """pyVim's modules typed as Any: pyVmomi leaves its functions unannotated (mypy strict would refuse them)."""
    import importlib

    return importlib.import_module(f"pyVim.{module}")


class VCenterBridge:
    def __init__(self, host: str, port: int, user: str, password: str, validate_certs: bool = True) -> None:
        vim = _vim()
        connect = _pyvim("connect")
        context = ssl.create_default_context()
        if not validate_certs:
            # Only on explicit request: the vCenter simulator's certificate is self-signed.
            context.check_hostname = False
            context.verify_mode = ssl.CERT_NONE
        try:
            self.si = connect.SmartConnect(host=host, port=port, user=user, pwd=password, sslContext=context)
        except Exception as e:  # pyVmomi raises faults, socket and SSL errors alike
            raise BridgeError(f"cannot connect to vCenter at {host}:{port}: {e}") from e
        self._vim = vim

    def close(self) -> None:
        _pyvim("connect").Disconnect(self.si)

    def __enter__(self) -> VCenterBridge:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # ------------------------------------------------------------------------------------ reading
    def _find(self, kind: str, name: str) -> Any:
        from helper.errors import HelperError
        from helper.inventory import find_by_name

        try:
            return find_by_name(self.si.RetrieveContent(), kind, name)
        except HelperError as e:
            raise BridgeError(f"vCenter: {e}") from None

    def vm(self, name: str) -> Any:
        return self._find("VM", name)

    def host(self, name: str) -> Any:
        return self._find("host", name)

    def current_host(self, vm_name: str) -> str:
        return str(self.vm(vm_name).runtime.host.name)

    def cluster_hosts(self, cluster_name: str) -> List[str]:
        return sorted(str(h.name) for h in self._find("cluster", cluster_name).host)

    def other_hosts(self, vm_name: str) -> List[str]:
        """The hosts of the VM's cluster it does not run on: where a vMotion can take it."""
        here = self.vm(vm_name).runtime.host
        return sorted(str(h.name) for h in here.parent.host if h.name != here.name)

    def host_timeout(self, host_name: str) -> int:
        """The host's option by its exact key; absent (or not an integer) counts as 0, its real default."""
        from helper.host_option import read_host_timeout

        return read_host_timeout(self.host(host_name)) or 0

    def vm_settings(self, vm_name: str) -> tuple[bool, Optional[int]]:
        """(vmOpNotificationToAppEnabled, vmOpNotificationTimeout or None when unset)."""
        config = self.vm(vm_name).config
        enabled = bool(getattr(config, "vmOpNotificationToAppEnabled", False))
        timeout = getattr(config, "vmOpNotificationTimeout", None)
        return enabled, (None if timeout is None or int(timeout) < 0 else int(timeout))

    def settings_for_move(self, vm_name: str, destination: str) -> MoveSettings:
        source = self.current_host(vm_name)
        enabled, vm_timeout = self.vm_settings(vm_name)
        return MoveSettings(
            vm=vm_name,
            source_host=source,
            destination_host=destination,
            enabled=enabled,
            vm_timeout=vm_timeout,
            host_timeout=self.host_timeout(source),
            dest_host_timeout=self.host_timeout(destination),
        )

    # ------------------------------------------------------------------------------------ acting
    @staticmethod
    def apply(sim: Simulator, settings: MoveSettings) -> None:
        """Give the guest simulator the settings vCenter holds (a change queues a timeout-change as usual)."""
        sim.set(
            enabled=settings.enabled,
            host_timeout=settings.host_timeout,
            vm_timeout=settings.vm_timeout,
            dest_host_timeout=settings.dest_host_timeout,
        )

    def request_vmotion(self, sim: Simulator, vm_name: str, destination: str) -> int:
        """Sync the settings for this move into the guest simulator, then request the migration there."""
        self.apply(sim, self.settings_for_move(vm_name, destination))
        return sim.vmotion()

    def complete_vmotion(self, sim: Simulator, operation_id: int, vm_name: str, destination: str) -> bool:
        """Once the simulated migration is done: move the VM in vCenter if it succeeded. True if it moved."""
        op = sim.operation(operation_id)
        if op["phase"] != "done":
            raise SimulatorError(f"operation {operation_id} is still {op['phase']}")
        if op["outcome"] != "success":
            return False
        self.relocate(vm_name, destination)
        return True

    def relocate(self, vm_name: str, host_name: str) -> None:
        spec = self._vim.vm.RelocateSpec(host=self.host(host_name))
        try:
            _pyvim("task").WaitForTask(self.vm(vm_name).RelocateVM_Task(spec))
        except Exception as e:
            raise BridgeError(f"RelocateVM_Task of {vm_name} to {host_name} failed: {e}") from e
