"""The simulator's journal, as ``vmotion-sim journal --json`` prints it (a JSON list, time in epoch seconds)."""

from __future__ import annotations

from typing import Any, Dict, List

from simulator.incident.observations import Observation, observe_rpc
from simulator.incident.sources.lines import SourceError, Warnings
from simulator.untrusted_json import json_value

NAME = "journal"
WHAT = "a simulator journal (vmotion-sim journal --json)"


def looks_like(data: bytes) -> bool:
    head = data.lstrip()[:200]
    return head.startswith(b"[") and (b'"seq"' in head or b'"kind"' in head or head.rstrip() in (b"[", b"[]"))


def entries(data: bytes) -> List[Dict[str, Any]]:
    try:
        doc = json_value(data.decode("utf-8"))
    except UnicodeDecodeError:
        raise SourceError("the journal is not UTF-8 text") from None
    except ValueError:
        raise SourceError("the journal is truncated or damaged (not a complete JSON list)") from None
    if not isinstance(doc, list):
        raise SourceError("a journal is a JSON list")
    return [e for e in doc if isinstance(e, dict)]


def parse(data: bytes, warnings: Warnings) -> List[Observation]:
    return observe_journal(entries(data), warnings)


def observe_journal(journal: List[Dict[str, Any]], warnings: Warnings) -> List[Observation]:
    """Also how a scenario's own run is read back: its simulator's journal."""
    obs: List[Observation] = []
    started: Dict[str, float] = {}
    for number, e in enumerate(journal, start=1):
        t = e.get("time")
        if not isinstance(t, (int, float)):
            warnings.skip(number)
            continue
        kind = e.get("kind")
        if kind == "rpc" and all(isinstance(e.get(k), str) for k in ("request", "stdout", "stderr")):
            obs += observe_rpc(t, e["request"], e["stdout"], e["stderr"], int(e.get("exit_code", 0)))
        elif kind == "probe":
            name, phase = str(e.get("name")), e.get("phase")
            if phase == "started":
                started[name] = t
            elif phase in ("finished", "terminated") and name in started:
                begun = started.pop(name)
                code = e.get("exit_code")
                obs.append(Observation(begun, "hook", details={
                    "hook": name, "seconds": t - begun, "exit_code": code if isinstance(code, int) else None,
                    "killed": phase == "terminated"}))
        elif kind == "model":
            what = e.get("what")
            op = e.get("operation_id")
            if what == "rebooted":
                obs.append(Observation(t, "reboot"))
            elif what == "forced":
                obs.append(Observation(t, "forced", op))
            elif what == "vmotion-requested":
                obs.append(Observation(t, "vmotion", op, details={"timeout": e.get("timeout")}))
            elif what == "configured":
                obs.append(Observation(t, "config", details={k: v for k, v in e.items()
                                                             if k not in ("time", "kind", "what", "seq")}))
            elif what == "migration-ended":
                obs.append(Observation(t, "migration-ended", op, details={"op_status": e.get("op_status")}))
    for name, begun in started.items():  # still running at the end of the journal
        obs.append(Observation(begun, "hook", details={"hook": name, "seconds": None, "exit_code": None,
                                                       "running": True}))
    return obs
