"""A regression gate on timings: save each scenario's timings once, then fail a later run whose handler got
slower beyond a tolerance (start to ack, quiesce, end to unquiesce) or left less of the deadline (margin).

The baseline file is JSON: ``{"format": "vmotion-baseline", "format_version": 1, "scenarios": {NAME:
{TIMING: SECONDS}}}``. A scenario or timing the baseline lacks is not judged.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Dict, List, Optional

from simulator.report.results import GROWING, CheckResults
from simulator.untrusted_json import json_value

FORMAT = "vmotion-baseline"
FORMAT_VERSION = 1
DEFAULT_TOLERANCE_PCT = 20.0
LABELS = {"start_to_ack_s": "start to ack", "quiesce_s": "quiesce", "end_to_unquiesce_s": "end to unquiesce",
          "margin_s": "deadline margin"}
# Differences below this are noise of processes on real time, whatever the percentage says: a hook process starts
# 0.05 s late in one run and 0.15 s in the next on a loaded CI machine (end to unquiesce 0.07 s, then 0.15 s: +114 %).
ABSOLUTE_FLOOR_S = 0.25


class BaselineError(Exception):
    """The baseline file cannot be used (missing, not JSON, another format)."""


def save_baseline(results: CheckResults, path: Path) -> None:
    data = {"format": FORMAT, "format_version": FORMAT_VERSION, "harness_version": results.version,
            "scenarios": {s.name: s.measured() for s in results.scenarios if s.passed}}
    path.write_text(json.dumps(data, indent=2, sort_keys=True) + "\n")


def load_baseline(path: Path) -> Dict[str, Dict[str, float]]:
    try:
        data: Any = json_value(path.read_text())
    except OSError as err:
        raise BaselineError(f"cannot read the baseline {path}: {err.strerror}") from None
    except ValueError:
        raise BaselineError(f"the baseline {path} is not JSON") from None
    if not isinstance(data, dict) or data.get("format") != FORMAT or not isinstance(data.get("scenarios"), dict):
        raise BaselineError(f"{path} is not a baseline saved by --save-baseline")
    out: Dict[str, Dict[str, float]] = {}
    for name, timings in data["scenarios"].items():
        if isinstance(timings, dict):
            out[str(name)] = {k: float(v) for k, v in timings.items() if isinstance(v, (int, float))}
    return out


def regressions(current: Dict[str, float], base: Dict[str, float], tolerance_pct: float) -> List[str]:
    found: List[str] = []
    for key, now in current.items():
        before: Optional[float] = base.get(key)
        if before is None:
            continue
        change = now - before
        pct = 100.0 * change / before if before else float("inf")
        worse = change > 0 if key in GROWING else change < 0
        if worse and abs(change) > ABSOLUTE_FLOOR_S and abs(pct) > tolerance_pct:
            found.append(f"{LABELS[key]} {now:.2f} s vs baseline {before:.2f} s ({pct:+.0f}%)")
    return found


def apply_baseline(results: CheckResults, baseline: Dict[str, Dict[str, float]],
                   tolerance_pct: float = DEFAULT_TOLERANCE_PCT) -> None:
    """Fail, in place, every passed scenario whose timings regressed beyond the tolerance."""
    for s in results.scenarios:
        base = baseline.get(s.name)
        if not s.passed or base is None:
            continue
        found = regressions(s.measured(), base, tolerance_pct)
        if found:
            s.passed = False
            s.reason = "slower than the baseline: " + "; ".join(found)
