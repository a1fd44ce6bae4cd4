"""``vmotion-handler --log-format json``: one JSON object per line (time in UTC, message, extra fields)."""

from __future__ import annotations

import re
from typing import Any, Dict, List, Optional

from handler.protocol import classify_rejection
from simulator.incident.observations import Observation
from simulator.incident.sources.lines import Timeline, Warnings, parse_time, text_lines
from simulator.untrusted_json import json_object

NAME = "handler-json"
WHAT = "a vmotion-handler JSON log (--log-format json)"

_REGISTERED = re.compile(r"^registered app .*; notificationTimeoutInSec=(\d+|None); polling every ([\d.]+) s")
_START = re.compile(r"^start: operation (\d+) \(.*\), notificationTimeoutInSec=(\d+), eventGenTimeInSec=(\d+)")
_END = re.compile(r"^end: operation (\d+) (?:\(.*\) )?opStatus=([\w-]+)")
_CHANGE = re.compile(r"^timeout-change: notificationTimeoutInSec (\d+) -> (\d+)")
_HOOK_DONE = re.compile(r"^(quiesce|unquiesce): (.*) after ([\d.]+) s")
_ACKED = re.compile(r"^acked (start|timeout-change) (\d+):")
_ACK_BAD = re.compile(r"^ack of (start|timeout-change) (\d+) (rejected|failed)")


def record_of(text: str) -> Optional[Dict[str, Any]]:
    obj = json_object(text)
    if obj is None or not isinstance(obj.get("message"), str) or not isinstance(obj.get("time"), str):
        return None
    if not str(obj.get("logger", "")).startswith("vmotion_handler"):
        return None
    return obj


def looks_like(lines: List[str]) -> bool:
    return any(record_of(line) is not None for line in lines)


def parse(data: bytes, warnings: Warnings) -> List[Observation]:
    timeline = Timeline(warnings)
    obs: List[Observation] = []
    hook_started: Dict[str, float] = {}
    for number, text in text_lines(data, warnings):
        record = record_of(text)
        absolute = parse_time(record["time"]) if record else None
        if record is None or absolute is None:
            warnings.skip(number)
            continue
        t = timeline.at(absolute, number)
        message: str = record["message"]
        if m := _REGISTERED.match(message):
            timeout = int(m.group(1)) if m.group(1).isdigit() else None
            obs.append(Observation(t, "register", details={"timeout": timeout}))
            obs.append(Observation(t, "handler-setting", details={"interval": float(m.group(2))}))
        elif message.startswith("register rejected: "):
            obs.append(Observation(t, "register", ok=False,
                                   details={"reason": classify_rejection(message[len("register rejected: "):])}))
        elif m := _START.match(message):
            obs.append(Observation(t, "event", int(m.group(1)), details={
                "event": "start", "timeout": int(m.group(2)), "gen": int(m.group(3))}))
        elif m := _END.match(message):
            obs.append(Observation(t, "event", int(m.group(1)), details={"event": "end", "op_status": m.group(2)}))
        elif m := _CHANGE.match(message):
            op = record.get("operation_id")
            obs.append(Observation(t, "event", op if isinstance(op, int) else None, details={
                "event": "timeout-change", "timeout": int(m.group(1)), "new_timeout": int(m.group(2))}))
        elif message.startswith(("quiesce: running", "unquiesce (")) and "running" in message:
            hook_started["quiesce" if message.startswith("quiesce") else "unquiesce"] = t
        elif m := _HOOK_DONE.match(message):
            hook, result = m.group(1), m.group(2)
            begun = hook_started.pop(hook, t - float(m.group(3)))
            code = result.rpartition(" ")[2]
            obs.append(Observation(begun, "hook", details={
                "hook": hook, "seconds": float(m.group(3)), "exit_code": int(code) if code.isdigit() else None,
                "killed": result == "killed"}))
        elif m := _ACKED.match(message):
            obs.append(Observation(t, "ack", int(m.group(2))))
        elif m := _ACK_BAD.match(message):
            obs.append(Observation(t, "ack", int(m.group(2)), ok=False, details={"reason": m.group(3)}))
        elif message.startswith(("unregistered app", "the registration was already gone")):
            obs.append(Observation(t, "unregister"))
        elif message.startswith("the registration is gone"):
            obs.append(Observation(t, "rpc-error", ok=False, details={"reason": "unknown-token"}))
        elif "(policy no-ack)" in message or "(policy ack-anyway)" in message:
            policy = "no-ack" if "(policy no-ack)" in message else "ack-anyway"
            obs.append(Observation(t, "handler-setting", details={"on_quiesce_failure": policy}))
        elif message == "stopped":
            obs.append(Observation(t, "stop"))
        elif message == "quiesce still running at its deadline: killed":
            pass  # the hook's own line follows with its duration
    return obs
