"""Import an incident from what people have: the format is detected from the content, never the name."""

from __future__ import annotations

from pathlib import Path
from typing import Callable, Dict, List, Sequence

from simulator.incident.observations import Observation
from simulator.incident.reconstruct import Incident, reconstruct
from simulator.incident.sources import handler_log, journal, poc, recording, vmnotification
from simulator.incident.sources.lines import SourceError, Warnings, text_lines

MAX_BYTES = 512 * 1024 * 1024  # past this a file is not a log of one incident
SNIFF_LINES = 200
Parser = Callable[[bytes, Warnings], List[Observation]]
_LINE_FORMATS = (recording, handler_log, vmnotification, poc)
FORMATS: Dict[str, str] = {m.NAME: m.WHAT for m in (recording, journal, handler_log, vmnotification, poc)}

__all__ = ["FORMATS", "SourceError", "detect", "load_incident"]


def understood() -> str:
    return "; ".join(FORMATS.values())


def detect(data: bytes) -> str:
    if journal.looks_like(data):
        return journal.NAME
    sniffed: List[str] = []
    for _, text in text_lines(data[: 4 * 1024 * 1024], Warnings()):
        sniffed.append(text)
        if len(sniffed) >= SNIFF_LINES:
            break
    for module in _LINE_FORMATS:
        if module.looks_like(sniffed):
            return str(module.NAME)
    raise SourceError(f"unknown format; understood: {understood()}")


_PARSERS: Dict[str, Parser] = {m.NAME: m.parse for m in (recording, journal, handler_log, vmnotification, poc)}
_WHAT = {m.NAME: m.WHAT for m in (recording, journal, handler_log, vmnotification, poc)}


def read(path: Path) -> bytes:
    try:
        if path.stat().st_size > MAX_BYTES:
            raise SourceError(f"{path.name}: larger than {MAX_BYTES // (1024 * 1024)} MB; cut out the incident first")
        return path.read_bytes()
    except OSError as exc:
        raise SourceError(f"cannot read {path}: {exc.strerror or exc}") from None


def load_incident(paths: Sequence[Path]) -> Incident:
    """One incident from one or more files of the same format (e.g. vmnotification's three logs)."""
    observations: List[Observation] = []
    warnings: List[str] = []
    formats = set()
    for path in paths:
        data = read(path)
        if not data.strip():
            raise SourceError(f"{path.name}: empty; understood: {understood()}")
        fmt = detect(data)
        formats.add(fmt)
        found = Warnings()
        obs = _PARSERS[fmt](data, found)
        if not obs:
            raise SourceError(f"{path.name}: nothing of an incident in it (truncated?); understood: {understood()}")
        observations += obs
        warnings += [f"{path.name}: {w}" for w in found.summary(_WHAT[fmt])]
    if len(formats) > 1:
        raise SourceError(f"the files are in different formats ({', '.join(sorted(formats))}); import one at a time")
    epoch0 = min(o.t for o in observations)
    for o in observations:
        o.t -= epoch0
    return reconstruct(formats.pop(), observations, epoch0, warnings)
