"""Compare a recording of a real host with the simulator: re-issue the recorded guest calls at their recorded
times on a ManualClock, list every difference in reply bytes, stderr and exit status, and find which knob
values the recording supports or contradicts.

The hypervisor's own actions are not in a recording; they are read from what the guest saw: a start event's
``eventGenTimeInSec`` is when the vMotion was requested, an end's when the migration ended, a timeout-change's
when the timeout changed. Tokens and operation ids differ between the host and the simulator by nature, so
each recorded placeholder or id is paired with the simulator's at the call where both first appear.
"""

from __future__ import annotations

import contextlib
import dataclasses
import functools
from dataclasses import dataclass, field
from typing import Any, Dict, List, Optional, Sequence, Tuple

from simulator import Knobs, ManualClock, Simulator, SimulatorError
from simulator.incident.observations import payload_of
from simulator.untrusted_json import json_value

# The plausible values of each knob a recording can speak to (protocol.md section 10).
CANDIDATES: Dict[str, Tuple[Any, ...]] = {
    "error_envelope": ("json-stdout", "json-stderr", "text-stderr"),
    "ack_after_timeout": ("error", "ack_received"),
    "ack_unknown_operation": ("error", "ack_received"),
    "ack_duplicate": ("ack_received", "error"),
    "unknown_verb_reply": ("Unknown command", "disabled"),
    "reject_unknown_fields": (False, True),
    "guaranteed": (True, False),
    "max_apps": (1, 2),
    "purge_stale_starts": (False, True),
    "timeout_change_moves_deadline": (False, True),
    "deliver_start_to_late_registrants": (False, True),
}
EXIT_1_TEXTS_LIMIT = 3  # texts from the recording tried as unknown_verb_reply


@dataclass
class Difference:
    index: int
    t: float
    verb: str
    what: str  # stdout | stderr | exit_code
    recorded: Any
    simulated: Any

    def line(self) -> str:
        return (f"call {self.index} at {self.t:.3f} s ({self.verb}): {self.what} differs\n"
                f"    recorded:  {self.recorded!r}\n    simulated: {self.simulated!r}")


@dataclass
class Plan:
    """What the hypervisor did, as the recording shows it."""

    start: float
    host_timeout: int
    vmotions: List[Tuple[float, float, str]] = field(default_factory=list)  # (when, migration seconds, outcome)
    timeout_changes: List[Tuple[float, int]] = field(default_factory=list)


def _reply(record: Dict[str, Any]) -> Optional[Dict[str, Any]]:
    text = record["stdout"].strip() or record["stderr"].strip()
    try:
        obj = json_value(text)
    except ValueError:
        return None
    return obj if isinstance(obj, dict) else None


def plan_of(records: Sequence[Dict[str, Any]]) -> Plan:
    start = float(records[0]["time"])
    timeout: Optional[int] = None
    starts: Dict[int, Dict[str, Any]] = {}
    released: Dict[int, float] = {}
    plan = Plan(start=start, host_timeout=120)
    requested: Dict[int, float] = {}
    previous = start
    for record in records:
        at, previous = previous, float(record["time"])
        reply = _reply(record) or {}
        verb = str(record.get("request") or "").split(" ", 1)[0].rpartition(".")[2]
        if verb == "register" and isinstance(reply.get("notificationTimeoutInSec"), int) and timeout is None:
            timeout = reply["notificationTimeoutInSec"]
        event, op = reply.get("eventType"), reply.get("operationId")
        gen = reply.get("eventGenTimeInSec")
        if not isinstance(op, int) or not isinstance(gen, int):
            if verb == "ack-event" and reply.get("ackStatus"):
                acked = payload_of(str(record["request"])).get("operationId")
                if isinstance(acked, int):
                    released.setdefault(acked, float(record["time"]))
            continue
        if event == "start" and op not in starts:
            starts[op] = reply
            # Requested after the call before this one (which did not see it) and in the second it names.
            requested[op] = min(max(float(gen), (at + float(record["time"])) / 2), gen + 0.999)
            if timeout is None:
                timeout = reply.get("notificationTimeoutInSec")
        elif event == "end" and op in starts:
            began = starts.pop(op)
            deadline = began["eventGenTimeInSec"] + began["notificationTimeoutInSec"]
            release = min(released.get(op, float("inf")), deadline)
            outcome = "success" if reply.get("opStatus") == "success" else "failure"
            # It ended in the second it names, and before it was fetched: the earliest such time.
            ended = min(max(float(gen), release) + 0.001, float(record["time"]))
            plan.vmotions.append((requested[op], max(0.0, ended - release), outcome))
        elif event == "timeout-change" and isinstance(reply.get("newNotificationTimeoutInSec"), int):
            plan.timeout_changes.append((float(gen), reply["newNotificationTimeoutInSec"]))
            if timeout is None:
                timeout = reply.get("notificationTimeoutInSec")
    for op in starts:  # no end recorded: the migration outlasted the recording
        plan.vmotions.append((requested[op], 1e6, "success"))
    plan.host_timeout = int(timeout) if isinstance(timeout, int) else 120
    plan.vmotions.sort()
    return plan


def _swap(text: str, pairs: Dict[str, str]) -> str:
    for old, new in pairs.items():
        text = text.replace(old, new)
    return text


def run_compare(records: Sequence[Dict[str, Any]], plan: Plan, knobs: Knobs) -> List[Difference]:
    # The host's clock and the guest's may differ by less than a second; start where the recording starts.
    clock = ManualClock(min([plan.start] + [v[0] for v in plan.vmotions] + [c[0] for c in plan.timeout_changes]))
    sim = Simulator(clock, host_timeout=plan.host_timeout, knobs=knobs, seed=1)
    for when, seconds, outcome in plan.vmotions:
        clock.call_at(when, functools.partial(_quietly, sim.vmotion, outcome, seconds))
    for when, new in plan.timeout_changes:
        clock.call_at(when, functools.partial(_quietly, sim.set, host_timeout=new))
    to_sim: Dict[str, str] = {}  # recorded placeholder / id -> the simulator's
    to_recorded: Dict[str, str] = {}
    differences: List[Difference] = []
    for index, record in enumerate(records, start=1):
        request = record.get("request")
        if not isinstance(request, str):
            continue
        clock.move_to(max(clock.now(), float(record["time"])))
        result = sim.call(_swap(request, to_sim))
        recorded_reply, simulated_reply = _reply(record) or {}, _reply(
            {"stdout": result.stdout, "stderr": result.stderr}) or {}
        for key in ("uniqueToken", "operationId"):
            r, s = recorded_reply.get(key), simulated_reply.get(key)
            if r is not None and s is not None and str(s) not in to_recorded:
                to_recorded[str(s)] = str(r)
                to_sim[str(r)] = str(s)
        verb = request.split(" ", 1)[0].rpartition(".")[2]
        t = float(record["time"]) - plan.start
        for what, recorded, simulated in (("stdout", record["stdout"], _swap(result.stdout, to_recorded)),
                                          ("stderr", record["stderr"], _swap(result.stderr, to_recorded)),
                                          ("exit_code", record["exit_code"], result.exit_code)):
            if recorded != simulated:
                differences.append(Difference(index, t, verb, what, recorded, simulated))
    return differences


def _quietly(action: Any, *args: Any, **kwargs: Any) -> None:
    # A refusal (a second vMotion while one is in flight) shows up as differences in the replies.
    with contextlib.suppress(SimulatorError):
        action(*args, **kwargs)


@dataclass
class KnobFinding:
    name: str
    value: Any
    differences: int
    verdict: str  # supports | contradicts | neutral


@dataclass
class Comparison:
    calls: int
    differences: List[Difference]
    findings: List[KnobFinding]
    agreeing_knobs: Dict[str, Any]
    remaining: int

    def as_dict(self) -> Dict[str, Any]:
        return {
            "calls": self.calls,
            "differences": [dataclasses.asdict(d) for d in self.differences],
            "knobs": [dataclasses.asdict(f) for f in self.findings],
            "would_agree_with": self.agreeing_knobs,
            "differences_left_with_those": self.remaining,
        }


def candidates(records: Sequence[Dict[str, Any]]) -> Dict[str, Tuple[Any, ...]]:
    out = dict(CANDIDATES)
    texts = []
    for record in records:
        text = record["stderr"].strip()
        if record["exit_code"] != 0 and text and not text.startswith("{") and text not in texts:
            texts.append(text)
    out["unknown_verb_reply"] = tuple(dict.fromkeys(CANDIDATES["unknown_verb_reply"]
                                                    + tuple(texts[:EXIT_1_TEXTS_LIMIT])))
    return out


def compare(records: Sequence[Dict[str, Any]], knobs: Optional[Knobs] = None) -> Comparison:
    base = knobs or Knobs()
    plan = plan_of(records)
    differences = run_compare(records, plan, base)
    findings: List[KnobFinding] = []
    best: Dict[str, Tuple[int, Any]] = {}
    for name, values in candidates(records).items():
        counts: Dict[Any, int] = {}
        for value in values:
            try:
                knob_set = base.replace(**{name: value})
            except (TypeError, ValueError):
                continue
            counts[value] = len(run_compare(records, plan, knob_set))
        if len(set(counts.values())) <= 1:
            continue  # the recording does not exercise this knob
        fewest = min(counts.values())
        for value, count in counts.items():
            verdict = "supports" if count == fewest else "contradicts"
            findings.append(KnobFinding(name, value, count, verdict))
        if counts.get(getattr(base, name), fewest) > fewest:
            best[name] = (fewest, min((v for v in counts if counts[v] == fewest), key=str))
    # Combine the better values greedily, keeping each only if it still helps alongside the others.
    agreeing: Dict[str, Any] = {}
    current = len(differences)
    for name, (_, value) in sorted(best.items(), key=lambda item: item[1][0]):
        trial = base.replace(**{**agreeing, name: value})
        count = len(run_compare(records, plan, trial))
        if count < current:
            agreeing[name], current = value, count
    return Comparison(len(records), differences, findings, agreeing, current)
