"""An evacuation as a Gantt chart in one self-contained SVG: the host's slots on top, then one row per VM.

Each VM's row shows the poll that found its start, its quiesce (cut short at the deadline: marked), the
hold until the ack or the timeout, the wait for a slot, and its migration (forced: red, and labelled). Every
row is a ``<g class="vm-row">`` with ``data-vm``, ``data-slot`` and ``data-forced``, for tools and tests.
"""

from __future__ import annotations

import math
from typing import Dict, List, Optional, Tuple
from xml.sax.saxutils import escape, quoteattr

from simulator.cluster.record import VmRecord
from simulator.cluster.result import Evacuation

WIDTH = 1100
LEFT = 120  # VM names
RIGHT = 70  # "forced" labels
ROW = 16
LANE = 16
BAR = 10

COLOURS = {
    "polling": "#c9c9c9",
    "quiescing": "#3f7fcf",
    "quiesce-cut": "#e08a1e",
    "waiting_for_ack_or_timeout": "#f2d675",
    "waiting_for_slot": "#a99bd4",
    "migrating": "#4caf63",
    "forced": "#d43d3d",
    "critical": "#ffffff",
}
LEGEND = (
    ("polling", "until the guest's poll finds the start"),
    ("quiescing", "quiesce"),
    ("quiesce-cut", "quiesce cut at its deadline"),
    ("waiting_for_ack_or_timeout", "held: waiting for the ack or the timeout"),
    ("waiting_for_slot", "waiting for a slot"),
    ("migrating", "migration"),
    ("forced", "migration forced by the timeout"),
    ("critical", "outlined: on the critical path"),
)


def _nice_step(total: float, ticks: int = 10) -> float:
    raw = max(total, 1e-9) / ticks
    power = 10 ** math.floor(math.log10(raw))
    for factor in (1, 2, 5, 10):
        if raw <= factor * power:
            return float(factor * power)
    return float(10 * power)


def _fmt(seconds: float) -> str:
    return f"{seconds:.3f}".rstrip("0").rstrip(".")


class _Canvas:
    def __init__(self, total: float) -> None:
        self.total = max(total, 1e-9)
        self.plot = WIDTH - LEFT - RIGHT
        self.parts: List[str] = []

    def x(self, t: float) -> float:
        return LEFT + self.plot * max(0.0, t) / self.total

    def rect(self, kind: str, a: float, b: float, y: float, height: float, tip: str,
             label: Optional[str] = None) -> None:
        x0, x1 = self.x(a), self.x(b)
        width = max(x1 - x0, 0.5)  # a span too short to see still shows as a hairline
        self.parts.append(
            f'<rect class="span {kind}" x="{x0:.2f}" y="{y:.2f}" width="{width:.2f}" height="{height:.2f}">'
            f"<title>{escape(tip)}</title></rect>"
        )
        if label and width > 7 * len(label):
            self.parts.append(f'<text class="in-bar" x="{x0 + 3:.2f}" y="{y + height - 2:.2f}">{escape(label)}</text>')

    def text(self, x: float, y: float, text: str, cls: str = "", anchor: str = "start") -> None:
        self.parts.append(f'<text class="{cls}" x="{x:.2f}" y="{y:.2f}" text-anchor="{anchor}">{escape(text)}</text>')


def _row_spans(r: VmRecord) -> List[Tuple[str, float, float]]:
    spans = []
    for phase, a, b in r.phases():
        kind = phase
        if phase == "quiescing" and r.quiesce_cut:
            kind = "quiesce-cut"
        elif phase == "migrating" and r.forced:
            kind = "forced"
        spans.append((kind, a, b))
    return spans


def render_svg(result: Evacuation) -> str:
    records = result.records
    plan = result.plan
    total = result.total_seconds
    canvas = _Canvas(total)
    step = _nice_step(total)
    forced, cut = len(result.forced), len(result.quiesce_cut)

    title_y = 22
    legend_y = 40
    legend_rows = 2
    axis_y = legend_y + legend_rows * 18 + 16
    slots_y = axis_y + 10
    lanes = min(plan.concurrency, len(records))  # slots are taken lowest first: more VMs than that never use more
    slots_h = lanes * LANE
    rows_y = slots_y + slots_h + 28
    height = rows_y + len(records) * ROW + 30

    canvas.text(LEFT, title_y,
                f"Evacuation of {plan.host}: {len(records)} VMs, {plan.concurrency} at a time, "
                f"{_fmt(total)} s; {forced} forced, {cut} quiesce cut at the deadline", "title")
    # Legend, in two rows.
    per_row = math.ceil(len(LEGEND) / legend_rows)
    for i, (kind, text) in enumerate(LEGEND):
        x = LEFT + (i % per_row) * 235
        y = legend_y + (i // per_row) * 18
        canvas.parts.append(f'<g class="legend-item"><rect class="span {kind}" x="{x}" y="{y}" width="14" '
                            f'height="{BAR}"/></g>')
        canvas.text(x + 18, y + BAR - 1, text, "legend")
    # Time axis and grid.
    grid_bottom = rows_y + len(records) * ROW
    for tick in range(int(total / step + 1e-9) + 1):
        gx = canvas.x(tick * step)
        canvas.parts.append(f'<line class="grid" x1="{gx:.2f}" y1="{axis_y + 4}" x2="{gx:.2f}" y2="{grid_bottom}"/>')
        canvas.text(gx, axis_y, f"{_fmt(tick * step)} s", "axis", "middle")
    # The host's slots: which VM held each, and what it was doing with it.
    canvas.text(LEFT - 8, slots_y - 2, f"{plan.host} slots", "section", "end")
    by_slot: Dict[int, List[VmRecord]] = {}
    for r in records:
        if r.slot is not None and r.admitted is not None and r.migration is not None:
            by_slot.setdefault(r.slot, []).append(r)
    for slot in range(lanes):
        y = slots_y + slot * LANE
        canvas.parts.append(f'<g class="slot-lane" data-slot="{slot + 1}">')
        canvas.text(LEFT - 8, y + BAR + 1, f"slot {slot + 1}", "label", "end")
        for r in by_slot.get(slot, []):
            assert r.admitted is not None and r.migration is not None
            if r.migration[0] > r.admitted:
                # A slot taken before the hold ended is held while waiting for the ack (or the timeout).
                canvas.rect("waiting_for_ack_or_timeout", r.admitted, r.migration[0], y + 2, BAR,
                            f"{r.name}: slot {slot + 1} held, {_fmt(r.admitted)}-{_fmt(r.migration[0])} s", r.name)
            canvas.rect("forced" if r.forced else "migrating", r.migration[0], r.migration[1], y + 2, BAR,
                        f"{r.name}: migrating in slot {slot + 1}, {_fmt(r.migration[0])}-{_fmt(r.migration[1])} s",
                        None if r.migration[0] > r.admitted else r.name)
        canvas.parts.append("</g>")
    # One row per VM.
    canvas.text(LEFT - 8, rows_y - 8, "VMs", "section", "end")
    critical = {r.index for r in result.critical_path()}
    for i, r in enumerate(records):
        y = rows_y + i * ROW
        slot_text = "" if r.slot is None else str(r.slot + 1)
        classes = "vm-row" + (" forced" if r.forced else "") + (" critical" if r.index in critical else "")
        canvas.parts.append(f'<g class="{classes}" data-vm={quoteattr(r.name)} '
                            f'data-slot="{slot_text}" data-forced="{str(r.forced).lower()}">')
        canvas.text(LEFT - 8, y + BAR + 1, r.name, "label forced-label" if r.forced else "label", "end")
        for kind, a, b in _row_spans(r):
            canvas.rect(kind, a, b, y + 2, BAR, f"{r.name}: {kind.replace('_', ' ')}, {_fmt(a)}-{_fmt(b)} s")
        if r.forced:
            canvas.text(canvas.x(r.ended) + 4, y + BAR + 1, "forced", "forced-label")
        elif r.quiesce_cut:
            canvas.text(canvas.x(r.ended) + 4, y + BAR + 1, "cut", "cut-label")
        canvas.parts.append("</g>")

    style = "\n".join([
        "text { font-family: 'DejaVu Sans', Arial, sans-serif; font-size: 11px; fill: #222; }",
        ".title { font-size: 14px; font-weight: bold; }",
        ".section { font-weight: bold; }",
        ".axis { fill: #555; font-size: 10px; }",
        ".in-bar { fill: #222; font-size: 9px; }",
        ".grid { stroke: #e4e4e4; stroke-width: 1; }",
        ".forced-label { fill: #b22; font-weight: bold; }",
        ".cut-label { fill: #b46a0c; font-weight: bold; }",
        ".critical .span, .legend-item .critical { stroke: #111; stroke-width: 1.2; }",
        ".critical .label { font-weight: bold; }",
        *(f".{kind} {{ fill: {colour}; }}" for kind, colour in COLOURS.items()),
    ])
    return "\n".join([
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{WIDTH}" height="{height}" '
        f'viewBox="0 0 {WIDTH} {height}">',
        f"<title>Evacuation of {escape(plan.host)}: {len(records)} VMs</title>",
        f"<style>\n{style}\n</style>",
        f'<rect x="0" y="0" width="{WIDTH}" height="{height}" fill="#ffffff"/>',
        *canvas.parts,
        "</svg>",
        "",
    ])
