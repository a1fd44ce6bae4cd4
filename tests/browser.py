"""Open a page in a real browser (Debian's headless Chromium): its rendered DOM, a screenshot, its pixels.

Installs nothing: ``./dev.sh`` installs the ``chromium`` package. Without it a test is skipped, except under
``CI=true``, where a missing browser fails the test: CI installs it, so its absence means the set-up broke.
"""

from __future__ import annotations

import os
import shutil
import struct
import subprocess
import tempfile
import zlib
from pathlib import Path
from typing import List, Sequence, Set, Tuple

import pytest

from simulator.processes import stop_process

FLAGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync", "--hide-scrollbars",
]
TIMEOUT_S = 120


def chromium() -> str:
    for candidate in ("/usr/bin/chromium", shutil.which("chromium")):
        if candidate and os.access(candidate, os.X_OK):
            return candidate
    message = "headless Chromium is not installed (Debian package chromium; ./dev.sh test installs it)"
    if os.environ.get("CI") == "true":
        pytest.fail(message)
    pytest.skip(message)


def run_chromium(*args: str) -> str:
    """Chromium's stdout; its process group is stopped whatever happens (it leaves helpers behind otherwise)."""
    with tempfile.TemporaryDirectory(prefix="vmotion-chromium-") as profile:
        proc = subprocess.Popen([chromium(), *FLAGS, f"--user-data-dir={profile}", *args], stdout=subprocess.PIPE,
                                stderr=subprocess.DEVNULL, stdin=subprocess.DEVNULL, text=True,
                                start_new_session=True)
        try:
            out, _ = proc.communicate(timeout=TIMEOUT_S)
        finally:
            stop_process(proc)
    assert proc.returncode == 0, f"chromium exited {proc.returncode}"
    return out


def rendered_dom(page: Path) -> str:
    """The DOM after Chromium parsed and laid out the page (not the file's text)."""
    return run_chromium("--dump-dom", page.resolve().as_uri())


def screenshot(page: Path, out: Path, width: int = 1000, height: int = 900) -> Path:
    run_chromium(f"--screenshot={out}", f"--window-size={width},{height}", page.resolve().as_uri())
    assert out.exists(), "chromium wrote no screenshot"
    return out


def rendered_dom_and_screenshot(page: Path, out: Path, width: int = 1000, height: int = 900) -> str:
    """``rendered_dom`` and ``screenshot`` from one start of Chromium (a start costs seconds of CPU)."""
    dom = run_chromium("--dump-dom", f"--screenshot={out}", f"--window-size={width},{height}", page.resolve().as_uri())
    assert out.exists(), "chromium wrote no screenshot"
    return dom


def png_pixels(data: bytes) -> Tuple[int, int, List[bytes]]:
    """(width, height, rows of RGB bytes) of an 8-bit truecolour PNG, the kind Chromium writes."""
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


def distinct_colours(png: Path) -> int:
    """How many distinct colours a screenshot has: 1 means a blank page."""
    return len(colours(png_pixels(png.read_bytes())[2]))
