"""The simulator's journal, as ``vmotion-sim journal --json`` prints it (a JSON list, time in epoch seconds)."""

from __future__ import annotations

from typing import Dict, Iterable, List

from simulator.incident.observations import Observation, observe_rpc
from simulator.incident.sources.lines import SourceError, Warnings
from simulator.journal_entry import Entry, JournalEntry, ModelEntry, ProbeEntry, RpcEntry
from simulator.model.journal_events import JournalEvent
from simulator.untrusted_json import json_value

NAME = "journal"
WHAT = "a simulator journal (vmotion-sim journal --json)"


def looks_like(data: bytes) -> bool:
    head = data.lstrip()[:200]
    return head.startswith(b"[") and (b'"seq"' in head or b'"kind"' in head or head.rstrip() in (b"[", b"[]"))


def entries(data: bytes, warnings: Warnings) -> List[Entry]:
    """The journal's entries; one that is not an entry is skipped, and ``warnings`` counts it."""
    try:
        doc = json_value(data.decode("utf-8"))
    except UnicodeDecodeError:
        raise SourceError("the journal is not UTF-8 text") from None
    except ValueError:
        raise SourceError("the journal is truncated or damaged (not a complete JSON list)") from None
    if not isinstance(doc, list):
        raise SourceError("a journal is a JSON list")
    out: List[Entry] = []
    for number, e in enumerate(doc, start=1):
        try:
            out.append(JournalEntry.from_dict(e))
        except ValueError:
            warnings.skip(number)
    return out


def parse(data: bytes, warnings: Warnings) -> List[Observation]:
    return observe_journal(entries(data, warnings))


def observe_journal(journal: Iterable[Entry]) -> List[Observation]:
    """Also how a scenario's own run is read back: its simulator's journal."""
    obs: List[Observation] = []
    started: Dict[str, float] = {}
    for e in journal:
        t = e.time
        if isinstance(e, RpcEntry):
            obs += observe_rpc(t, e.request, e.stdout, e.stderr, e.exit_code)
        elif isinstance(e, ProbeEntry):
            if e.phase == "started":
                started[e.name] = t
            elif e.phase in ("finished", "terminated") and e.name in started:
                begun = started.pop(e.name)
                obs.append(Observation(begun, "hook", details={
                    "hook": e.name, "seconds": t - begun, "exit_code": e.exit_code,
                    "killed": e.phase == "terminated"}))
        elif isinstance(e, ModelEntry):
            what, op = e.what, e.operation_id
            if what == JournalEvent.REBOOTED:
                obs.append(Observation(t, "reboot"))
            elif what == JournalEvent.FORCED:
                obs.append(Observation(t, "forced", op))
            elif what == JournalEvent.VMOTION_REQUESTED:
                obs.append(Observation(t, "vmotion", op, details={"timeout": e.details.get("timeout")}))
            elif what == JournalEvent.CONFIGURED:
                obs.append(Observation(t, "config", details=dict(e.details)))
            elif what == JournalEvent.MIGRATION_ENDED:
                obs.append(Observation(t, "migration-ended", op, details={"op_status": e.details.get("op_status")}))
    for name, begun in started.items():  # still running at the end of the journal
        obs.append(Observation(begun, "hook", details={"hook": name, "seconds": None, "exit_code": None,
                                                       "running": True}))
    return obs
