"""The table printed to the terminal (and pasted into the README) and the JSON document."""

from __future__ import annotations

import math
from typing import Any, Dict, List, Optional, Sequence

from benchmarks.measure import Row


def number(value: float) -> str:
    if math.isnan(value):
        return "-"
    if value >= 100:
        return f"{value:,.0f}"
    if value >= 10:
        return f"{value:.1f}"
    return f"{value:.2f}"


def verdict(met: Optional[bool]) -> str:
    return {True: "met", False: "MISSED", None: "-"}[met]


def table(rows: Sequence[Row]) -> str:
    """A Markdown table: readable in a terminal, pasteable into the README."""
    head = ["figure", "measurement", "n", "median", "p95", "floor", "floor median", "ratio", "target", ""]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for r in rows:
        cells = [
            r.figure, r.name, str(len(r.samples)), f"{number(r.median)} {r.unit}", f"{number(r.p95)} {r.unit}",
            r.floor_name, f"{number(r.floor_median)} {r.unit}", f"{number(r.ratio)}x", r.target or "-",
            verdict(r.met),
        ]
        lines.append("| " + " | ".join(cells) + " |")
    notes = [f"- {r.figure} / {r.name}: {r.note}" for r in rows if r.note]
    return "\n".join(lines + (["", *notes] if notes else []))


def document(mode: str, machine: Dict[str, Any], rows: List[Row], skipped: Dict[str, str],
             errors: Dict[str, str], seconds: float) -> Dict[str, Any]:
    figures: Dict[str, Dict[str, Any]] = {}
    for r in rows:
        figures.setdefault(r.figure, {"rows": []})["rows"].append(r.as_json())
    return {
        "mode": mode,
        "machine": machine,
        "seconds": seconds,
        "figures": figures,
        "skipped": skipped,
        "errors": errors,
    }
