"""Small pyvmomi look-ups shared by the tests of tests/vcsim."""

from __future__ import annotations

from typing import Any, Callable

from pyVmomi import vim

from simulator.vcenter.vcsim import VcsimEndpoint

# What the `connect` fixture returns: open a pyvmomi session to an endpoint.
Connect = Callable[[VcsimEndpoint], Any]


def find(si: Any, kind: Any, name: str) -> Any:
    """The managed object of type ``kind`` named ``name`` (exactly one must exist)."""
    view = si.content.viewManager.CreateContainerView(si.content.rootFolder, [kind], True)
    try:
        found = [obj for obj in view.view if obj.name == name]
    finally:
        view.Destroy()
    assert len(found) == 1, f"{len(found)} objects of {kind} named {name!r}"
    return found[0]


def vm_named(si: Any, name: str) -> Any:
    return find(si, vim.VirtualMachine, name)


def host_named(si: Any, name: str) -> Any:
    return find(si, vim.HostSystem, name)
