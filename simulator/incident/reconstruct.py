"""From observations to the incident: settings, events and when they came, hook runs, acks against their
deadlines, and the outcome (a set of names from ``observations.OUTCOMES``)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Dict, List, Optional

from simulator.incident.observations import Observation

ZONE_STEP = 900.0  # time zones are whole quarter hours


@dataclass
class OperationView:
    operation_id: int
    requested: Optional[float] = None  # source seconds (from eventGenTimeInSec, or the simulator's own note)
    fetched: Optional[float] = None
    timeout: Optional[int] = None
    acks: List[Dict[str, Any]] = field(default_factory=list)
    end_fetched: Optional[float] = None
    end_requested: Optional[float] = None
    op_status: Optional[str] = None
    forced: bool = False

    @property
    def deadline(self) -> Optional[float]:
        if self.requested is None or self.timeout is None:
            return None
        return self.requested + self.timeout

    def acked_in_time(self) -> bool:
        deadline = self.deadline
        return any(a["ok"] and (deadline is None or a["t"] <= deadline + 1e-6) for a in self.acks)

    def as_dict(self) -> Dict[str, Any]:
        return {
            "operation_id": self.operation_id,
            "requested": _r(self.requested),
            "fetched": _r(self.fetched),
            "timeout": self.timeout,
            "deadline": _r(self.deadline),
            "acks": [{"t": _r(a["t"]), "ok": a["ok"],
                      "before_deadline": None if self.deadline is None else a["t"] <= self.deadline + 1e-6}
                     for a in self.acks],
            "end_fetched": _r(self.end_fetched),
            "op_status": self.op_status,
            "forced": self.forced or not self.acked_in_time(),
        }


@dataclass
class Incident:
    source_format: str
    observations: List[Observation]
    warnings: List[str] = field(default_factory=list)
    timeout: Optional[int] = None
    interval: Optional[float] = None
    operations: List[OperationView] = field(default_factory=list)
    timeout_changes: List[Dict[str, Any]] = field(default_factory=list)
    hooks: List[Dict[str, Any]] = field(default_factory=list)
    reboots: List[float] = field(default_factory=list)
    configs: List[Dict[str, Any]] = field(default_factory=list)  # settings changed (only a journal shows them)
    handler_settings: Dict[str, Any] = field(default_factory=dict)  # what a handler's own log tells of itself
    outcome: List[str] = field(default_factory=list)
    end: float = 0.0
    invariants: List[str] = field(default_factory=list)  # the soak's invariants a real-time run broke (invariant:NAME)

    def as_dict(self) -> Dict[str, Any]:
        return {**({"invariants": self.invariants} if self.invariants else {}),
            "format": self.source_format,
            "settings": {"notification_timeout": self.timeout, "interval": self.interval},
            "handler_settings": self.handler_settings,
            "operations": [op.as_dict() for op in self.operations],
            "timeout_changes": self.timeout_changes,
            "hooks": self.hooks,
            "reboots": [_r(t) for t in self.reboots],
            "settings_changed": self.configs,
            "outcome": self.outcome,
            "duration": _r(self.end),
            "warnings": self.warnings,
        }


def _r(value: Optional[float]) -> Optional[float]:
    return None if value is None else round(value, 3)


def zone_offset(observations: List[Observation], epoch0: float) -> float:
    """Seconds to add to an eventGenTimeInSec (epoch, UTC) to place it on the source's own clock, whose t=0
    reads ``epoch0`` (a local time read as if it were UTC when the source has no zone)."""
    for o in observations:
        gen = o.details.get("gen")
        if o.kind == "event" and isinstance(gen, (int, float)):
            return round((epoch0 + o.t - gen) / ZONE_STEP) * ZONE_STEP
    return 0.0


def reconstruct(source_format: str, observations: List[Observation], epoch0: float,
                warnings: Optional[List[str]] = None) -> Incident:
    obs = sorted(observations, key=lambda o: o.t)
    incident = Incident(source_format, obs, list(warnings or []))
    offset = zone_offset(obs, epoch0)
    ops: Dict[int, OperationView] = {}
    polls: List[float] = []

    def op_of(operation_id: int) -> OperationView:
        if operation_id not in ops:
            ops[operation_id] = OperationView(operation_id)
        return ops[operation_id]

    registered = False
    quiesced = False
    explicit_reboots = any(o.kind == "reboot" for o in obs)
    last_good: Optional[float] = None  # the last time the registration was seen working
    first_refusal: Optional[float] = None  # the first refused RPC after that
    outcome: List[str] = []

    def flag(name: str) -> None:
        if name not in outcome:
            outcome.append(name)

    for o in obs:
        incident.end = max(incident.end, o.t)
        if o.ok and o.kind in ("register", "poll", "event", "ack"):
            last_good, first_refusal = o.t, None
        elif not o.ok and o.kind in ("ack", "rpc-error") and first_refusal is None:
            first_refusal = o.t
        gen = o.details.get("gen")
        at_gen = None if not isinstance(gen, (int, float)) else gen + offset - epoch0
        if o.kind == "register":
            if o.ok:
                registered = True
                if incident.timeout is None and isinstance(o.details.get("timeout"), int):
                    incident.timeout = o.details["timeout"]
            elif o.details.get("reason") == "limit-reached":
                flag("leaked-registration")
        elif o.kind == "unregister" and (o.ok or o.details.get("reason") == "unknown-token"):
            registered = False
        elif o.kind == "poll":
            polls.append(o.t)
        elif o.kind == "vmotion" and o.operation_id is not None:
            op_of(o.operation_id).requested = o.t
        elif o.kind == "event" and o.operation_id is not None:
            event = o.details.get("event")
            if event == "start":
                op = op_of(o.operation_id)
                op.fetched = o.t if op.fetched is None else op.fetched
                op.timeout = o.details.get("timeout")
                if op.requested is None and at_gen is not None:
                    # eventGenTimeInSec is whole seconds: the request came in [gen, gen + 1), and before the fetch.
                    op.requested = max(at_gen, min(o.t, at_gen + 1.0))
                if incident.timeout is None:
                    incident.timeout = op.timeout
            elif event == "end":
                op = op_of(o.operation_id)
                op.end_fetched = o.t
                op.end_requested = at_gen
                op.op_status = o.details.get("op_status")
            elif event == "timeout-change":
                change = {"t": _r(at_gen if at_gen is not None else o.t), "fetched": _r(o.t),
                          "old": o.details.get("timeout"), "new": o.details.get("new_timeout")}
                if change not in incident.timeout_changes:
                    incident.timeout_changes.append(change)
        elif o.kind == "ack" and o.operation_id is not None and o.operation_id in ops:
            ops[o.operation_id].acks.append({"t": o.t, "ok": o.ok})

        elif o.kind == "forced" and o.operation_id is not None:
            op_of(o.operation_id).forced = True
        elif o.kind == "hook":
            hook = o.details.get("hook")
            incident.hooks.append({"hook": hook, "t": _r(o.t), "seconds": _r(o.details.get("seconds")),
                                   "exit_code": o.details.get("exit_code"), "killed": bool(o.details.get("killed"))})
            if o.details.get("killed") and hook == "quiesce":
                flag("quiesce-killed")
            if hook == "quiesce":
                if quiesced:
                    flag("double-quiesce")
                quiesced = True
            elif hook == "unquiesce":
                if not quiesced:
                    flag("unquiesce-without-quiesce")
                quiesced = False
        elif o.kind == "config":
            incident.configs.append({"t": _r(o.t), **o.details})
        elif o.kind == "reboot":
            incident.reboots.append(o.t)
            if registered:
                flag("registration-lost")
            registered = False
        elif o.kind == "rpc-error" and o.details.get("reason") == "unknown-token" and registered:
            flag("registration-lost")
            if not explicit_reboots:
                # Only a reboot makes the hypervisor forget a registration [protocol.md 5.1]. A log that does not
                # show it shows when the registration last worked and when it first failed: the reboot came
                # in between, so halfway is the estimate that is wrong by the least.
                failed = first_refusal if first_refusal is not None else o.t
                worked = last_good if last_good is not None else failed
                incident.reboots.append(round((worked + failed) / 2, 3))
            registered = False
        elif o.kind == "handler-setting":
            incident.handler_settings.update(o.details)
        elif o.kind == "stop" and registered:
            flag("leaked-registration")
    incident.operations = [op for op in ops.values() if op.fetched is not None or op.requested is not None]
    for op in incident.operations:
        if op.forced or (op.fetched is not None and not op.acked_in_time()):
            flag("forced-migration")
        if op.fetched is not None and op.end_fetched is None and op.op_status is None:
            flag("missed-end")
    if quiesced:
        flag("app-left-quiesced")
    if len(polls) >= 3:
        gaps = sorted(b - a for a, b in zip(polls, polls[1:]) if b - a > 0.05)
        if gaps:
            incident.interval = round(gaps[len(gaps) // 2], 3)
    incident.outcome = sorted(outcome)
    return incident
