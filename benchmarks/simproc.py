"""What the process figures send: the guest RPC strings, and one registration made directly over the socket.

The simulator itself is served by the harness (``simulator.harness.vm.SimulatedVM.as_process``), as in the tests.
"""

from __future__ import annotations

import json

from simulator.rpc import RpcResult

REGISTER = 'vm-operation-notification.register {"appName": "bench", "notificationTypes": ["sla-miss"]}'


def check_for_event(token: str) -> str:
    return "vm-operation-notification.check-for-event " + json.dumps({"uniqueToken": token})


def token_of(reply: RpcResult) -> str:
    """The token of a register reply."""
    token: str = json.loads(reply.stdout)["uniqueToken"]
    return token
