"""The pyVmomi names the helper uses, in one place, typed as ``Any``.

pyVmomi ships ``py.typed`` but leaves its functions and generated types unannotated, so under mypy's strict
mode every call would be an "untyped call"; older pyVmomi releases have no ``py.typed`` at all. Going
through ``Any`` here keeps the rest of the helper strictly typed on both. Nothing is patched or redefined.
"""

from __future__ import annotations

from typing import Any

from pyVim import connect as _connect
from pyVim import task as _task
from pyVmomi import VmomiSupport as _support
from pyVmomi import vim as _vim
from pyVmomi import vmodl as _vmodl

vim: Any = _vim
vmodl: Any = _vmodl
SmartConnect: Any = _connect.SmartConnect
Disconnect: Any = _connect.Disconnect
WaitForTask: Any = _task.WaitForTask
long_type: Any = _support.vmodlTypes["long"]  # xsd:long on the wire (a plain int goes out as xsd:int)
version_ids: Any = _support.versionIdMap  # "vim.version.v8_0_1_0" -> "8.0.1.0"
