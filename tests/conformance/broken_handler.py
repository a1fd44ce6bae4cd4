"""A deliberately broken vMotion notification handler, for proving that the conformance check catches flaws.

    python broken_handler.py --flaw never-acks --quiesce CMD --unquiesce CMD
    python broken_handler.py --flaw acks-before-quiesce-ends --quiesce CMD --unquiesce CMD
    python broken_handler.py --flaw keeps-no-state --quiesce CMD --unquiesce CMD

It calls ``vmtoolsd`` from PATH like any handler. Apart from its flaw it behaves: it registers, polls every
0.2 s, runs the quiesce on a start and acks once it has finished, runs the unquiesce on an end, and unregisters
on SIGTERM. It never writes its token down, so a SIGKILL leaks its registration: with ``keeps-no-state`` that
is its only flaw.
"""

from __future__ import annotations

import argparse
import json
import shlex
import signal
import subprocess
import sys
import time
from types import FrameType
from typing import Any, Dict, Optional

FLAWS = ("never-acks", "acks-before-quiesce-ends", "keeps-no-state")
stopping = False


def rpc(verb: str, payload: Optional[Dict[str, Any]] = None) -> Dict[str, Any]:
    command = f"vm-operation-notification.{verb}" + (f" {json.dumps(payload)}" if payload is not None else "")
    done = subprocess.run(["vmtoolsd", "--cmd", command], capture_output=True, text=True, check=False)
    try:
        reply: Dict[str, Any] = json.loads(done.stdout)
    except ValueError:
        return {"result": False, "errorMessage": done.stderr.strip()}
    return reply


def on_signal(signum: int, frame: Optional[FrameType]) -> None:
    global stopping
    stopping = True


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--flaw", choices=FLAWS, required=True)
    parser.add_argument("--quiesce", required=True)
    parser.add_argument("--unquiesce", required=True)
    parser.add_argument("--name", default="broken")
    args = parser.parse_args()
    signal.signal(signal.SIGTERM, on_signal)
    reply = rpc("register", {"appName": args.name, "notificationTypes": ["sla-miss"]})
    if not reply.get("result"):
        print(f"register refused: {reply.get('errorMessage')}", file=sys.stderr)
        return 1
    token = reply["uniqueToken"]
    while not stopping:
        event = rpc("check-for-event", {"uniqueToken": token})
        kind = event.get("eventType")
        if kind == "start":
            ack = {"uniqueToken": token, "operationId": event["operationId"]}
            if args.flaw == "acks-before-quiesce-ends":
                rpc("ack-event", ack)  # the flaw: the migration may start while the application still works
            subprocess.run(shlex.split(args.quiesce), check=False)
            if args.flaw == "keeps-no-state":
                rpc("ack-event", ack)
            # never-acks: the flaw is the missing ack; the hypervisor forces the migration at its timeout.
        elif kind == "end":
            subprocess.run(shlex.split(args.unquiesce), check=False)
        else:
            time.sleep(0.2)
    rpc("unregister", {"uniqueToken": token})
    return 0


if __name__ == "__main__":
    sys.exit(main())
