"""Reading an untrusted log: undecodable or binary lines become warnings, times are parsed with or without a
zone, and a clock that jumps back is smoothed so the incident's order survives."""

from __future__ import annotations

import calendar
import re
from dataclasses import dataclass, field
from datetime import datetime
from typing import Iterator, List, Match, Optional, Pattern, Tuple

MAX_LINE = 1_000_000  # longer lines are junk for every format understood here
_LOCAL = re.compile(r"^(\d{4}-\d\d-\d\d)[ T](\d\d:\d\d:\d\d)(?:[,.](\d{1,6}))?(Z|[+-]\d\d:?\d\d)?")


class SourceError(Exception):
    """The input cannot be imported; the message is one line and never quotes the input."""


@dataclass
class Warnings:
    skipped: List[int] = field(default_factory=list)
    notes: List[str] = field(default_factory=list)

    def skip(self, line_no: int) -> None:
        self.skipped.append(line_no)

    def summary(self, what: str) -> List[str]:
        out = list(self.notes)
        if self.skipped:
            first = ", ".join(str(n) for n in self.skipped[:5])
            more = "" if len(self.skipped) <= 5 else f" and {len(self.skipped) - 5} more"
            out.insert(0, f"skipped {len(self.skipped)} line(s) that are not {what}: line {first}{more}")
        return out


def text_lines(data: bytes, warnings: Warnings) -> Iterator[Tuple[int, str]]:
    """(line number, text) of each line that is text; binary junk is skipped with a warning."""
    for number, raw in enumerate(data.split(b"\n"), start=1):
        raw = raw.rstrip(b"\r")
        if not raw.strip():
            continue
        if len(raw) > MAX_LINE or b"\0" in raw:
            warnings.skip(number)
            continue
        try:
            text = raw.decode("utf-8")
        except UnicodeDecodeError:
            warnings.skip(number)
            continue
        if any(ord(c) < 0x20 and c != "\t" for c in text):
            warnings.skip(number)
            continue
        yield number, text


def parse_time(text: str) -> Optional[float]:
    """``YYYY-MM-DD HH:MM:SS[,mmm][zone]`` -> epoch seconds; a time without a zone is read as if UTC."""
    m = _LOCAL.match(text)
    if not m:
        return None
    try:
        naive = datetime.strptime(f"{m.group(1)} {m.group(2)}", "%Y-%m-%d %H:%M:%S")
    except ValueError:
        return None
    seconds = float(calendar.timegm(naive.timetuple()))
    if m.group(3):
        seconds += float("0." + m.group(3))
    zone = m.group(4)
    if zone and zone != "Z":
        sign = -1 if zone[0] == "+" else 1
        digits = zone[1:].replace(":", "")
        seconds += sign * (int(digits[:2]) * 3600 + int(digits[2:]) * 60)
    return seconds


class Timeline:
    """The times of one file's successive lines, never going backwards: a step back (NTP, a zone change)
    shifts the rest of the file forward by the step, with a warning."""

    def __init__(self, warnings: Warnings) -> None:
        self.warnings = warnings
        self._shift = 0.0
        self._last: Optional[float] = None

    def at(self, absolute: float, line_no: int) -> float:
        t = absolute + self._shift
        if self._last is not None and t < self._last - 1.0:
            step = self._last - t
            self.warnings.notes.append(f"line {line_no}: the clock went back {step:.1f} s; later times shifted")
            self._shift += step
            t = self._last
        elif self._last is not None and t > self._last + 86400:
            self.warnings.notes.append(f"line {line_no}: the clock jumped {t - self._last:.0f} s forward")
        t = max(t, self._last or t)
        self._last = t
        return t


def timed_lines(data: bytes, warnings: Warnings, pattern: Pattern[str]) -> Iterator[Tuple[float, Match[str]]]:
    """The lines a text log's ``pattern`` matches (its group 1 is the time), each with its time on the smoothed
    timeline; a line that does not match, or whose time does not parse, is skipped with a warning."""
    timeline = Timeline(warnings)
    for number, text in text_lines(data, warnings):
        m = pattern.match(text)
        absolute = parse_time(m.group(1)) if m else None
        if m is None or absolute is None:
            warnings.skip(number)
            continue
        yield timeline.at(absolute, number), m
