"""One guest RPC, end to end inside the hypervisor: request string in, what vmtoolsd prints out. Pure."""

from __future__ import annotations

from typing import NamedTuple

from simulator import wire
from simulator.model import InvalidInput, VirtualMachine

UNABLE_TO_SEND = "Unable to send command to VMware hypervisor."  # vmtoolsd outside a VM [S8]


class RpcResult(NamedTuple):
    """What a ``vmtoolsd --cmd`` run prints and how it exits."""

    stdout: str
    stderr: str
    exit_code: int


def success(payload: str) -> RpcResult:
    """RPC status "1": vmtoolsd prints the payload and a newline on stdout and exits 0 [S8]."""
    return RpcResult(payload + "\n", "", 0)


def failure(payload: str) -> RpcResult:
    """Any other RPC status: the payload and a newline on stderr, exit 1 [S8]."""
    return RpcResult("", payload + "\n", 1)


def refusal(vm: VirtualMachine, rpc_name: str, reason: str) -> RpcResult:
    message = wire.error_message(rpc_name, reason)
    envelope = vm.knobs.error_envelope
    if envelope == "json-stdout":
        return success(wire.render_error(message))
    if envelope == "json-stderr":
        return failure(wire.render_error(message))
    return failure(message)


def handle_rpc(vm: VirtualMachine, now: float, command: str) -> RpcResult:
    try:
        request = wire.parse_request(command, vm.knobs.reject_unknown_fields)
    except wire.UnknownCommand:
        return failure(vm.knobs.unknown_verb_reply)
    except wire.BadRequest as bad:
        return refusal(vm, command.partition(" ")[0], bad.reason)
    args = request.args
    try:
        if request.verb == "register":
            reg = vm.register(now, args["appName"], tuple(args["notificationTypes"]))
            return success(wire.render_register(reg.token, vm.config.effective_timeout, vm.knobs.guaranteed))
        if request.verb == "list":
            apps = [(r.app_name, r.notification_types) for r in vm.list_apps(now)]
            return success(wire.render_list(apps))
        if request.verb == "unregister":
            vm.unregister(now, args["uniqueToken"])
            return success(wire.render_ok())
        if request.verb == "check-for-event":
            event = vm.check_for_event(now, args["uniqueToken"])
            return success(wire.render_ok() if event is None else wire.render_event(event))
        if request.verb == "ack-event":
            status = vm.ack_event(now, args["uniqueToken"], args["operationId"])
            return success(wire.render_ack(args["operationId"], status))
    except InvalidInput as refused:
        return refusal(vm, request.rpc_name, refused.reason)
    raise AssertionError(f"verb {request.verb} has no handler")  # parse_request knows only the verbs above
