"""VMware's ``vmnotification`` sample daemon: its service log (DEBUG ``run_rpc`` lines), and optionally its
vmotion and timeout logs beside it (log-formats.md). Replies are logged only for some RPCs, so events come
from the vmotion log's dict reprs, and a refused RPC from the CRITICAL line after it."""

from __future__ import annotations

import ast
import re
from typing import Any, Dict, List, Optional, Tuple

from handler.protocol import classify_rejection
from simulator.incident.observations import Observation, event_observation, payload_of
from simulator.incident.sources.lines import Warnings, timed_lines

NAME = "vmnotification"
WHAT = "the vmnotification sample daemon's logs"

LINE = re.compile(r"^(\d{4}-\d\d-\d\d \d\d:\d\d:\d\d,\d{3}) - ([\w.]+) - ([A-Z]+) - (.*)$")
_RUN_RPC = re.compile(r"^run_rpc: Running cmd : vmtoolsd --cmd '(.*)'$")
_NEW_TIMEOUT = re.compile(r"new notification timeout: '(\d+)' seconds")


def looks_like(lines: List[str]) -> bool:
    return any((m := LINE.match(line)) and m.group(2) in ("vmnotification_service", "vmotion", "timeout", "root")
               for line in lines)


def _dict_of(text: str) -> Optional[Dict[str, Any]]:
    try:
        value = ast.literal_eval(text)
    except (ValueError, SyntaxError, MemoryError, RecursionError):
        return None
    return value if isinstance(value, dict) else None


def parse(data: bytes, warnings: Warnings) -> List[Observation]:
    obs: List[Observation] = []
    last_rpc: Optional[Tuple[float, str]] = None
    pre: Optional[float] = None
    post: Optional[float] = None
    seen_events: set[Tuple[Any, Any]] = set()
    stopping = False
    for t, m in timed_lines(data, warnings, LINE):
        logger, level, message = m.group(2), m.group(3), m.group(4)
        if (r := _RUN_RPC.match(message)) is not None:
            request = r.group(1)
            last_rpc = (t, request)
            verb = request.split(" ", 1)[0].rpartition(".")[2]
            if verb == "check-for-event":
                obs.append(Observation(t, "poll"))
            elif verb == "ack-event":
                op = payload_of(request).get("operationId")
                obs.append(Observation(t, "ack", op if isinstance(op, int) else None))
            elif verb == "register":
                obs.append(Observation(t, "register"))
        elif level == "CRITICAL" and message.startswith("run_rpc: ") and last_rpc is not None:
            # The refusal of the RPC just run: turn the optimistic observation made for it into a refusal.
            reason = classify_rejection(message)
            for o in reversed(obs):
                if o.t == last_rpc[0] and o.kind in ("ack", "register"):
                    o.ok, o.details["reason"] = False, reason
                    break
            else:
                obs.append(Observation(t, "rpc-error", ok=False, details={"reason": reason}))
        elif message.startswith("unregister_for_notification: Received reply: "):
            reply = _dict_of(message.partition("Received reply: ")[2])
            obs.append(Observation(t, "unregister", ok=bool(reply and reply.get("result"))))
        elif logger == "vmotion" and message.startswith(("vmotion start event: ", "vmotion end event: ")):
            reply = _dict_of(message.split(": ", 1)[1])
            if reply is not None and (reply.get("eventType"), reply.get("operationId")) not in seen_events:
                seen_events.add((reply.get("eventType"), reply.get("operationId")))
                obs.append(event_observation(t, reply))
        elif logger == "vmotion" and message.startswith("pre-vmotion command starting"):
            pre = t
        elif logger == "vmotion" and message.startswith("pre-vmotion command complete") and pre is not None:
            obs.append(Observation(pre, "hook", details={"hook": "quiesce", "seconds": t - pre, "exit_code": 0}))
            pre = None
        elif logger == "vmotion" and message.startswith("post-vmotion command starting"):
            post = t
        elif logger == "vmotion" and message.startswith("post-vmotion command complete") and post is not None:
            obs.append(Observation(post, "hook", details={"hook": "unquiesce", "seconds": t - post, "exit_code": 0}))
            post = None
        elif logger == "vmnotification_service" and (n := _NEW_TIMEOUT.search(message)) is not None:
            key = ("timeout-change", t)
            if key not in seen_events:
                seen_events.add(key)
                obs.append(Observation(t, "event", details={"event": "timeout-change", "new_timeout": int(n.group(1))}))
        elif message == "run: Cleaning up":
            stopping = True
    if stopping and obs:  # the unregister comes after "Cleaning up": the daemon has stopped once it is done
        obs.append(Observation(max(o.t for o in obs), "stop"))
    return obs
