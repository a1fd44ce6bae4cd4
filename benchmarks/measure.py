"""Statistics and the result record shared by every figure."""

from __future__ import annotations

import math
import statistics
import time
from dataclasses import asdict, dataclass, field
from typing import Any, Callable, Dict, List, Optional, Sequence


def median(values: Sequence[float]) -> float:
    return float(statistics.median(values)) if values else math.nan


def p95(values: Sequence[float]) -> float:
    """Nearest-rank 95th percentile: an observed value, never an interpolation past the data."""
    if not values:
        return math.nan
    ordered = sorted(values)
    rank = max(1, math.ceil(0.95 * len(ordered)))
    return float(ordered[rank - 1])


def ratio(value: float, floor: float) -> float:
    return value / floor if floor > 0 and not math.isnan(value) else math.nan


@dataclass
class Row:
    """One figure: a value against its floor. Times are in the row's ``unit``."""

    figure: str
    name: str
    unit: str
    samples: List[float]
    floor_name: str
    floor_samples: List[float]
    target: str = ""
    # Ratio the target allows (value median / floor median); None when the target is not a ratio.
    target_ratio: Optional[float] = None
    # Set by the figure when the target is not a plain ratio (e.g. "never more than interval + one call").
    met_override: Optional[bool] = None
    note: str = ""
    extra: Dict[str, Any] = field(default_factory=dict)

    @property
    def median(self) -> float:
        return median(self.samples)

    @property
    def p95(self) -> float:
        return p95(self.samples)

    @property
    def floor_median(self) -> float:
        return median(self.floor_samples)

    @property
    def ratio(self) -> float:
        return ratio(self.median, self.floor_median)

    @property
    def met(self) -> Optional[bool]:
        if self.met_override is not None:
            return self.met_override
        if self.target_ratio is None or math.isnan(self.ratio):
            return None
        return self.ratio <= self.target_ratio

    def as_json(self) -> Dict[str, Any]:
        out = asdict(self)
        out.pop("met_override")
        out.update(
            n=len(self.samples),
            median=_clean(self.median),
            p95=_clean(self.p95),
            floor_n=len(self.floor_samples),
            floor_median=_clean(self.floor_median),
            floor_p95=_clean(p95(self.floor_samples)),
            ratio=_clean(self.ratio),
            met=self.met,
        )
        return out


def _clean(value: float) -> Optional[float]:
    """JSON has no NaN: a figure with no samples is null."""
    return None if math.isnan(value) else value


def time_call(fn: Callable[[], Any], scale: float = 1e3) -> float:
    """Wall time of one call, in ms by default."""
    start = time.perf_counter()
    fn()
    return (time.perf_counter() - start) * scale
