"""An evacuation's outcome: the total, who was forced, who was cut short, the critical path, the margins."""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any, Dict, List, Optional, Sequence, Tuple

from simulator.cluster.record import PHASES, VmRecord

if TYPE_CHECKING:
    from simulator.cluster.evacuation import EvacuationPlan


def _r(value: float) -> float:
    return round(value, 6)


def nearest_rank(ordered: Sequence[float], fraction: float) -> float:
    """An observed value: the smallest with at least ``fraction`` of the values at or below it."""
    return ordered[max(1, math.ceil(fraction * len(ordered))) - 1]


class Evacuation:
    """Times are seconds since maintenance mode began."""

    def __init__(self, plan: EvacuationPlan, records: List[VmRecord]) -> None:
        self.plan = plan
        self.records = records

    @property
    def total_seconds(self) -> float:
        """When the last VM's migration ended: the host is empty."""
        return max(r.ended for r in self.records)

    @property
    def forced(self) -> List[VmRecord]:
        """VMs whose migration the hypervisor forced at its timeout (no ack came in time)."""
        return [r for r in self.records if r.forced]

    @property
    def quiesce_cut(self) -> List[VmRecord]:
        """VMs whose handler killed the quiesce at its deadline (timeout minus the safety margin)."""
        return [r for r in self.records if r.quiesce_cut]

    def critical_path(self) -> List[VmRecord]:
        """The chain of VMs that decides the total: the last to end, the VM whose migration freed the slot it
        waited for, and so on back to maintenance start."""
        last = max(self.records, key=lambda r: (r.ended, -r.index))
        path = [last]
        while path[-1].after is not None:
            path.append(self.records[path[-1].after])
        return path[::-1]

    def critical_phases(self) -> Dict[str, float]:
        """The total, split by what the critical path spent its time on (each VM from the end of the one
        before it, or from maintenance start)."""
        totals = dict.fromkeys(PHASES, 0.0)
        begin = 0.0
        for record in self.critical_path():
            for name, a, b in record.phases():
                a, b = max(a, begin), min(b, record.ended)
                if b > a:
                    totals[name] += b - a
            begin = record.ended
        return totals

    def margins(self) -> List[float]:
        """Per notified VM, seconds its hold ended before the hypervisor's deadline (0 when forced)."""
        return sorted(m for m in (r.margin for r in self.records) if m is not None)

    def all_slots_waiting_seconds(self) -> float:
        """How long every one of the host's slots was held by a migration still waiting for its ack."""
        edges: List[Tuple[float, int]] = []
        for r in self.records:
            if r.admitted is not None and r.released is not None and r.released > r.admitted:
                edges += [(r.admitted, 1), (r.released, -1)]
        edges.sort(key=lambda e: (e[0], e[1]))  # a release before an admission at the same instant
        waiting, since, total = 0, 0.0, 0.0
        for when, change in edges:
            if waiting >= self.plan.concurrency:
                total += when - since
            waiting += change
            since = when
        return total

    def summary(self) -> Dict[str, Any]:
        margins = self.margins()
        path = self.critical_path()
        quiesced = sorted(r.unquiesced - r.quiesce[0] for r in self.records
                          if r.quiesce is not None and r.unquiesced is not None)
        plan = self.plan
        return {
            "host": plan.host,
            "total_seconds": _r(self.total_seconds),
            "vm_count": len(self.records),
            "concurrency": plan.concurrency,
            "waves": math.ceil(len(self.records) / plan.concurrency),
            "forced": [r.name for r in self.forced],
            "quiesce_cut": [r.name for r in self.quiesce_cut],
            "acked": sum(1 for r in self.records if r.acked),
            "not_notified": [r.name for r in self.records if r.timeout <= 0],
            "critical_path": {
                "vms": [r.name for r in path],
                "seconds": {k: _r(v) for k, v in self.critical_phases().items()},
            },
            "margins": _distribution(margins),
            "quiesced_seconds": _distribution(quiesced),
            "all_slots_waiting_seconds": _r(self.all_slots_waiting_seconds()),
            "settings": {
                "quiesce": plan.quiesce.describe(),
                "migration_seconds": plan.migration_seconds.describe(),
                "timeouts": sorted(set(plan.timeouts)),
                "interval": plan.interval,
                "safety_margin": plan.safety_margin,
                "on_quiesce_failure": plan.on_quiesce_failure,
                "seed": plan.seed,
                "aligned_polls": plan.aligned_polls,
                "knobs": plan.knobs.as_dict(),
            },
        }

    def as_json(self) -> Dict[str, Any]:
        return {**self.summary(), "vms": [r.as_json() for r in self.records]}

    def lines(self) -> List[str]:
        """The summary for a person."""
        s = self.summary()
        path = s["critical_path"]
        spent = ", ".join(f"{k.replace('_', ' ')} {_s(v)} s" for k, v in path["seconds"].items() if v)
        names = path["vms"]
        shown = " -> ".join(names) if len(names) <= 6 else " -> ".join([*names[:3], "...", *names[-2:]])
        m = s["margins"]
        out = [
            f"evacuated {s['vm_count']} VMs in {_s(s['total_seconds'])} s "
            f"({s['concurrency']} at a time, {s['waves']} waves)",
            f"forced by the timeout: {_names(s['forced'])}",
            f"quiesce cut at the deadline: {_names(s['quiesce_cut'])}",
            f"critical path ({len(names)} VMs): {shown}",
            f"  {spent}",
        ]
        if m["count"]:
            out.append(f"margins before the timeout: min {_s(m['min'])} s, median {_s(m['median'])} s, "
                       f"max {_s(m['max'])} s")
        out.append(f"all slots waiting on acks: {_s(s['all_slots_waiting_seconds'])} s")
        return out


def _s(seconds: Optional[float]) -> str:
    return "-" if seconds is None else f"{seconds:.3f}".rstrip("0").rstrip(".")


def _names(names: Sequence[str]) -> str:
    if not names:
        return "none"
    shown = ", ".join(names[:8])
    return f"{len(names)} ({shown}{', ...' if len(names) > 8 else ''})"


def _distribution(ordered: Sequence[float]) -> Dict[str, Optional[float]]:
    if not ordered:
        return {"count": 0, "min": None, "p10": None, "median": None, "p90": None, "max": None, "mean": None}
    return {
        "count": len(ordered),
        "min": _r(ordered[0]),
        "p10": _r(nearest_rank(ordered, 0.10)),
        "median": _r(nearest_rank(ordered, 0.50)),
        "p90": _r(nearest_rank(ordered, 0.90)),
        "max": _r(ordered[-1]),
        "mean": _r(sum(ordered) / len(ordered)),
    }
