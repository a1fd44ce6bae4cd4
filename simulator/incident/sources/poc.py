"""The proof of concept's ``handle_notifications.log`` (log-formats.md): each RPC as argv, rc and stdout."""

from __future__ import annotations

import ast
import re
from typing import List, Optional, Tuple

from simulator.incident.observations import Observation, observe_rpc
from simulator.incident.sources.lines import Warnings, timed_lines

NAME = "poc"
WHAT = "the proof of concept's handle_notifications.log"

LINE = re.compile(r"^(\d{4}-\d\d-\d\d \d\d:\d\d:\d\d,\d{3}) \[([A-Z]+)\] (\w+): (.*)$")


def looks_like(lines: List[str]) -> bool:
    return any(LINE.match(line) for line in lines)


def _argv_request(text: str) -> Optional[str]:
    try:
        argv = ast.literal_eval(text)
    except (ValueError, SyntaxError, MemoryError, RecursionError):
        return None
    if isinstance(argv, list) and len(argv) >= 3 and argv[1] == "--cmd" and isinstance(argv[2], str):
        return argv[2]
    return None


def parse(data: bytes, warnings: Warnings) -> List[Observation]:
    obs: List[Observation] = []
    rpc: Optional[Tuple[float, str]] = None
    rc = 0
    hook: Optional[Tuple[str, float]] = None
    stopping = False
    for t, m in timed_lines(data, warnings, LINE):
        func, message = m.group(3), m.group(4)
        if func == "vmtoolsd" and message.startswith("invoke command: "):
            request = _argv_request(message[len("invoke command: "):])
            rpc = (t, request) if request is not None else None
        elif func == "vmtoolsd" and message.startswith("rc: "):
            rc = int(message[4:]) if message[4:].strip().lstrip("-").isdigit() else 1
        elif func == "vmtoolsd" and message.startswith("stdout: ") and rpc is not None:
            # stderr is merged into stdout by the PoC, and the rc is what vmtoolsd returned.
            out = message[len("stdout: "):] + "\n"
            obs += observe_rpc(rpc[0], rpc[1], out if rc == 0 else "", "" if rc == 0 else out, rc)
            rpc = None
        elif func == "invoke_command" and message.startswith("command for quiesce/unquiesce: "):
            hook = ("pending", t)
        elif func == "monitor" and message.startswith("command to ") and hook is not None:
            which = "quiesce" if message.startswith("command to quiesce") else "unquiesce"
            code = message.rpartition(" ")[2]
            obs.append(Observation(hook[1], "hook", details={
                "hook": which, "seconds": t - hook[1], "exit_code": int(code) if code.lstrip("-").isdigit() else None}))
            hook = None
        elif func == "monitor" and message == "interrupted":
            stopping = True
    if stopping and obs:  # "interrupted" is logged before the unregister in the PoC's finally block
        obs.append(Observation(max(o.t for o in obs), "stop"))
    return obs
