"""Steps that run a handler (in-process on virtual time, or a process on real time) and read what it did."""

from __future__ import annotations

import json
import signal
from typing import Dict, List

from pytest_bdd import given, parsers, then, when

from simulator.harness.journal import event_type
from simulator.harness.scenarios.story import PROCESS, VIRTUAL, Story, fail
from simulator.harness.virtual import T0
from simulator.harness.wait import wait_until
from simulator.model.journal_events import JournalEvent
from simulator.processes import process_alive

# ------------------------------------------------------------------------------------------ how it runs


@given("the handler runs in-process on virtual time, polling every second")
def in_process(story: Story) -> None:
    story.use_virtual()


@given("the handler runs as a process on real time")
def as_process(story: Story) -> None:
    story.use_process()


@given(parsers.parse("the quiesce command takes {seconds:g} seconds"))
@given(parsers.parse("the quiesce command takes {seconds:g} second"))
def quiesce_takes(story: Story, seconds: float) -> None:
    story.behave("quiesce", seconds)


@given(parsers.parse("the quiesce command fails with exit status {code:d} after {seconds:g} seconds"))
@given(parsers.parse("the quiesce command fails with exit status {code:d} after {seconds:g} second"))
def quiesce_fails(story: Story, code: int, seconds: float) -> None:
    story.behave("quiesce", seconds, code)


@given(parsers.parse('the handler\'s policy on a failed quiesce is "{policy}"'))
def policy(story: Story, policy: str) -> None:
    story.policy = policy


@given("the handler is running")
@when("the handler starts")
def running(story: Story) -> None:
    story.start_handler()


@when("the handler is started again")
def started_again(story: Story) -> None:
    story.restart_handler()


@when(parsers.parse("the handler runs until second {second:g}"))
def run_until(story: Story, second: float) -> None:
    story.run_until(second)


# ------------------------------------------------------------------------------------------ what happens


@when(parsers.parse("a vMotion is requested at second {second:g}"))
def vmotion_at(story: Story, second: float) -> None:
    story.at(second, story.request_vmotion)


@when(parsers.parse("a vMotion that will fail is requested at second {second:g}"))
def failing_vmotion_at(story: Story, second: float) -> None:
    story.at(second, lambda: story.request_vmotion("failure"))


@when("a vMotion is requested")
def vmotion_now(story: Story) -> None:
    story.request_vmotion()


@when("a vMotion that will fail is requested")
def failing_vmotion_now(story: Story) -> None:
    story.request_vmotion("failure")


@when(parsers.parse("the host timeout changes to {seconds:d} seconds at second {second:g}"))
def timeout_change_at(story: Story, seconds: int, second: float) -> None:
    story.at(second, lambda: story.sim.set(host_timeout=seconds))


@when(parsers.parse("the host timeout changes to {seconds:d} seconds"))
def timeout_change_now(story: Story, seconds: int) -> None:
    story.sim.set(host_timeout=seconds)


@when(
    parsers.parse(
        "at second {second:g} the host timeout changes to {first:d} seconds, then to {then_:d} seconds, "
        "and a vMotion is requested"
    )
)
def queue_three(story: Story, second: float, first: int, then_: int) -> None:
    story.at(second, lambda: story.sim.set(host_timeout=first))
    story.at(second, lambda: story.sim.set(host_timeout=then_))
    story.at(second, story.request_vmotion)


@when("the guest RPC channel goes down")
def channel_down(story: Story) -> None:
    story.sim.fault(channel_down=True)


@when("the guest RPC channel comes back")
def channel_back(story: Story) -> None:
    story.sim.fault()


@when(parsers.parse("the operation has ended, waiting at most {seconds:g} seconds"))
def operation_ended(story: Story, seconds: float) -> None:
    if not wait_until(lambda: story.operation()["phase"] == "done", seconds):
        op = story.operation()
        fail(f"the migration did not end within {seconds:g} s (phase {op['phase']}); "
             f"handler log: {story.log_tail()}")


@when(parsers.parse("the quiesce has started, waiting at most {seconds:g} seconds"))
def quiesce_started(story: Story, seconds: float) -> None:
    if not wait_until(lambda: story.journal().probes("quiesce", "started"), seconds):
        fail(f"the handler did not run its quiesce command within {seconds:g} s of the start event; "
             f"handler log: {story.log_tail()}")


@when("the handler is killed with SIGKILL")
def killed(story: Story) -> None:
    assert story.process is not None
    story.process.kill()


@when("the handler receives SIGTERM")
def sigterm(story: Story) -> None:
    assert story.process is not None
    story.process.send_signal(signal.SIGTERM)


# ------------------------------------------------------------------------------------------ what it did


@then("the timeline was")
def timeline_was(story: Story, datatable: List[List[str]]) -> None:
    """Each row happened at its second, in this order (other things may happen in between)."""
    expected = [(float(second), what.strip()) for second, what in datatable[1:]]
    seen = story.timeline()
    position = 0
    for second, what in expected:
        while position < len(seen) and seen[position] != (second, what):
            position += 1
        if position == len(seen):
            shown = "\n".join(f"  {s:>8g}  {w}" for s, w in seen)
            fail(f"expected '{what}' at second {second:g} (in this order); the timeline was:\n{shown}")
        position += 1


def _env_value(story: Story, text: str) -> str:
    if text == "the operation's id":
        return str(story.operation_id)
    if text.startswith("epoch of second "):
        return str(int(T0 + float(text.rpartition(" ")[2])))
    return text


@then(parsers.parse("the {hook} command's environment held"))
def hook_env(story: Story, hook: str, datatable: List[List[str]]) -> None:
    runs = story.journal().probes(hook, "started")
    if not runs:
        fail(f"the {hook} command never ran")
    env: Dict[str, str] = runs[-1]["env"]
    for variable, value in datatable[1:]:
        want = _env_value(story, value.strip())
        assert env.get(variable) == want, f"{variable}={env.get(variable)!r}, expected {want!r} (env: {env})"


@then("the migration was not forced")
def not_forced(story: Story) -> None:
    op = story.operation()
    if op["forced"]:
        fail(f"the migration was forced at the timeout ({op['notification_timeout']} s): the handler did not ack "
             f"in time; handler log: {story.log_tail()}")


@then("the migration was forced at the timeout")
def forced(story: Story) -> None:
    op = story.operation()
    assert op["forced"] is True, op
    assert op["migration_started_at"] == op["deadline"], op


@then("the quiesce ran once, after the start event was delivered")
def quiesce_once(story: Story) -> None:
    runs = story.journal().probes("quiesce", "started")
    if not runs:
        fail(f"the handler never ran its quiesce command; handler log: {story.log_tail()}")
    if len(runs) > 1:
        fail(f"the handler ran its quiesce command {len(runs)} times for one vMotion")
    delivered = story.journal().notes(JournalEvent.DELIVERED, event="start", operation_id=story.operation_id).first()
    if delivered is None or delivered["time"] > runs[0]["time"]:
        fail("the quiesce command ran before the start event was fetched")


@then("the handler acked the operation after the quiesce ended and before the timeout")
def acked_in_time(story: Story) -> None:
    op = story.operation()
    acked = story.journal().notes(JournalEvent.ACKED, operation_id=story.operation_id).first()
    if acked is None:
        late = story.journal().notes(JournalEvent.LATE_ACK, operation_id=story.operation_id)
        why = "it acked after the timeout" if late else "it never acked"
        fail(f"the handler did not ack operation {story.operation_id} in time ({why}); the migration was "
             f"forced at the {op['notification_timeout']} s timeout")
    assert acked is not None
    if acked["time"] > op["deadline"]:
        fail(f"the ack came {acked['time'] - op['deadline']:.1f} s after the timeout")
    started = story.journal().probes("quiesce", "started")
    ends = story.journal().probe_ends("quiesce")
    if not started:
        fail("the handler acked without running its quiesce command")
    if started[0]["time"] > acked["time"]:
        fail("the handler acked before it even started its quiesce command")
    if not ends or ends[0]["time"] > acked["time"]:
        fail(f"the handler acked {acked['time'] - started[0]['time']:.2f} s after starting its quiesce command, "
             "before that command had finished")
    story.timing(
        start_to_ack_s=acked["time"] - op["requested_at"],
        quiesce_s=ends[0]["time"] - started[0]["time"],
        ack_after_quiesce_s=acked["time"] - ends[0]["time"],
    )


@then("the unquiesce ran after the end event was delivered")
def unquiesce_after_end(story: Story) -> None:
    def check() -> None:
        delivered = story.journal().notes(JournalEvent.DELIVERED, event="end", operation_id=story.operation_id).first()
        if delivered is None:
            fail("the handler never fetched the end event")
        assert delivered is not None
        runs = [r for r in story.journal().probes("unquiesce", "started") if r["time"] >= delivered["time"]]
        if not runs:
            fail(f"the handler did not run its unquiesce command after the end event; the application stays "
                 f"quiesced; handler log: {story.log_tail()}")
        story.timing(end_to_unquiesce_s=runs[0]["time"] - delivered["time"])

    story.eventually(check)


@then("the unquiesce ran after the quiesce started")
def unquiesce_after_quiesce(story: Story) -> None:
    def check() -> None:
        started = story.journal().probes("quiesce", "started")
        if not started:
            fail("the quiesce command never ran")
        if not [r for r in story.journal().probes("unquiesce", "started") if r["time"] >= started[0]["time"]]:
            fail("the handler stopped without running its unquiesce command; the application stays quiesced")

    story.eventually(check)


@then(parsers.parse("within {seconds:g} seconds the unquiesce ran after the restart"))
def unquiesce_after_restart(story: Story, seconds: float) -> None:
    def check() -> None:
        assert story.restarted_at is not None
        if not [r for r in story.journal().probes("unquiesce", "started") if r["time"] >= story.restarted_at]:
            fail(f"the restarted handler did not unquiesce the application within {seconds:g} s; "
                 f"handler log: {story.log_tail()}")

    story.eventually(check, seconds)


@then("the restarted handler was never refused a registration")
def never_refused(story: Story) -> None:
    assert story.restarted_at is not None
    for entry in story.journal().rpcs("register"):
        if entry["time"] >= story.restarted_at and '"result": false' in (entry["stdout"] + entry["stderr"]):
            reply = (entry["stdout"] or entry["stderr"]).strip()
            fail(f"the restarted handler's registration was refused (its old registration leaked): {reply}")


@then("the quiesce was stopped by the timeout")
def quiesce_stopped(story: Story) -> None:
    op = story.operation()
    started = story.journal().probes("quiesce", "started")
    if not started:
        fail("the handler never ran its quiesce command")
    ends = story.journal().probe_ends("quiesce")
    if ends and ends[0]["time"] <= op["deadline"]:
        return
    pid = started[0].get("pid")
    if not ends and pid is not None and not process_alive(int(pid)):
        return  # killed outright (SIGKILL) before now: no record, but gone
    late = f"{ends[0]['time'] - op['deadline']:.1f} s after" if ends else "still running"
    fail(f"the quiesce command was {late} the {op['notification_timeout']} s timeout: the handler does not "
         "stop a quiesce at the deadline")


@then("the quiesce command is no longer running")
def quiesce_gone(story: Story) -> None:
    def check() -> None:
        for run in story.journal().probes("quiesce", "started"):
            if "pid" in run and process_alive(int(run["pid"])):
                fail(f"the quiesce command (pid {run['pid']}) is still running: the handler orphaned it")

    story.eventually(check)


@then(parsers.parse("the handler exits with status {code:d} within {seconds:g} seconds"))
def exits_with(story: Story, code: int, seconds: float) -> None:
    assert story.process is not None
    status = story.process.wait(seconds)
    if status is None:
        fail(f"the handler was still running {seconds:g} s after SIGTERM")
    if status != code:
        fail(f"the handler exited with status {status}, expected {code}; its log ends: {story.log_tail()}")


@then("the handler's log does not show the registration token")
def token_redacted(story: Story) -> None:
    text = story.log_text()
    tokens = story.journal().tokens()
    assert tokens, "no registration reply in the journal"
    for token in tokens:
        if token in text:
            fail("the handler's log shows its registration token (a bearer credential) in clear")


@then(parsers.parse('the handler logged "{text}"'))
def logged(story: Story, text: str) -> None:
    def check() -> None:
        if text not in story.log_text():
            fail(f"the handler's log does not say {text!r}; it ends: {story.log_tail()}")

    story.eventually(check)


@then(parsers.parse("at second {second:g} the handler's check-for-event calls returned, in order:"))
def calls_at_second(story: Story, second: float, datatable: List[List[str]]) -> None:
    assert story.mode == VIRTUAL
    calls = story.journal().rpcs("check-for-event").where(lambda e: story.second(e) == second)
    assert calls.event_types() == [row[0] for row in datatable[1:]]


@then("the handler fetched, one per check-for-event call:")
def fetched_in_order(story: Story, datatable: List[List[str]]) -> None:
    assert story.mode == PROCESS
    fetched = story.journal().fetched()
    want = [row[0] for row in datatable[1:]]
    if fetched[: len(want)] != want:
        fail(f"the handler fetched {fetched} instead of {want}")


@then(parsers.parse("the start event gave {seconds:d} seconds to acknowledge"))
def start_gave(story: Story, seconds: int) -> None:
    starts = story.journal().rpcs("check-for-event").where(lambda e: event_type(e) == "start")
    assert starts, "no start event was fetched"
    assert json.loads(starts[0]["stdout"])["notificationTimeoutInSec"] == seconds
