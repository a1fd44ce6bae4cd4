"""A second, independent pyVmomi connection: how the tests see what the helper really changed.

It shares no code with ``helper`` on purpose: a helper bug must not be able to hide behind the same bug
in its own read path. It also sets up what the default inventory lacks (duplicate names).
"""

from __future__ import annotations

import ssl
from typing import Any, Optional

from pyVim import connect as _connect
from pyVim import task as _task
from pyVmomi import VmomiSupport as _support
from pyVmomi import vim as _vim

from simulator.vcenter.vcsim import VcsimEndpoint

vim: Any = _vim  # pyVmomi is unannotated: see helper/vmomi.py
long_type: Any = _support.vmodlTypes["long"]
OPTION = "VmOpNotificationToApp.Timeout"


class Readback:
    def __init__(self, endpoint: VcsimEndpoint, version: Optional[str] = None) -> None:
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE  # the simulator's certificate is self-signed
        connect: Any = _connect.Connect if version else _connect.SmartConnect
        kwargs: dict[str, Any] = {"version": version} if version else {}
        # An explicit version bypasses negotiation: it reads fields an old advertised API would hide.
        self.si = connect(
            host=endpoint.host,
            port=endpoint.port,
            user=endpoint.username,
            pwd=endpoint.password,
            sslContext=context,
            **kwargs,
        )
        self.content = self.si.RetrieveContent()

    def close(self) -> None:
        disconnect: Any = _connect.Disconnect
        disconnect(self.si)

    def all_of(self, vim_type: Any, name: str) -> list[Any]:
        view = self.content.viewManager.CreateContainerView(self.content.rootFolder, [vim_type], True)
        try:
            return [obj for obj in view.view if obj.name == name]
        finally:
            view.Destroy()

    def one(self, vim_type: Any, name: str) -> Any:
        found = self.all_of(vim_type, name)
        assert len(found) == 1, f"{len(found)} objects named {name}"
        return found[0]

    def vm_fields(self, name: str) -> tuple[Any, Any]:
        config = self.one(vim.VirtualMachine, name).config
        return config.vmOpNotificationToAppEnabled, config.vmOpNotificationTimeout

    def host_timeout(self, name: str) -> Any:
        options = self.one(vim.HostSystem, name).configManager.advancedOption.QueryOptions(name=OPTION)
        values = [o.value for o in options if o.key == OPTION]
        assert len(values) == 1, values
        return values[0]

    def set_vm(self, name: str, enabled: Optional[bool] = None, timeout: Optional[int] = None) -> None:
        spec = vim.vm.ConfigSpec()
        if enabled is not None:
            spec.vmOpNotificationToAppEnabled = enabled
        if timeout is not None:
            spec.vmOpNotificationTimeout = timeout
        self.wait(self.one(vim.VirtualMachine, name).ReconfigVM_Task(spec=spec))

    def set_host(self, name: str, seconds: int) -> None:
        option = vim.option.OptionValue(key=OPTION, value=long_type(seconds))
        self.one(vim.HostSystem, name).configManager.advancedOption.UpdateOptions(changedValue=[option])

    def current_host(self, vm_name: str) -> str:
        return str(self.one(vim.VirtualMachine, vm_name).runtime.host.name)

    def reconfigure_tasks(self, vm_name: str) -> int:
        """How many ReconfigVM_Task the server has run on this VM (its recent-task history)."""
        vm = self.one(vim.VirtualMachine, vm_name)
        return sum(
            1
            for t in self.content.taskManager.recentTask
            if t.info.entity == vm and t.info.descriptionId == "VirtualMachine.reconfigVm"
        )

    def wait(self, task: Any) -> None:
        wait_for_task: Any = _task.WaitForTask
        wait_for_task(task)

    def duplicate_vm(self, name: str) -> None:
        """A second VM called ``name`` in a folder of its own (names are unique only per folder)."""
        original = self.one(vim.VirtualMachine, name)
        datacenter = self.content.rootFolder.childEntity[0]
        folder = datacenter.vmFolder.CreateFolder("duplicates")
        spec = vim.vm.ConfigSpec(name=name, guestId="otherGuest", files=vim.vm.FileInfo(vmPathName="[LocalDS_0]"))
        self.wait(folder.CreateVM_Task(config=spec, pool=original.resourcePool))

    def duplicate_cluster_and_host(self, cluster: str, host: str) -> None:
        """A second datacenter holding a cluster and a standalone host with these existing names."""
        datacenter = self.content.rootFolder.CreateDatacenter("DC_duplicates")
        datacenter.hostFolder.CreateClusterEx(cluster, vim.cluster.ConfigSpecEx())
        connect = vim.host.ConnectSpec(hostName=host, userName="root", password="unused", force=True)
        self.wait(datacenter.hostFolder.AddStandaloneHost_Task(spec=connect, addConnected=True))
