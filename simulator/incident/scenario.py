"""The scenario file: an incident as data a person can read and edit (JSON, versioned).

    {
      "format": "vmotion-incident-scenario", "version": 2,
      "name": "db-07 forced at 02:14",
      "settings": {"host_timeout": 8, "vm_timeout": null, "migration_seconds": 15},
      "knobs": {"ack_after_timeout": "error"},
      "handler": {"interval": 1, "safety_margin": 2, "on_quiesce_failure": "ack-anyway"},
      "actions": [{"at": 5, "do": "vmotion"}, {"at": 7, "do": "set", "host_timeout": 4}, {"at": 30, "do": "reboot"}],
      "hooks": {"quiesce": [{"seconds": 11, "exit_code": 0}], "unquiesce": [{"seconds": 1, "exit_code": 0}]},
      "duration": 60,
      "expect": ["forced-migration"]
    }

Times are seconds from the start of the run; the handler starts at 0. ``hooks`` lists each hook's runs in order
(a run past the list behaves like the last). ``expect`` names outcomes (``observations.OUTCOMES``); a run
reproduces the incident when it shows exactly these.

Version 2 (version 1 files still read) adds what a soak run does: channel faults (``{"do": "fault", "garble":
true, "count": 2}``; no fault named: all off), a hook's behaviour from then on (``{"do": "hook", "hook":
"quiesce", "seconds": 5, "exit_code": 0}``), the handler's life on real time (``kill``: SIGKILL, ``restart``,
``terminate``: SIGTERM), the broken invariants of the soak as ``invariant:NAME`` in ``expect`` (a run
reproduces those when it shows exactly those invariants broken and at least the outcomes listed beside them),
the handler ``command`` and ``speed`` to run it with when ``run`` is given none, and ``"begin": "registered"``:
the seconds count from the handler's first registration, not its start (as a soak's steps do).
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Dict, List, Optional

from simulator.incident.observations import OUTCOMES
from simulator.incident.reconstruct import Incident
from simulator.untrusted_json import json_value

FORMAT = "vmotion-incident-scenario"
VERSION = 2
VERSIONS = (1, 2)
FAULTS = ("channel_down", "garble", "truncate", "latency")
ACTIONS = {"vmotion": {"outcome", "migration_seconds"}, "set": {"host_timeout", "vm_timeout", "enabled"},
           "reboot": set(), "fault": {*FAULTS, "count"}, "hook": {"hook", "seconds", "exit_code", "behaviour"},
           "kill": set(), "restart": set(), "terminate": set()}
HANDLER_LIFE = ("kill", "restart", "terminate")  # actions on the handler (a process, or the core on virtual time)
INVARIANT = "invariant:"
BEGINS = ("start", "registered")
SETTINGS = {"host_timeout", "vm_timeout", "migration_seconds", "seed"}  # seed: the operation ids drawn
HANDLER_SETTINGS = {"interval", "safety_margin", "on_quiesce_failure", "ack_timeout_change", "end_timeout",
                    "unquiesce_timeout", "rpc_timeout"}
HOOKS = ("quiesce", "unquiesce")
RUN_PAST_THE_SOURCE = 0.5  # seconds a replay runs past the source's last line (as long as the incident, no longer)


class ScenarioError(Exception):
    """A scenario file that cannot be used; the message says where."""


@dataclass
class Scenario:
    name: str = "incident"
    settings: Dict[str, Any] = field(default_factory=lambda: {"host_timeout": 120, "vm_timeout": None,
                                                              "migration_seconds": 15.0})
    knobs: Dict[str, Any] = field(default_factory=dict)
    handler: Dict[str, Any] = field(default_factory=dict)
    actions: List[Dict[str, Any]] = field(default_factory=list)
    hooks: Dict[str, List[Dict[str, Any]]] = field(default_factory=dict)
    duration: float = 60.0
    expect: List[str] = field(default_factory=list)
    source: Optional[str] = None
    command: Optional[str] = None  # the handler command a real-time run uses when it is given none
    speed: Optional[float] = None  # the clocks' speed a real-time run uses when it is given none
    begin: str = "start"  # what second 0 is: the handler's "start", or its first registration ("registered")

    def as_dict(self) -> Dict[str, Any]:
        out: Dict[str, Any] = {"format": FORMAT, "version": VERSION, "name": self.name}
        if self.source:
            out["source"] = self.source
        out.update(settings=self.settings, knobs=self.knobs, handler=self.handler, actions=self.actions,
                   hooks=self.hooks, duration=self.duration, expect=self.expect)
        if self.command is not None:
            out["command"] = self.command
        if self.speed is not None:
            out["speed"] = self.speed
        if self.begin != "start":
            out["begin"] = self.begin
        return out


    def dumps(self) -> str:
        return json.dumps(self.as_dict(), indent=2) + "\n"

    def save(self, path: Path) -> None:
        path.write_text(self.dumps(), encoding="utf-8")

    def size(self) -> float:
        """What shrinking makes smaller: the actions, then the seconds (hooks, migrations, the run)."""
        seconds = sum(float(r.get("seconds", 0)) for runs in self.hooks.values() for r in runs)
        seconds += sum(float(a.get("migration_seconds", 0)) for a in self.actions)
        return len(self.actions) * 1e6 + sum(len(r) for r in self.hooks.values()) * 1e3 + seconds + self.duration


def _number(value: Any, where: str, minimum: float = 0.0) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value) or value < minimum:
        raise ScenarioError(f"{where}: a number >= {minimum:g} is needed, not {value!r}")
    return float(value)


def from_dict(doc: Any) -> Scenario:
    if not isinstance(doc, dict) or doc.get("format") != FORMAT:
        raise ScenarioError(f'not a scenario file (it has no "format": "{FORMAT}")')
    if doc.get("version") not in VERSIONS:
        raise ScenarioError(f"scenario version {doc.get('version')!r} is not understood (this reads 1 and 2)")
    version_2 = {"command", "speed", "begin"} if doc["version"] >= 2 else set()
    unknown = set(doc) - {"format", "version", "name", "source", "settings", "knobs", "handler", "actions", "hooks",
                          "duration", "expect"} - version_2
    if unknown:
        raise ScenarioError(f"unknown keys: {', '.join(sorted(unknown))}")
    settings = dict(doc.get("settings") or {})
    if set(settings) - SETTINGS:
        raise ScenarioError(f"settings: unknown {', '.join(sorted(set(settings) - SETTINGS))}")
    for key, value in settings.items():
        if key == "seed":
            if isinstance(value, bool) or not isinstance(value, int):
                raise ScenarioError("settings seed: a whole number (the simulator's seed: it draws the operation ids)")
        elif not (key == "vm_timeout" and value is None):
            _number(value, f"settings {key}", -1.0 if key == "vm_timeout" else 0.0)
    handler = dict(doc.get("handler") or {})
    if set(handler) - HANDLER_SETTINGS:
        raise ScenarioError(f"handler: unknown {', '.join(sorted(set(handler) - HANDLER_SETTINGS))}")
    for key, value in handler.items():
        if key == "on_quiesce_failure":
            ok = isinstance(value, str)
        elif key == "ack_timeout_change":
            ok = isinstance(value, bool)
        else:
            _number(value, f"handler {key}")
            ok = True
        if not ok:
            raise ScenarioError(f"handler {key}: {value!r} has the wrong type")
    actions = []
    kinds = ACTIONS if doc["version"] >= 2 else {k: ACTIONS[k] for k in ("vmotion", "set", "reboot")}
    for n, action in enumerate(doc.get("actions") or [], start=1):
        if not isinstance(action, dict) or action.get("do") not in kinds:
            raise ScenarioError(f"action {n}: needs \"do\": one of {', '.join(kinds)}")
        _number(action.get("at"), f"action {n} at")
        for key in ("migration_seconds", "host_timeout", "vm_timeout"):
            if key in action and not (key == "vm_timeout" and action[key] is None):
                _number(action[key], f"action {n} {key}", -1.0 if key == "vm_timeout" else 0.0)
        extra = set(action) - {"at", "do"} - ACTIONS[action["do"]]
        if extra:
            raise ScenarioError(f"action {n} ({action['do']}): unknown {', '.join(sorted(extra))}")
        _check_v2_action(action, n)
        actions.append(dict(action))
    hooks: Dict[str, List[Dict[str, Any]]] = {}
    for hook, runs in (doc.get("hooks") or {}).items():
        if hook not in HOOKS or not isinstance(runs, list):
            raise ScenarioError(f"hooks: {hook!r} is not one of {', '.join(HOOKS)} with a list of runs")
        for n, run in enumerate(runs, start=1):
            if not isinstance(run, dict):
                raise ScenarioError(f"hooks {hook} run {n}: an object with seconds and exit_code")
            _number(run.get("seconds", 0), f"hooks {hook} run {n} seconds")
            if not isinstance(run.get("exit_code", 0), int):
                raise ScenarioError(f"hooks {hook} run {n}: exit_code is a whole number")
        hooks[hook] = [dict(r) for r in runs]
    expect = doc.get("expect") or []
    from simulator.soak.invariants import NAMES

    known = set(OUTCOMES) | ({INVARIANT + name for name in NAMES} if doc["version"] >= 2 else set())
    if not isinstance(expect, list) or any(e not in known for e in expect):
        raise ScenarioError(f"expect: a list of outcomes among {', '.join(OUTCOMES)}"
                            + (f", or invariant:NAME with NAME among {', '.join(NAMES)}" if version_2 else ""))
    command = doc.get("command")
    if command is not None and not (isinstance(command, str) and command.strip()):
        raise ScenarioError("command: a handler command line (a string)")
    begin = doc.get("begin", "start")
    if begin not in BEGINS:
        raise ScenarioError(f"begin: one of {', '.join(BEGINS)}")
    speed = doc.get("speed")
    if speed is not None and not 0.01 <= _number(speed, "speed") <= 1000:
        raise ScenarioError("speed: between 0.01 and 1000")
    return Scenario(
        name=str(doc.get("name") or "incident"), settings={**Scenario().settings, **settings},
        knobs=dict(doc.get("knobs") or {}), handler=handler, actions=sorted(actions, key=lambda a: a["at"]),
        hooks=hooks, duration=_number(doc.get("duration", 60), "duration"), expect=sorted(expect),
        source=doc.get("source"), command=command, speed=None if speed is None else float(speed),
        begin=begin,
    )


def _check_v2_action(action: Dict[str, Any], n: int) -> None:
    kind = action["do"]
    if kind == "fault":
        if len([f for f in FAULTS if f in action]) > 1:
            raise ScenarioError(f"action {n} (fault): one of {', '.join(FAULTS)} per action")
        for fault in FAULTS[:3]:
            if fault in action and action[fault] is not True:
                raise ScenarioError(f"action {n} (fault): {fault} is true")
        if "latency" in action:
            _number(action["latency"], f"action {n} latency")
        if "count" in action and (not isinstance(action["count"], int) or action["count"] < 1):
            raise ScenarioError(f"action {n} (fault): count is a whole number >= 1")
    elif kind == "hook":
        if action.get("hook") not in HOOKS:
            raise ScenarioError(f"action {n} (hook): hook is one of {', '.join(HOOKS)}")
        _number(action.get("seconds", 0), f"action {n} seconds")
        if not isinstance(action.get("exit_code", 0), int):
            raise ScenarioError(f"action {n} (hook): exit_code is a whole number")


def load(path: Path) -> Scenario:
    try:
        doc = json_value(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise ScenarioError(f"cannot read {path}: {exc.strerror or exc}") from None
    except ValueError as exc:  # UnicodeDecodeError and JSONDecodeError are ValueErrors
        raise ScenarioError(f"{path.name} is not JSON: {exc.__class__.__name__}") from None
    return from_dict(doc)


def from_incident(incident: Incident, name: str) -> Scenario:
    """What the hypervisor did and how long the hooks took, at the times the source shows them."""
    actions: List[Dict[str, Any]] = []
    timeout = incident.timeout or 120
    for op in incident.operations:
        if op.requested is None:
            continue
        action: Dict[str, Any] = {"at": round(max(0.0, op.requested), 3), "do": "vmotion"}
        released = min([a["t"] for a in op.acks if a["ok"]] + ([op.deadline] if op.deadline is not None else []),
                       default=None)
        ended = op.end_requested if op.end_requested is not None else op.end_fetched  # fetched: a bound
        if ended is not None and released is not None:
            action["migration_seconds"] = round(max(0.0, ended - released), 3)
        if op.op_status not in (None, "success"):
            action["outcome"] = "failure"
        actions.append(action)
    for config in incident.configs:
        changed = {k: v for k, v in config.items() if k in ACTIONS["set"]}
        if changed:
            actions.append({"at": config["t"], "do": "set", **changed})
    for change in [] if incident.configs else incident.timeout_changes:
        if isinstance(change.get("new"), int):
            actions.append({"at": round(max(0.0, change["t"] or 0.0), 3), "do": "set", "host_timeout": change["new"]})
    actions += [{"at": round(t, 3), "do": "reboot"} for t in incident.reboots]
    actions.sort(key=lambda a: a["at"])
    hooks: Dict[str, List[Dict[str, Any]]] = {}
    for run in incident.hooks:
        if run["hook"] in HOOKS and run["seconds"] is not None:
            code = run["exit_code"] if isinstance(run["exit_code"], int) else 0
            seconds = run["seconds"]
            if run["killed"]:
                # It would have run longer than it was let: how much longer is not known, a timeout more is plenty.
                seconds = round(seconds + timeout, 3)
            hooks.setdefault(run["hook"], []).append({"seconds": seconds, "exit_code": code})
    handler: Dict[str, Any] = {k: v for k, v in incident.handler_settings.items() if k in HANDLER_SETTINGS}
    if incident.interval and "interval" not in handler:
        handler["interval"] = incident.interval
    last = max([a["at"] for a in actions] + [incident.end])
    return Scenario(
        name=name, settings={"host_timeout": timeout, "vm_timeout": None, "migration_seconds": 15.0},
        handler=handler, actions=actions, hooks=hooks, duration=round(last + RUN_PAST_THE_SOURCE, 3),
        expect=list(incident.outcome), source=incident.source_format,
    )
