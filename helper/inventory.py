"""Find managed objects by name: one container view, one property-collector query, exactly one match."""

from __future__ import annotations

from typing import Any
from urllib.parse import unquote

from helper.errors import ExitCode, HelperError
from helper.vmomi import vim, vmodl

KINDS: dict[str, Any] = {
    "VM": vim.VirtualMachine,
    "host": vim.HostSystem,
    "cluster": vim.ClusterComputeResource,
}


def _names_of(content: Any, vim_type: Any) -> list[tuple[Any, str]]:
    """Every object of ``vim_type`` with its name, fetched in one query instead of one call per object."""
    view = content.viewManager.CreateContainerView(content.rootFolder, [vim_type], True)
    try:
        traverse = vmodl.query.PropertyCollector.TraversalSpec(
            name="view", path="view", skip=False, type=vim.view.ContainerView
        )
        spec = vmodl.query.PropertyCollector.FilterSpec(
            objectSet=[vmodl.query.PropertyCollector.ObjectSpec(obj=view, skip=True, selectSet=[traverse])],
            propSet=[vmodl.query.PropertyCollector.PropertySpec(type=vim_type, pathSet=["name"], all=False)],
        )
        collector = content.propertyCollector
        found: list[tuple[Any, str]] = []
        result = collector.RetrievePropertiesEx([spec], vmodl.query.PropertyCollector.RetrieveOptions())
        while result is not None:
            for item in result.objects:
                name = next((p.val for p in item.propSet if p.name == "name"), None)
                if isinstance(name, str):
                    found.append((item.obj, name))
            result = collector.ContinueRetrievePropertiesEx(result.token) if result.token else None
        return found
    finally:
        view.Destroy()


def find_by_name(content: Any, kind: str, name: str) -> Any:
    """The one object of this kind called ``name``; unknown and ambiguous names are distinct errors."""
    vim_type = KINDS[kind]
    # vSphere stores "%", "/" and "\" in names escaped (%25, %2f, %5c): compare what the user sees.
    matches = [obj for obj, obj_name in _names_of(content, vim_type) if name in (obj_name, unquote(obj_name))]
    if not matches:
        raise HelperError(ExitCode.NOT_FOUND, f"no {kind} named {name!r}")
    if len(matches) > 1:
        ids = ", ".join(sorted(obj._moId for obj in matches))
        raise HelperError(
            ExitCode.AMBIGUOUS,
            f"{len(matches)} {kind}s are named {name!r} ({ids}); rename all but one to configure it",
        )
    return matches[0]


def hosts_of_cluster(cluster: Any) -> list[Any]:
    return sorted(cluster.host, key=lambda host: str(host.name))


def hosts_around(host: Any) -> list[Any]:
    """Every host a VM on ``host`` may be moved to by its cluster: the cluster's hosts, or just this one."""
    parent = host.parent
    if isinstance(parent, vim.ClusterComputeResource):
        return hosts_of_cluster(parent)
    return [host]
