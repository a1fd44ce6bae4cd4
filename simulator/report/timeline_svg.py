"""The timeline picture of one run: what the hypervisor held, what the guest asked, what the hooks did, and how
much of the deadline was left when the ack landed.

Three lanes share one time axis. Hypervisor: the wait for acks (amber), the migration (blue; red when forced),
the deadline (dashed red line) and the margin left at the ack. Guest: one tick per RPC, the acks as green dots.
Hooks: the quiesce and unquiesce runs (a killed run has a red outline).
"""

from __future__ import annotations

from typing import Any, Iterable, List

from simulator.journal_entry import Entry, RpcEntry
from simulator.report.operations import OperationSpans, journal_origin, operation_spans
from simulator.report.svg import Drawing, nice_step

LABEL_W = 96.0
PLOT_W = 780.0
LANE_H = 34.0
TOP = 26.0
LANES = ("hypervisor", "guest", "hooks")
COLORS = {
    "wait": "#f2b134",
    "migration": "#4a7fd4",
    "forced": "#d64545",
    "quiesce": "#8a5cc2",
    "unquiesce": "#2a9d8f",
    "rpc": "#9aa3ad",
    "ack": "#2e9e4f",
    "deadline": "#d64545",
}


def _lane_y(lane: str) -> float:
    return TOP + LANES.index(lane) * (LANE_H + 20)


def _end_time(entries: List[Entry], ops: List[OperationSpans]) -> float:
    times = [float(e.time) for e in entries]
    times += [op.deadline for op in ops if op.deadline is not None]  # the margin is drawn up to it
    return max(times) if times else 0.0


def timeline_svg(journal: Iterable[Entry], title: str = "") -> str:
    entries = list(journal)
    ops = operation_spans(entries)
    origin = journal_origin(entries)
    span = max(_end_time(entries, ops) - origin, 1.0) * 1.04
    scale = PLOT_W / span

    def x(t: float) -> float:
        return LABEL_W + (t - origin) * scale

    height = _lane_y("hooks") + LANE_H + 40
    d = Drawing(LABEL_W + PLOT_W + 20, height, title=title or "timeline", css_class="timeline")
    step = nice_step(span)
    tick = 0.0
    while tick <= span:
        d.line(x(origin + tick), TOP - 6, x(origin + tick), height - 28, "#e3e6ea")
        d.text(x(origin + tick), TOP - 10, f"{tick:g} s", size=9, fill="#667", anchor="middle")
        tick += step
    for lane in LANES:
        y = _lane_y(lane)
        d.rect(LABEL_W, y, PLOT_W, LANE_H, "#f7f8fa")
        d.text(8, y + LANE_H / 2 + 4, lane, size=11, weight="bold")

    hv = _lane_y("hypervisor")
    for op in ops:
        _draw_operation(d, op, x, hv)
    guest = _lane_y("guest")
    for e in entries:
        if not isinstance(e, RpcEntry):
            continue
        verb = str(e.verb)
        t = float(e.time)
        if verb == "ack-event":
            d.circle(x(t), guest + LANE_H / 2, 5, COLORS["ack"], title=f"ack-event at +{t - origin:.3f} s",
                     css_class="marker-ack")
        else:
            d.line(x(t), guest + 8, x(t), guest + LANE_H - 8, COLORS["rpc"], title=f"{verb} at +{t - origin:.3f} s",
                   css_class="rpc-tick")
    hooks = _lane_y("hooks")
    for op in ops:
        for h in op.hooks:
            end = h.end if h.end is not None else origin + span
            killed = h.outcome == "terminated"
            d.rect(x(h.begin), hooks + 6, (end - h.begin) * scale, LANE_H - 12,
                   COLORS.get(h.name, "#888"), stroke=COLORS["forced"] if killed else None,
                   title=f"{h.name} {end - h.begin:.2f} s" + (" (killed)" if killed else ""),
                   css_class=f"span-{h.name}")
            d.text(x(h.begin) + 3, hooks + LANE_H / 2 + 4, h.name, size=9, fill="#fff")
    _legend(d, height - 14)
    return d.render()


def _draw_operation(d: Drawing, op: OperationSpans, x: Any, y: float) -> None:
    held_until = op.acked_at or op.forced_at or op.migration_started_at
    if held_until is not None and op.notified:
        d.rect(x(op.requested_at), y + 6, x(held_until) - x(op.requested_at), LANE_H - 12, COLORS["wait"],
               title=f"held for acks {held_until - op.requested_at:.2f} s", css_class="span-wait")
    if op.migration_started_at is not None:
        end = op.migration_ended_at or op.migration_started_at
        color = COLORS["forced"] if op.forced else COLORS["migration"]
        d.rect(x(op.migration_started_at), y + 6, x(end) - x(op.migration_started_at), LANE_H - 12, color,
               title=("forced " if op.forced else "") + f"migration {end - op.migration_started_at:.2f} s, "
               + (op.op_status or "running"), css_class="span-migration" + (" forced" if op.forced else ""))
        d.text(x(op.migration_started_at) + 3, y + LANE_H / 2 + 4, "forced" if op.forced else "migration",
               size=9, fill="#fff", css_class="marker-forced" if op.forced else "")
    if op.deadline is not None:
        d.line(x(op.deadline), y - 2, x(op.deadline), y + LANE_H + 2, COLORS["deadline"], width=2, dash=True,
               title=f"deadline: {op.timeout} s after the request", css_class="marker-deadline")
        d.text(x(op.deadline) + 3, y - 3, "deadline", size=9, fill=COLORS["deadline"])
    margin = op.margin_s
    if margin is not None and op.acked_at is not None:
        mid = y + LANE_H + 5
        d.line(x(op.acked_at), mid, x(op.acked_at + max(margin, 0)), mid, COLORS["ack"], width=2,
               title=f"margin {margin:.2f} s", css_class="marker-margin")
        d.text(x(op.acked_at) + 2, mid + 12, f"margin {margin:.2f} s", size=9, fill=COLORS["ack"])
    elif op.forced:
        d.text(x(op.forced_at or op.requested_at) + 3, y + LANE_H + 14, "no ack before the deadline",
               size=9, fill=COLORS["forced"])


def _legend(d: Drawing, y: float) -> None:
    items = [("held for acks", "wait"), ("migration", "migration"), ("forced", "forced"),
             ("quiesce", "quiesce"), ("unquiesce", "unquiesce"), ("ack", "ack")]
    left = LABEL_W
    for label, key in items:
        d.rect(left, y - 8, 10, 10, COLORS[key])
        d.text(left + 14, y + 1, label, size=10)
        left += 24 + 7 * len(label)
