"""A host's evacuation as a what-if: many VMs, each with its own simulated notification service and the
real handler core in its guest, migrated under the host's limit of concurrent vMotions, on virtual time.

    from simulator.cluster import EvacuationPlan, evacuate
    result = evacuate(EvacuationPlan(vms=40, concurrency=8, timeouts=(120,)))
    print(result.total_seconds, [r.name for r in result.forced])
"""

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
