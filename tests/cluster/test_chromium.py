"""The Gantt chart as a browser renders it: headless Chromium lays out one row per VM, and paints the chart.

Uses Debian's ``chromium`` at /usr/bin/chromium (``./dev.sh`` installs it); installs nothing itself. Without
it the test is skipped, except under CI=true, where a missing browser is a failure: CI must render the chart.
"""

from __future__ import annotations

import html
import json
import os
import re
import shutil
import struct
import subprocess
import zlib
from pathlib import Path
from typing import Any, List, Sequence, Set, Tuple

import pytest

from simulator.processes import stop_process
from tests.cluster.run import evacuate

FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync"]
# What the page reports about each rendered row: its VM, where the browser laid it out, and its size.
MEASURE = """<script>
const rows = Array.from(document.querySelectorAll('g.vm-row')).map(g => {
  const box = g.getBBox();
  return [g.dataset.vm, box.y, box.width, box.height];
});
document.body.setAttribute('data-rows', JSON.stringify(rows));
</script>"""


@pytest.fixture(scope="module")
def chromium() -> str:
    for candidate in ("/usr/bin/chromium", shutil.which("chromium")):
        if candidate and os.access(candidate, os.X_OK):
            return candidate
    if os.environ.get("CI") == "true":
        pytest.fail("CI=true but /usr/bin/chromium is missing: the Gantt chart must be rendered in CI")
    pytest.skip("headless Chromium not installed (Debian package chromium; ./dev.sh installs it)")


def run_chromium(binary: str, profile: Path, *args: str) -> str:
    proc = subprocess.Popen([binary, *FLAGS, f"--user-data-dir={profile}", *args], stdout=subprocess.PIPE,
                            stderr=subprocess.DEVNULL, text=True, start_new_session=True)
    try:
        out, _ = proc.communicate(timeout=120)
    finally:
        stop_process(proc)
    assert proc.returncode == 0, f"chromium exited {proc.returncode}"
    return out


def png_pixels(data: bytes) -> Tuple[int, int, List[bytes]]:
    """(width, height, rows of RGB(A) bytes) of an 8-bit truecolour PNG, the kind Chromium writes."""
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    pos, idat, width = 8, b"", 0
    height = channels = 0
    while pos < len(data):
        (length,) = struct.unpack(">I", data[pos:pos + 4])
        kind, body = data[pos + 4:pos + 8], data[pos + 8:pos + 8 + length]
        if kind == b"IHDR":
            width, height, depth, colour = struct.unpack(">IIBB", body[:10])
            assert depth == 8 and colour in (2, 6), (depth, colour)
            channels = 3 if colour == 2 else 4
        elif kind == b"IDAT":
            idat += body
        pos += 12 + length
    raw, stride, rows = zlib.decompress(idat), width * channels, []
    previous = bytearray(stride)
    for y in range(height):
        method, line = raw[y * (stride + 1)], bytearray(raw[y * (stride + 1) + 1:(y + 1) * (stride + 1)])
        for i in range(stride):
            left = line[i - channels] if i >= channels else 0
            up, corner = previous[i], previous[i - channels] if i >= channels else 0
            if method == 1:
                line[i] = (line[i] + left) & 0xFF
            elif method == 2:
                line[i] = (line[i] + up) & 0xFF
            elif method == 3:
                line[i] = (line[i] + (left + up) // 2) & 0xFF
            elif method == 4:
                p = left + up - corner
                pa, pb, pc = abs(p - left), abs(p - up), abs(p - corner)
                line[i] = (line[i] + (left if pa <= pb and pa <= pc else up if pb <= pc else corner)) & 0xFF
        rows.append(bytes(line))
        previous = line
    return width, height, [bytes(r) for r in rows] if channels == 3 else [
        b"".join(r[i:i + 3] for i in range(0, len(r), 4)) for r in rows]


def colours(rows: Sequence[bytes]) -> Set[Tuple[int, ...]]:
    return {tuple(row[i:i + 3]) for row in rows for i in range(0, len(row), 3)}


def chart(tmp_path: Path, *argv: str) -> Tuple[Path, List[str], Any]:
    svg = tmp_path / "evacuation.svg"
    out = evacuate(*argv, "--json", "--svg", str(svg)).json()
    return svg, [row["vm"] for row in out["vms"]], out


def test_the_browser_lays_out_one_row_per_vm_each_below_the_last(chromium: str, tmp_path: Path) -> None:
    svg, names, _ = chart(tmp_path, "--vms", "23", "--concurrency", "4", "--quiesce", "uniform:1:20",
                          "--timeout", "15", "--on-quiesce-failure", "no-ack")
    page = tmp_path / "page.html"
    page.write_text(f"<!doctype html><html><body>{svg.read_text()}{MEASURE}</body></html>", encoding="utf-8")
    dom = run_chromium(chromium, tmp_path / "profile", "--dump-dom", page.as_uri())
    found = re.search(r'data-rows="([^"]*)"', dom)
    assert found, dom[:500]
    rows = json.loads(html.unescape(found.group(1)))
    assert [r[0] for r in rows] == names
    tops = [r[1] for r in rows]
    assert all(b > a for a, b in zip(tops, tops[1:])), tops
    assert all(width > 0 and height > 0 for _, _, width, height in rows)


def test_the_screenshot_of_the_svg_shows_the_chart(chromium: str, tmp_path: Path) -> None:
    svg, _, out = chart(tmp_path, "--vms", "12", "--concurrency", "4", "--timeout", "20,20,20,20,20,8,20,20,20,20,20,20",
                        "--quiesce", "10", "--on-quiesce-failure", "no-ack")
    assert out["forced"] == ["vm-06"]
    shot = tmp_path / "chart.png"
    run_chromium(chromium, tmp_path / "profile", f"--screenshot={shot}", "--window-size=1100,480", svg.as_uri())
    width, height, rows = png_pixels(shot.read_bytes())
    assert (width, height) == (1100, 480)
    seen = colours(rows)
    assert len(seen) > 20  # not blank
    for name, rgb in (("quiesce", (0x3F, 0x7F, 0xCF)), ("migration", (0x4C, 0xAF, 0x63)),
                      ("forced", (0xD4, 0x3D, 0x3D)), ("cut quiesce", (0xE0, 0x8A, 0x1E))):
        assert rgb in seen, f"no {name} colour painted"
