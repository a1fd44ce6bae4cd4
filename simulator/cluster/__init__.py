"""A host's evacuation as a what-if: many VMs, each with its own simulated notification service and the
real handler core in its guest, migrated under the host's limit of concurrent vMotions, on virtual time.

    from simulator.cluster import EvacuationPlan, evacuate
    result = evacuate(EvacuationPlan(vms=40, concurrency=8, timeouts=(120,)))
    print(result.total_seconds, [r.name for r in result.forced])

The names are loaded on first use: ``vmotion-sim`` registers its ``evacuate`` subcommand from this package
on every start, and must not pay for importing the handler core each time.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from simulator.cluster.distributions import (
        Constant,
        Distribution,
        LogNormal,
        Uniform,
        parse_distribution,
        register_distribution,
    )
    from simulator.cluster.evacuation import EvacuationPlan, evacuate
    from simulator.cluster.knobs import ClusterKnobs
    from simulator.cluster.record import VmRecord
    from simulator.cluster.result import Evacuation

_WHERE = {
    "ClusterKnobs": "knobs",
    "Constant": "distributions",
    "Distribution": "distributions",
    "Evacuation": "result",
    "EvacuationPlan": "evacuation",
    "LogNormal": "distributions",
    "Uniform": "distributions",
    "VmRecord": "record",
    "evacuate": "evacuation",
    "parse_distribution": "distributions",
    "register_distribution": "distributions",
}

__all__ = [
    "ClusterKnobs",
    "Constant",
    "Distribution",
    "Evacuation",
    "EvacuationPlan",
    "LogNormal",
    "Uniform",
    "VmRecord",
    "evacuate",
    "parse_distribution",
    "register_distribution",
]


def __getattr__(name: str) -> Any:
    module = _WHERE.get(name)
    if module is None:
        raise AttributeError(f"module 'simulator.cluster' has no attribute {name!r}")
    return getattr(importlib.import_module(f"simulator.cluster.{module}"), name)
