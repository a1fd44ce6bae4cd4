"""The Gantt chart as a browser renders it: headless Chromium lays out one row per VM, and paints the chart.

Through ``tests.browser``: Debian's Chromium, skipped without it except under CI=true.
"""

from __future__ import annotations

import html
import json
import re
from pathlib import Path
from typing import Any, List, Tuple

from tests.browser import colours, png_pixels, rendered_dom, screenshot
from tests.cluster.run import evacuate

# What the page reports about each rendered row: its VM, where the browser laid it out, and its size.
MEASURE = """<script>
const rows = Array.from(document.querySelectorAll('g.vm-row')).map(g => {
  const box = g.getBBox();
  return [g.dataset.vm, box.y, box.width, box.height];
});
document.body.setAttribute('data-rows', JSON.stringify(rows));
</script>"""


def chart(tmp_path: Path, *argv: str) -> Tuple[Path, List[str], Any]:
    svg = tmp_path / "evacuation.svg"
    out = evacuate(*argv, "--json", "--svg", str(svg)).json()
    return svg, [row["vm"] for row in out["vms"]], out


def test_the_browser_lays_out_one_row_per_vm_each_below_the_last(tmp_path: Path) -> None:
    svg, names, _ = chart(tmp_path, "--vms", "23", "--concurrency", "4", "--quiesce", "uniform:1:20",
                          "--timeout", "15", "--on-quiesce-failure", "no-ack")
    page = tmp_path / "page.html"
    page.write_text(f"<!doctype html><html><body>{svg.read_text()}{MEASURE}</body></html>", encoding="utf-8")
    dom = rendered_dom(page)
    found = re.search(r'data-rows="([^"]*)"', dom)
    assert found, dom[:500]
    rows = json.loads(html.unescape(found.group(1)))
    assert [r[0] for r in rows] == names
    tops = [r[1] for r in rows]
    assert all(b > a for a, b in zip(tops, tops[1:])), tops
    assert all(width > 0 and height > 0 for _, _, width, height in rows)


def test_the_screenshot_of_the_svg_shows_the_chart(tmp_path: Path) -> None:
    svg, _, out = chart(tmp_path, "--vms", "12", "--concurrency", "4", "--timeout", "20,20,20,20,20,8,20,20,20,20,20,20",
                        "--quiesce", "10", "--on-quiesce-failure", "no-ack")
    assert out["forced"] == ["vm-06"]
    shot = tmp_path / "chart.png"
    screenshot(svg, shot, 1100, 480)
    width, height, rows = png_pixels(shot.read_bytes())
    assert (width, height) == (1100, 480)
    seen = colours(rows)
    assert len(seen) > 20  # not blank
    for name, rgb in (("quiesce", (0x3F, 0x7F, 0xCF)), ("migration", (0x4C, 0xAF, 0x63)),
                      ("forced", (0xD4, 0x3D, 0x3D)), ("cut quiesce", (0xE0, 0x8A, 0x1E))):
        assert rgb in seen, f"no {name} colour painted"
