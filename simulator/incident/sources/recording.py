"""A recording made by ``vmotion-record`` (JSON lines, one per vmtoolsd call)."""

from __future__ import annotations

from typing import Any, Dict, List, Optional

from simulator.incident.observations import Observation, observe_rpc
from simulator.incident.sources.lines import Timeline, Warnings, text_lines
from simulator.untrusted_json import json_object

NAME = "recording"
WHAT = "a vmotion-record recording (JSON lines with request, stdout, stderr, exit_code)"


def record_of(text: str) -> Optional[Dict[str, Any]]:
    obj = json_object(text)
    if obj is None or not {"time", "stdout", "stderr", "exit_code"} <= obj.keys():
        return None
    if not isinstance(obj["time"], (int, float)) or not isinstance(obj["exit_code"], int):
        return None
    return obj


def looks_like(lines: List[str]) -> bool:
    return any(record_of(line) is not None for line in lines)


def records(data: bytes, warnings: Warnings) -> List[Dict[str, Any]]:
    out = []
    for number, text in text_lines(data, warnings):
        record = record_of(text)
        if record is None or not all(isinstance(record.get(k), str) for k in ("stdout", "stderr")):
            warnings.skip(number)
            continue
        out.append(record)
    return out


def parse(data: bytes, warnings: Warnings) -> List[Observation]:
    timeline = Timeline(warnings)
    obs: List[Observation] = []
    for number, record in enumerate(records(data, warnings), start=1):
        request = record.get("request")
        if not isinstance(request, str):
            continue
        t = timeline.at(float(record["time"]), number)
        obs += observe_rpc(t, request, record["stdout"], record["stderr"], record["exit_code"])
    return obs
