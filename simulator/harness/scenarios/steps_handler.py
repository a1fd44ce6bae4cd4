"""Steps that run a handler (in-process on virtual time, or a process on real time) and read what it did.

The first Given of a scenario produces the ``handler`` fixture (pytest-bdd's ``target_fixture``); every later
step takes it. The logic of a Then-step is a question to the journal (``simulator.harness.journal``).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Dict, List

import pytest
from pytest_bdd import given, parsers, then, when

from simulator.harness.journal import event_type
from simulator.harness.launcher import HandlerLauncher
from simulator.harness.scenarios.under_test import HandlerUnderTest, ProcessHandler, VirtualHandler, fail
from simulator.harness.virtual import T0
from simulator.harness.vm import SimulatedVM
from simulator.harness.wait import wait_until
from simulator.model.journal_events import JournalEvent
from simulator.processes import process_alive

# ------------------------------------------------------------------------------------------ how it runs


@given("the handler runs in-process on virtual time, polling every second", target_fixture="handler")
def in_process(request: pytest.FixtureRequest, tmp_path: Path) -> HandlerUnderTest:
    return VirtualHandler(request.node, tmp_path)


@given("the handler runs as a process on real time", target_fixture="handler")
def as_process(
    request: pytest.FixtureRequest, vmotion_sim: SimulatedVM, vmotion_handler: HandlerLauncher
) -> HandlerUnderTest:
    return ProcessHandler(request.node, vmotion_sim, vmotion_handler)


@given(parsers.parse("the quiesce command takes {seconds:g} seconds"))
@given(parsers.parse("the quiesce command takes {seconds:g} second"))
def quiesce_takes(handler: HandlerUnderTest, seconds: float) -> None:
    handler.behave("quiesce", seconds)


@given(parsers.parse("the quiesce command fails with exit status {code:d} after {seconds:g} seconds"))
@given(parsers.parse("the quiesce command fails with exit status {code:d} after {seconds:g} second"))
def quiesce_fails(handler: HandlerUnderTest, code: int, seconds: float) -> None:
    handler.behave("quiesce", seconds, code)


@given(parsers.parse('the handler\'s policy on a failed quiesce is "{policy}"'), target_fixture="policy")
def policy_is(policy: str) -> str:
    return policy


@given("the handler is running")
@when("the handler starts")
def running(handler: HandlerUnderTest, policy: str) -> None:
    handler.start(policy)


@when("the handler is started again")
def started_again(handler: HandlerUnderTest, policy: str) -> None:
    handler.restart(policy)


@when(parsers.parse("the handler runs until second {second:g}"))
def run_until(handler: HandlerUnderTest, second: float) -> None:
    handler.run_until(second)


# ------------------------------------------------------------------------------------------ what happens


@when(parsers.parse("a vMotion is requested at second {second:g}"))
def vmotion_at(handler: HandlerUnderTest, second: float) -> None:
    handler.at(second, handler.request_vmotion)


@when(parsers.parse("a vMotion that will fail is requested at second {second:g}"))
def failing_vmotion_at(handler: HandlerUnderTest, second: float) -> None:
    handler.at(second, lambda: handler.request_vmotion("failure"))


@when("a vMotion is requested")
def vmotion_now(handler: HandlerUnderTest) -> None:
    handler.request_vmotion()


@when("a vMotion that will fail is requested")
def failing_vmotion_now(handler: HandlerUnderTest) -> None:
    handler.request_vmotion("failure")


@when(parsers.parse("the host timeout changes to {seconds:d} seconds at second {second:g}"))
def timeout_change_at(handler: HandlerUnderTest, seconds: int, second: float) -> None:
    handler.at(second, lambda: handler.sim.set(host_timeout=seconds))


@when(parsers.parse("the host timeout changes to {seconds:d} seconds"))
def timeout_change_now(handler: HandlerUnderTest, seconds: int) -> None:
    handler.sim.set(host_timeout=seconds)


@when(
    parsers.parse(
        "at second {second:g} the host timeout changes to {first:d} seconds, then to {then_:d} seconds, "
        "and a vMotion is requested"
    )
)
def queue_three(handler: HandlerUnderTest, second: float, first: int, then_: int) -> None:
    handler.at(second, lambda: handler.sim.set(host_timeout=first))
    handler.at(second, lambda: handler.sim.set(host_timeout=then_))
    handler.at(second, handler.request_vmotion)


@when("the guest RPC channel goes down")
def channel_down(handler: HandlerUnderTest) -> None:
    handler.sim.fault(channel_down=True)


@when("the guest RPC channel comes back")
def channel_back(handler: HandlerUnderTest) -> None:
    handler.sim.fault()


@when(parsers.parse("the operation has ended, waiting at most {seconds:g} seconds"))
def operation_ended(handler: HandlerUnderTest, seconds: float) -> None:
    if not wait_until(lambda: handler.operation()["phase"] == "done", seconds):
        fail(f"the migration did not end within {seconds:g} s (phase {handler.operation()['phase']}); "
             f"handler log: {handler.log_tail()}")


@when(parsers.parse("the quiesce has started, waiting at most {seconds:g} seconds"))
def quiesce_started(handler: HandlerUnderTest, seconds: float) -> None:
    if not wait_until(lambda: handler.journal().probes("quiesce", "started"), seconds):
        fail(f"the handler did not run its quiesce command within {seconds:g} s of the start event; "
             f"handler log: {handler.log_tail()}")


@when("the handler is killed with SIGKILL")
def killed(handler: HandlerUnderTest) -> None:
    handler.kill()


@when("the handler receives SIGTERM")
def sigterm(handler: HandlerUnderTest) -> None:
    handler.terminate()


# ------------------------------------------------------------------------------------------ what it did


@then("the timeline was")
def timeline_was(handler: HandlerUnderTest, datatable: List[List[str]]) -> None:
    """Each row happened at its second, in this order (other things may happen in between)."""
    expected = [(float(second), what.strip()) for second, what in datatable[1:]]
    problem = handler.journal().out_of_order(expected, handler.origin)
    if problem:
        fail(problem)


def _env_value(handler: HandlerUnderTest, text: str) -> str:
    if text == "the operation's id":
        return str(handler.operation_id)
    if text.startswith("epoch of second "):
        return str(int(T0 + float(text.rpartition(" ")[2])))
    return text


@then(parsers.parse("the {hook} command's environment held"))
def hook_env(handler: HandlerUnderTest, hook: str, datatable: List[List[str]]) -> None:
    run = handler.journal().probes(hook, "started").last()
    if run is None:
        fail(f"the {hook} command never ran")
    env: Dict[str, str] = run.env
    for variable, value in datatable[1:]:
        want = _env_value(handler, value.strip())
        assert env.get(variable) == want, f"{variable}={env.get(variable)!r}, expected {want!r} (env: {env})"


@then("the migration was not forced")
def not_forced(handler: HandlerUnderTest) -> None:
    op = handler.operation()
    if op["forced"]:
        fail(f"the migration was forced at the timeout ({op['notification_timeout']} s): the handler did not ack "
             f"in time; handler log: {handler.log_tail()}")


@then("the migration was forced at the timeout")
def forced(handler: HandlerUnderTest) -> None:
    op = handler.operation()
    assert op["forced"] is True, op
    assert op["migration_started_at"] == op["deadline"], op


@then("the quiesce ran once, after the start event was delivered")
def quiesce_once(handler: HandlerUnderTest) -> None:
    # A quiesce command is in the journal once its process runs, which can be after a short migration ended (a
    # handler that acks first and quiesces after): wait for it, so the verdict names what really happened.
    def check() -> None:
        problem = handler.journal().quiesced_once_after_start(handler.operation_id)
        if problem:
            fail(f"{problem}; handler log: {handler.log_tail()}")

    handler.eventually(check)


@then("the handler acked the operation after the quiesce ended and before the timeout")
def acked_in_time(handler: HandlerUnderTest) -> None:
    op, journal = handler.operation(), handler.journal()
    problem = journal.acked_after_quiesce(op)
    if problem:
        fail(problem)
    handler.timing(**journal.ack_timings(op))


@then("the unquiesce ran after the end event was delivered")
def unquiesce_after_end(handler: HandlerUnderTest) -> None:
    def check() -> None:
        journal = handler.journal()
        delivered = journal.notes(JournalEvent.DELIVERED, event="end", operation_id=handler.operation_id).first()
        if delivered is None:
            fail("the handler never fetched the end event")
        run = journal.probes("unquiesce", "started").since(delivered.time).first()
        if run is None:
            fail(f"the handler did not run its unquiesce command after the end event; the application stays "
                 f"quiesced; handler log: {handler.log_tail()}")
        handler.timing(end_to_unquiesce_s=run.time - delivered.time)

    handler.eventually(check)


@then("the unquiesce ran after the quiesce started")
def unquiesce_after_quiesce(handler: HandlerUnderTest) -> None:
    def check() -> None:
        started = handler.journal().probes("quiesce", "started").first()
        if started is None:
            fail("the quiesce command never ran")
        if not handler.journal().probes("unquiesce", "started").since(started.time):
            fail("the handler stopped without running its unquiesce command; the application stays quiesced")

    handler.eventually(check)


@then(parsers.parse("within {seconds:g} seconds the unquiesce ran after the restart"))
def unquiesce_after_restart(handler: HandlerUnderTest, seconds: float) -> None:
    def check() -> None:
        assert handler.restarted_at is not None
        if not handler.journal().probes("unquiesce", "started").since(handler.restarted_at):
            fail(f"the restarted handler did not unquiesce the application within {seconds:g} s; "
                 f"handler log: {handler.log_tail()}")

    handler.eventually(check, seconds)


@then("the restarted handler was never refused a registration")
def never_refused(handler: HandlerUnderTest) -> None:
    assert handler.restarted_at is not None
    reply = handler.journal().refused_registration_since(handler.restarted_at)
    if reply:
        fail(f"the restarted handler's registration was refused (its old registration leaked): {reply}")


@then("the quiesce was stopped by the timeout")
def quiesce_stopped(handler: HandlerUnderTest) -> None:
    op, journal = handler.operation(), handler.journal()
    started = journal.probes("quiesce", "started").first()
    if started is None:
        fail("the handler never ran its quiesce command")
    ended = journal.probe_ends("quiesce").first()
    if ended is not None and ended.time <= op["deadline"]:
        return
    pid = started.details.get("pid")
    if ended is None and pid is not None and not process_alive(int(pid)):
        return  # killed outright (SIGKILL) before now: no record, but gone
    late = f"{ended.time - op['deadline']:.1f} s after" if ended is not None else "still running"
    fail(f"the quiesce command was {late} the {op['notification_timeout']} s timeout: the handler does not "
         "stop a quiesce at the deadline")


@then("the quiesce command is no longer running")
def quiesce_gone(handler: HandlerUnderTest) -> None:
    def check() -> None:
        for run in handler.journal().probes("quiesce", "started"):
            pid = run.details.get("pid")
            if pid is not None and process_alive(int(pid)):
                fail(f"the quiesce command (pid {pid}) is still running: the handler orphaned it")

    handler.eventually(check)


@then(parsers.parse("the handler exits with status {code:d} within {seconds:g} seconds"))
def exits_with(handler: HandlerUnderTest, code: int, seconds: float) -> None:
    status = handler.exit_status(seconds)
    if status is None:
        fail(f"the handler was still running {seconds:g} s after SIGTERM")
    if status != code:
        fail(f"the handler exited with status {status}, expected {code}; its log ends: {handler.log_tail()}")


@then("the handler's log does not show the registration token")
def token_redacted(handler: HandlerUnderTest) -> None:
    text, tokens = handler.log_text(), handler.journal().tokens()
    assert tokens, "no registration reply in the journal"
    if any(token in text for token in tokens):
        fail("the handler's log shows its registration token (a bearer credential) in clear")


@then(parsers.parse('the handler logged "{text}"'))
def logged(handler: HandlerUnderTest, text: str) -> None:
    def check() -> None:
        if text not in handler.log_text():
            fail(f"the handler's log does not say {text!r}; it ends: {handler.log_tail()}")

    handler.eventually(check)


@then(parsers.parse("at second {second:g} the handler's check-for-event calls returned, in order:"))
def calls_at_second(handler: HandlerUnderTest, second: float, datatable: List[List[str]]) -> None:
    calls = handler.journal().rpcs("check-for-event").where(lambda e: e.time - handler.origin == second)
    assert calls.event_types() == [row[0] for row in datatable[1:]]


@then("the handler fetched, one per check-for-event call:")
def fetched_in_order(handler: HandlerUnderTest, datatable: List[List[str]]) -> None:
    fetched, want = handler.journal().fetched(), [row[0] for row in datatable[1:]]
    if fetched[: len(want)] != want:
        fail(f"the handler fetched {fetched} instead of {want}")


@then(parsers.parse("the start event gave {seconds:d} seconds to acknowledge"))
def start_gave(handler: HandlerUnderTest, seconds: int) -> None:
    start = handler.journal().rpcs("check-for-event").where(lambda e: event_type(e) == "start").first()
    assert start is not None, "no start event was fetched"
    assert json.loads(start.stdout)["notificationTimeoutInSec"] == seconds
