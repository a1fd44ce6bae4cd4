"""A few SVG primitives, escaped once here, for the pictures the harness draws (timelines, Gantt charts).

Self-contained output only: no scripts, no external fonts or stylesheets, so a page opens offline and in any
CI system's artifact viewer.
"""

from __future__ import annotations

import math
from typing import List, Optional
from xml.sax.saxutils import escape, quoteattr

FONT = "font-family='DejaVu Sans, Arial, sans-serif'"


def _num(value: float) -> str:
    return f"{value:.1f}".rstrip("0").rstrip(".")


class Drawing:
    """Accumulates shapes; :meth:`render` returns one ``<svg>`` element."""

    def __init__(self, width: float, height: float, title: str = "", css_class: str = "") -> None:
        self.width, self.height, self.title, self.css_class = width, height, title, css_class
        self.parts: List[str] = []

    def rect(self, x: float, y: float, w: float, h: float, fill: str, title: str = "", css_class: str = "",
             stroke: Optional[str] = None, dash: bool = False) -> None:
        attrs = f"x='{_num(x)}' y='{_num(y)}' width='{_num(max(w, 0.5))}' height='{_num(h)}' fill='{fill}'"
        if stroke:
            attrs += f" stroke='{stroke}'" + (" stroke-dasharray='4 3'" if dash else "")
        if css_class:
            attrs += f" class={quoteattr(css_class)}"
        self.parts.append(f"<rect {attrs}>{self._title(title)}</rect>")

    def line(self, x1: float, y1: float, x2: float, y2: float, stroke: str, width: float = 1, dash: bool = False,
             title: str = "", css_class: str = "") -> None:
        attrs = (f"x1='{_num(x1)}' y1='{_num(y1)}' x2='{_num(x2)}' y2='{_num(y2)}' stroke='{stroke}' "
                 f"stroke-width='{_num(width)}'")
        if dash:
            attrs += " stroke-dasharray='5 4'"
        if css_class:
            attrs += f" class={quoteattr(css_class)}"
        self.parts.append(f"<line {attrs}>{self._title(title)}</line>")

    def circle(self, cx: float, cy: float, r: float, fill: str, title: str = "", css_class: str = "") -> None:
        attrs = f"cx='{_num(cx)}' cy='{_num(cy)}' r='{_num(r)}' fill='{fill}'"
        if css_class:
            attrs += f" class={quoteattr(css_class)}"
        self.parts.append(f"<circle {attrs}>{self._title(title)}</circle>")

    def text(self, x: float, y: float, content: str, size: float = 11, fill: str = "#222", anchor: str = "start",
             weight: str = "normal", css_class: str = "") -> None:
        attrs = (f"x='{_num(x)}' y='{_num(y)}' font-size='{_num(size)}' fill='{fill}' text-anchor='{anchor}' "
                 f"font-weight='{weight}' {FONT}")
        if css_class:
            attrs += f" class={quoteattr(css_class)}"
        self.parts.append(f"<text {attrs}>{escape(content)}</text>")

    @staticmethod
    def _title(text: str) -> str:
        return f"<title>{escape(text)}</title>" if text else ""

    def render(self) -> str:
        head = (f"<svg xmlns='http://www.w3.org/2000/svg' width='{_num(self.width)}' height='{_num(self.height)}' "
                f"viewBox='0 0 {_num(self.width)} {_num(self.height)}' role='img'")
        if self.css_class:
            head += f" class={quoteattr(self.css_class)}"
        head += ">" + (f"<title>{escape(self.title)}</title>" if self.title else "")
        return head + "".join(self.parts) + "</svg>"


def nice_step(span: float, target_ticks: int = 8) -> float:
    """A tick spacing of 1, 2 or 5 times a power of ten giving about ``target_ticks`` ticks."""
    if span <= 0:
        return 1.0
    raw = span / target_ticks
    power = 10.0 ** math.floor(math.log10(raw))
    return next(m * power for m in (1, 2, 5, 10) if raw <= m * power)
