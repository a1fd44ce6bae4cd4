"""A tiny guest for tests: sends RPC strings to anything with ``call`` and parses the replies as JSON."""

from __future__ import annotations

import json
from typing import Any, Dict, List, Protocol

from simulator.rpc import RpcResult


class Transport(Protocol):
    def call(self, command: str) -> RpcResult: ...


class Guest:
    def __init__(self, transport: Transport) -> None:
        self.transport = transport

    def rpc(self, verb: str, args: Any = None) -> Dict[str, Any]:
        command = f"vm-operation-notification.{verb}" + ("" if args is None else " " + json.dumps(args))
        result = self.transport.call(command)
        assert result.exit_code == 0, result
        reply: Dict[str, Any] = json.loads(result.stdout)
        return reply

    def register(self, name: str = "demo") -> str:
        reply = self.rpc("register", {"appName": name, "notificationTypes": ["sla-miss"]})
        assert reply["result"] is True, reply
        return str(reply["uniqueToken"])

    def check(self, token: str) -> Dict[str, Any]:
        return self.rpc("check-for-event", {"uniqueToken": token})

    def ack(self, token: str, operation_id: int) -> Dict[str, Any]:
        return self.rpc("ack-event", {"uniqueToken": token, "operationId": operation_id})

    def unregister(self, token: str) -> Dict[str, Any]:
        return self.rpc("unregister", {"uniqueToken": token})

    def drain(self, token: str) -> List[Dict[str, Any]]:
        events: List[Dict[str, Any]] = []
        while True:
            reply = self.check(token)
            if "eventType" not in reply:
                return events
            events.append(reply)
