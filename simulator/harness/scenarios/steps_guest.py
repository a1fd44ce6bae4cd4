"""Steps that set up the simulated VM and speak the guest RPCs directly, as any handler does."""

from __future__ import annotations

import json
import re

from pytest_bdd import given, parsers, then, when

from simulator.harness.scenarios.story import Story, fail

REGISTER = 'vm-operation-notification.register {{"appName": "{name}", "notificationTypes": ["sla-miss"]}}'
TOKEN_SHAPE = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$")


def _reply(story: Story) -> dict[str, object]:
    out = story.last_reply.stdout or story.last_reply.stderr
    try:
        reply = json.loads(out)
    except ValueError:
        fail(f"the reply is not JSON: {out!r}")
    assert isinstance(reply, dict)
    return reply


# ------------------------------------------------------------------------------------------ settings


@given(parsers.parse("the hosts allow {seconds:d} seconds for notifications"))
def hosts_allow(story: Story, seconds: int) -> None:
    story.sim.set(host_timeout=seconds)


@given(parsers.parse("the VM allows {seconds:d} seconds for notifications"))
def vm_allows(story: Story, seconds: int) -> None:
    story.sim.set(vm_timeout=seconds)


@given("vMotion notifications are disabled on the VM")
def disabled(story: Story) -> None:
    story.sim.set(enabled=False)


@given(parsers.parse("a migration takes {seconds:g} seconds"))
@given(parsers.parse("a migration takes {seconds:g} second"))
def migration_takes(story: Story, seconds: float) -> None:
    story.sim.migration_seconds = seconds


@given("the hypervisor moves the deadline of a waiting vMotion when the timeout changes")
def deadline_moves(story: Story) -> None:
    story.sim.knobs(timeout_change_moves_deadline=True)


# ------------------------------------------------------------------------------------------ guest RPCs


@given(parsers.parse('a guest app registered as "{name}"'))
@when(parsers.parse('a guest app registers as "{name}"'))
def register(story: Story, name: str) -> None:
    story.last_reply = story.sim.call(REGISTER.format(name=name))
    try:
        token = json.loads(story.last_reply.stdout).get("uniqueToken")
    except ValueError:
        token = None
    if token:
        story.tokens[name] = token


@when("the guest lists the registered apps")
def list_apps(story: Story) -> None:
    story.last_reply = story.sim.call("vm-operation-notification.list")


@when(parsers.parse('"{name}" unregisters'))
def unregister(story: Story, name: str) -> None:
    rpc = json.dumps({"uniqueToken": story.tokens[name]})
    story.last_reply = story.sim.call(f"vm-operation-notification.unregister {rpc}")


@when("the guest unregisters with a token nobody was given")
def unregister_unknown(story: Story) -> None:
    rpc = json.dumps({"uniqueToken": "52000000-0000-0000-0000-000000000000"})
    story.last_reply = story.sim.call(f"vm-operation-notification.unregister {rpc}")


@when(parsers.parse('"{name}" asks for an event'))
def check_for_event(story: Story, name: str) -> None:
    rpc = json.dumps({"uniqueToken": story.tokens[name]})
    story.last_reply = story.sim.call(f"vm-operation-notification.check-for-event {rpc}")


@then(parsers.parse("the registration succeeds with a notification timeout of {seconds:d} seconds"))
def registered_with(story: Story, seconds: int) -> None:
    reply = _reply(story)
    if reply.get("result") is not True:
        fail(f"registration refused: {reply.get('errorMessage')}")
    assert reply["notificationTimeoutInSec"] == seconds
    assert story.last_reply.exit_code == 0


@then('the token looks like "xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx" in lowercase hex')
def token_shape(story: Story) -> None:
    token = str(_reply(story)["uniqueToken"])
    assert TOKEN_SHAPE.match(token), token


@then(parsers.parse('the registration is refused with "{text}"'))
@then(parsers.parse('the call is refused with "{text}"'))
def refused(story: Story, text: str) -> None:
    reply = _reply(story)
    assert reply.get("result") is False, reply
    assert text in str(reply.get("errorMessage")), reply


@then("the reply is exactly:")
def reply_exactly(story: Story, docstring: str) -> None:
    assert story.last_reply.stdout == docstring.strip() + "\n"
    assert story.last_reply.exit_code == 0


@then(parsers.parse("exactly {count:d} app is registered"))
@then(parsers.parse("exactly {count:d} apps are registered"))
def registered_count(story: Story, count: int) -> None:
    def check() -> None:
        seen = story.registrations()
        if seen != count:
            fail(f"{seen} apps are registered, expected {count}")

    story.eventually(check)


@then("no app is registered")
def none_registered(story: Story) -> None:
    registered_count(story, 0)
