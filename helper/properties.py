"""Read several properties of one managed object in a single property-collector call."""

from __future__ import annotations

from typing import Any

from helper.vmomi import vmodl


def read_properties(content: Any, obj: Any, paths: list[str]) -> dict[str, Any]:
    """``{path: value}`` for the paths the server reports; an unset property is simply absent."""
    pc = vmodl.query.PropertyCollector
    spec = pc.FilterSpec(
        objectSet=[pc.ObjectSpec(obj=obj, skip=False)],
        propSet=[pc.PropertySpec(type=type(obj), pathSet=paths, all=False)],
    )
    values: dict[str, Any] = {}
    for item in content.propertyCollector.RetrieveContents([spec]) or []:
        for prop in item.propSet:
            values[prop.name] = prop.val
    return values
