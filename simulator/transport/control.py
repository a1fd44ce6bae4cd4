"""The control protocol: one JSON object per line in each direction, for guest RPCs and control verbs alike.

    {"op": "rpc", "command": "vm-operation-notification.list"}
    -> {"ok": true, "exit_code": 0, "stdout": "...", "stderr": ""}
    {"op": "vmotion", "outcome": "success"}  -> {"ok": true, "operation_id": 6279...}
    anything refused                          -> {"ok": false, "error": "one line saying why"}

The ``rpc`` reply keeps its keys in that order and ASCII-only: the fake vmtoolsd reads it without the json
module, to start no slower than the interpreter itself.
"""

from __future__ import annotations

import json
import sys
import traceback
from typing import Any, Callable, Dict

from simulator.clock import clock_description
from simulator.inprocess import Simulator, SimulatorError
from simulator.model.knobs import Knobs

Reply = Dict[str, Any]
VIAS = ("", "argv", "file")  # how a fake vmtoolsd got its command: unknown, on its command line, in a file


def _call(sim: Simulator, command: Any, via: Any = "") -> Reply:
    if not isinstance(command, str):
        raise SimulatorError('"command" must be a string')
    if via not in VIAS:
        raise SimulatorError(f'"via" must be one of {", ".join(repr(v) for v in VIAS)}')
    result = sim.call(command, via=via)
    return {"exit_code": result.exit_code, "stdout": result.stdout, "stderr": result.stderr}


def _seconds(value: Any) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise SimulatorError("seconds must be a number")
    return float(value)


def _vmotion(sim: Simulator, outcome: str = "success", migration_seconds: Any = None) -> Reply:
    return {"operation_id": sim.vmotion(outcome, None if migration_seconds is None else _seconds(migration_seconds))}


def _set(sim: Simulator, **changes: Any) -> Reply:
    sim.set(**changes)
    return {"config": sim.status()["config"]}


def _knobs(sim: Simulator, **changes: Any) -> Reply:
    unknown = set(changes) - set(Knobs().as_dict())
    if unknown:
        raise SimulatorError(f"unknown knob {sorted(unknown)[0]!r}")
    if "accepted_notification_types" in changes and changes["accepted_notification_types"] is not None:
        changes["accepted_notification_types"] = tuple(changes["accepted_notification_types"])
    return {"knobs": sim.knobs(**changes).as_dict()}


def _fault(sim: Simulator, **faults: Any) -> Reply:
    return {"faults": sim.fault(**faults).as_dict()}


def _advance(sim: Simulator, seconds: Any) -> Reply:
    return {"time": sim.advance(_seconds(seconds))}


def _reboot(sim: Simulator) -> Reply:
    sim.reboot()
    return {}


def _reset(sim: Simulator) -> Reply:
    sim.reset()
    return {}


def _probe(sim: Simulator, name: str, phase: str, env: Any = None, **details: Any) -> Reply:
    sim.record_probe(name, phase, env, **details)
    return {}


# One name per action: the op is the vmotion-sim command and the method (see simulator.api).
OPS: Dict[str, Callable[..., Reply]] = {
    "call": _call,
    "vmotion": _vmotion,
    "set": _set,
    "knobs": _knobs,
    "fault": _fault,
    "advance": _advance,
    "reboot": _reboot,
    "reset": _reset,
    "probe": _probe,
    "status": lambda sim: {"status": sim.status().as_dict()},
    "journal": lambda sim: {"journal": [e.as_dict() for e in sim.journal()]},
    "time": lambda sim: {"time": sim.now()},
    "clock": lambda sim: {"clock": clock_description(sim.clock)},
    "ping": lambda sim: {},
}
OLD_NAMES = {"rpc": "call", "faults": "fault"}  # still accepted from clients written before the rename


def dispatch(sim: Simulator, request: Any) -> Reply:
    if not isinstance(request, dict) or not isinstance(request.get("op"), str):
        return {"ok": False, "error": 'a request is a JSON object with a string "op"'}
    args = dict(request)
    op = args.pop("op")
    handler = OPS.get(OLD_NAMES.get(op, op))
    if handler is None:
        return {"ok": False, "error": f"unknown op {op!r} (known: {', '.join(sorted(OPS))})"}
    try:
        return {"ok": True, **handler(sim, **args)}
    except TypeError as bad:  # wrong or missing arguments for the op
        return {"ok": False, "error": f"bad arguments for {op}: {bad}"}
    except (SimulatorError, ValueError, OverflowError) as refused:  # OverflowError: float() of a huge integer
        return {"ok": False, "error": str(refused)}
    except Exception as bug:  # a defect, not the client's fault: say so, keep serving, leave the trace for us
        traceback.print_exc(file=sys.stderr)
        return {"ok": False, "error": f"internal error in {op}: {type(bug).__name__} (trace on the server's stderr)"}


def _encode(reply: Reply) -> bytes:
    return json.dumps(reply, ensure_ascii=True).encode("ascii") + b"\n"


def oversize_reply(limit: int) -> bytes:
    return _encode({"ok": False, "error": f"request line longer than {limit} bytes: refused whole"})


def busy_reply(limit: int) -> bytes:
    return _encode({"ok": False, "error": f"the simulator is busy: all {limit} connections are handling requests"})


def handle_line(sim: Simulator, line: bytes) -> bytes:
    try:
        request = json.loads(line)
    except (ValueError, RecursionError):  # RecursionError: nested deeper than the parser's stack
        reply: Reply = {"ok": False, "error": "not a JSON line (or nested too deep)"}
    else:
        reply = dispatch(sim, request)
    return _encode(reply)
