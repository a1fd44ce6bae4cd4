"""Steps that set up the simulated VM and speak the guest RPCs directly, as any handler does."""

from __future__ import annotations

import json
import re
from typing import Dict

from pytest_bdd import given, parsers, then, when

from simulator.harness.scenarios.under_test import HandlerUnderTest, fail
from simulator.rpc import RpcResult

REGISTER = 'vm-operation-notification.register {{"appName": "{name}", "notificationTypes": ["sla-miss"]}}'
TOKEN_SHAPE = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$")


def _reply(reply: RpcResult) -> dict[str, object]:
    out = reply.stdout or reply.stderr
    try:
        parsed = json.loads(out)
    except ValueError:
        fail(f"the reply is not JSON: {out!r}")
    assert isinstance(parsed, dict)
    return parsed


# ------------------------------------------------------------------------------------------ settings


@given(parsers.parse("the hosts allow {seconds:d} seconds for notifications"))
def hosts_allow(handler: HandlerUnderTest, seconds: int) -> None:
    handler.sim.set(host_timeout=seconds)


@given(parsers.parse("the VM allows {seconds:d} seconds for notifications"))
def vm_allows(handler: HandlerUnderTest, seconds: int) -> None:
    handler.sim.set(vm_timeout=seconds)


@given("vMotion notifications are disabled on the VM")
def disabled(handler: HandlerUnderTest) -> None:
    handler.sim.set(enabled=False)


@given(parsers.parse("a migration takes {seconds:g} seconds"))
@given(parsers.parse("a migration takes {seconds:g} second"))
def migration_takes(handler: HandlerUnderTest, seconds: float) -> None:
    handler.sim.migration_seconds = seconds


@given("the hypervisor moves the deadline of a waiting vMotion when the timeout changes")
def deadline_moves(handler: HandlerUnderTest) -> None:
    handler.sim.knobs(timeout_change_moves_deadline=True)


# ------------------------------------------------------------------------------------------ guest RPCs


@given(parsers.parse('a guest app registered as "{name}"'), target_fixture="reply")
@when(parsers.parse('a guest app registers as "{name}"'), target_fixture="reply")
def register(handler: HandlerUnderTest, tokens: Dict[str, str], name: str) -> RpcResult:
    reply = handler.sim.call(REGISTER.format(name=name))
    try:
        token = json.loads(reply.stdout).get("uniqueToken")
    except ValueError:
        token = None
    if token:
        tokens[name] = token
    return reply


@when("the guest lists the registered apps", target_fixture="reply")
def list_apps(handler: HandlerUnderTest) -> RpcResult:
    return handler.sim.call("vm-operation-notification.list")


@when(parsers.parse('"{name}" unregisters'), target_fixture="reply")
def unregister(handler: HandlerUnderTest, tokens: Dict[str, str], name: str) -> RpcResult:
    return handler.sim.call(f"vm-operation-notification.unregister {json.dumps({'uniqueToken': tokens[name]})}")


@when("the guest unregisters with a token nobody was given", target_fixture="reply")
def unregister_unknown(handler: HandlerUnderTest) -> RpcResult:
    rpc = json.dumps({"uniqueToken": "52000000-0000-0000-0000-000000000000"})
    return handler.sim.call(f"vm-operation-notification.unregister {rpc}")


@when(parsers.parse('"{name}" asks for an event'), target_fixture="reply")
def check_for_event(handler: HandlerUnderTest, tokens: Dict[str, str], name: str) -> RpcResult:
    rpc = json.dumps({"uniqueToken": tokens[name]})
    return handler.sim.call(f"vm-operation-notification.check-for-event {rpc}")


@then(parsers.parse("the registration succeeds with a notification timeout of {seconds:d} seconds"))
def registered_with(reply: RpcResult, seconds: int) -> None:
    answer = _reply(reply)
    if answer.get("result") is not True:
        fail(f"registration refused: {answer.get('errorMessage')}")
    assert answer["notificationTimeoutInSec"] == seconds
    assert reply.exit_code == 0


@then('the token looks like "xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx" in lowercase hex')
def token_shape(reply: RpcResult) -> None:
    token = str(_reply(reply)["uniqueToken"])
    assert TOKEN_SHAPE.match(token), token


@then(parsers.parse('the registration is refused with "{text}"'))
@then(parsers.parse('the call is refused with "{text}"'))
def refused(reply: RpcResult, text: str) -> None:
    answer = _reply(reply)
    assert answer.get("result") is False, answer
    assert text in str(answer.get("errorMessage")), answer


@then("the reply is exactly:")
def reply_exactly(reply: RpcResult, docstring: str) -> None:
    assert reply.stdout == docstring.strip() + "\n"
    assert reply.exit_code == 0


@then(parsers.parse("exactly {count:d} app is registered"))
@then(parsers.parse("exactly {count:d} apps are registered"))
def registered_count(handler: HandlerUnderTest, count: int) -> None:
    def check() -> None:
        seen = len(handler.sim.status()["registrations"])
        if seen != count:
            fail(f"{seen} apps are registered, expected {count}")

    handler.eventually(check)


@then("no app is registered")
def none_registered(handler: HandlerUnderTest) -> None:
    registered_count(handler, 0)
