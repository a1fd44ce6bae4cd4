"""The two VM fields on the wire: read them back, and reconfigure only what the plan says."""

from __future__ import annotations

from typing import Any

from helper.changes import VmChange, VmSettings
from helper.properties import read_properties
from helper.vmomi import WaitForTask, long_type, vim

ENABLED = "config.vmOpNotificationToAppEnabled"
TIMEOUT = "config.vmOpNotificationTimeout"


def read_vm_settings(content: Any, vm: Any) -> VmSettings:
    values = read_properties(content, vm, [ENABLED, TIMEOUT])
    return VmSettings.from_server(values.get(ENABLED), values.get(TIMEOUT))


def config_spec(change: VmChange) -> Any:
    """A ConfigSpec holding only the fields to change (the stock pyVmomi type, nothing redefined)."""
    spec = vim.vm.ConfigSpec()
    if change.enabled is not None:
        spec.vmOpNotificationToAppEnabled = change.enabled
    if change.timeout is not None:
        spec.vmOpNotificationTimeout = long_type(change.timeout)  # xsd:long [protocol.md §8.1]
    return spec


def reconfigure_vm(vm: Any, change: VmChange) -> None:
    """Run ReconfigVM_Task and wait for it; a failed task raises its fault (a vmodl.MethodFault)."""
    WaitForTask(vm.ReconfigVM_Task(spec=config_spec(change)))
