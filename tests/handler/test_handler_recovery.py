"""Transport errors, crashes and restarts, stopping, VM reboots: the application is never left quiesced."""

from __future__ import annotations

import json
import logging
from pathlib import Path

import pytest

from handler.protocol import unregister_request
from handler.state import FileStateStore
from simulator import Knobs, ManualClock, Simulator
from tests.handler.virtual import Crash, ScriptedHooks, Timeline, make_handler, rpcs


@pytest.mark.parametrize(
    ("fault", "logged", "start_survives"),
    [
        ("channel_down", "channel-down: Unable to send command to VMware hypervisor.", True),
        ("unsupported", "unsupported: Unknown command", True),
        # A spoiled reply may carry the start: the hypervisor dequeued it, so it is lost and forced at its timeout.
        ("garble", "garbled: ", False),
        ("truncate", "truncated: ", False),
    ],
)
def test_transport_errors_are_retried_with_capped_backoff(
    fault: str, logged: str, start_survives: bool, sim: Simulator, timeline: Timeline, hooks: ScriptedHooks,
    store: FileStateStore, caplog: pytest.LogCaptureFixture,
) -> None:
    handler = make_handler(sim, timeline, hooks, store, backoff_max=4.0)
    assert handler.start()
    sim.set_faults(**{fault: True}, remaining=6)
    timeline.at(0, sim.vmotion)  # requested while the channel is bad
    while timeline.elapsed() < 150:  # past the 120 s timeout, the 15 s migration and its end
        if not handler.step():
            timeline.sleep(1)
    checks = rpcs(sim, "check-for-event")
    gaps = [round(b["t"] - a["t"], 3) for a, b in zip(checks, checks[1:])][:6]
    assert gaps == [0.5, 1.0, 2.0, 4.0, 4.0, 4.0]  # doubling, capped at backoff_max
    failures = [r.getMessage() for r in caplog.records if "failed (attempt" in r.getMessage()]
    assert [m.split(": ", 1)[0] for m in failures] == [f"check-for-event failed (attempt {n})" for n in range(1, 7)]
    assert all(m.split(": ", 1)[1].startswith(logged) for m in failures), failures  # this fault, each time
    (op,) = sim.status()["operations"]
    assert op["phase"] == "done"
    if start_survives:
        # Quiesced and acked once the channel is back, and unquiesced at the end.
        assert (op["acked"], op["forced"]) == (True, False)
        assert [r.env["VMOTION_EVENT_TYPE"] for r in hooks.runs] == ["start", "end"]
    else:
        assert (op["acked"], op["forced"]) == (False, True)
        assert hooks.runs == []  # nothing was quiesced, so nothing is unquiesced at the end
        assert any(r.getMessage() == f"end: this handler did not quiesce for operation {op['operation_id']}; "
                   "nothing to unquiesce" for r in caplog.records)


def test_an_event_already_fetched_is_acked_once_the_channel_comes_back(
    sim: Simulator, timeline: Timeline, hooks: ScriptedHooks, store: FileStateStore
) -> None:
    hooks.script("quiesce", seconds=5)
    timeline.at(1, sim.vmotion)
    timeline.at(5.5, lambda: sim.set_faults(channel_down=True, remaining=3))  # the ack's first three tries fail
    make_handler(sim, timeline, hooks, store, stop_at=60).run()
    acks = rpcs(sim, "ack-event")
    assert [a["exit_code"] for a in acks] == [1, 1, 1, 0]
    assert [a["t"] for a in acks] == [6, 6.5, 7.5, 9.5]
    assert sim.status()["operations"][0]["acked"] is True


@pytest.mark.parametrize("envelope", ["json-stdout", "json-stderr", "text-stderr"])
def test_rejections_in_every_envelope_are_understood(
    envelope: str, clock: ManualClock, timeline: Timeline, hooks: ScriptedHooks, store: FileStateStore
) -> None:
    sim = Simulator(clock=clock, knobs=Knobs(error_envelope=envelope))
    handler = make_handler(sim, timeline, hooks, store)
    assert handler.start()
    sim.reboot()  # the registration is gone: check-for-event is refused as an unknown token
    timeline.advance(1)
    assert not handler.step()
    assert len(rpcs(sim, "register")) == 2  # recognised as a lost registration, not retried as a glitch
    assert len(sim.status()["registrations"]) == 1


def test_a_vmtoolsd_that_is_missing_or_hangs_does_not_stop_the_loop(
    sim: Simulator, timeline: Timeline, hooks: ScriptedHooks, store: FileStateStore, tmp_path: Path,
    caplog: pytest.LogCaptureFixture,
) -> None:
    from handler.transport import VmtoolsdTransport

    hang = tmp_path / "vmtoolsd-hang"
    hang.write_text("#!/bin/sh\nexec sleep 30\n")
    hang.chmod(0o755)
    transports = [VmtoolsdTransport(str(tmp_path / "nowhere" / "vmtoolsd")),
                  VmtoolsdTransport(str(hang), timeout=0.2)]
    calls: list[str] = []

    def transport(rpc: str):  # type: ignore[no-untyped-def]
        calls.append(rpc)
        if len(calls) in (2, 3):  # the first check-for-events after register meet a broken vmtoolsd
            return transports[len(calls) - 2](rpc)
        return sim.call(rpc)

    handler = make_handler(sim, timeline, hooks, store, transport=transport)
    assert handler.start()
    sim.vmotion()
    assert handler.step()  # missing, then hang, then the real reply: the start is handled
    kinds = [r.message for r in caplog.records if "failed (attempt" in r.message]
    assert "missing" in kinds[0] and "hang" in kinds[1]
    assert len(hooks.of("quiesce")) == 1


def test_restart_after_a_crash_mid_quiesce_reuses_the_registration_and_unquiesces_at_the_end(
    sim: Simulator, timeline: Timeline, hooks: ScriptedHooks, store: FileStateStore
) -> None:
    hooks.script("quiesce", seconds=4, crash=True)
    timeline.at(1, sim.vmotion)
    first = make_handler(sim, timeline, hooks, store, stop_at=30)
    with pytest.raises(Crash):
        first.run()
    left = json.loads(Path(store.path).read_text())
    assert left["operations"][0]["phase"] == "quiescing" and left["token"]

    timeline.advance(2)  # the service manager restarts it
    second = make_handler(sim, timeline, hooks, store, stop_at=60)
    assert second.run() == 0
    assert len(rpcs(sim, "register")) == 1  # the old registration was still valid: reused, not leaked
    op = sim.status()["operations"][0]
    assert op["acked"] is True and op["forced"] is False  # the interrupted quiesce is acked (ack-anyway)
    (unquiesce,) = hooks.of("unquiesce")
    assert unquiesce.env["VMOTION_REASON"] == "end"
    assert sim.status()["registrations"] == []


def test_restart_after_a_crash_and_a_vm_reboot_unquiesces_at_once(
    sim: Simulator, timeline: Timeline, hooks: ScriptedHooks, store: FileStateStore
) -> None:
    hooks.script("quiesce", seconds=4, crash=True)
    timeline.at(1, sim.vmotion)
    with pytest.raises(Crash):
        make_handler(sim, timeline, hooks, store, stop_at=30).run()
    sim.reboot()  # the old token is gone with the registration
    handler = make_handler(sim, timeline, hooks, store)
    assert handler.start()
    (unquiesce,) = hooks.of("unquiesce")
    assert unquiesce.env["VMOTION_REASON"] == "recovery"
    assert len(sim.status()["registrations"]) == 1
    assert json.loads(Path(store.path).read_text())["operations"] == []


def test_restart_after_a_crash_while_acked_unquiesces_at_the_end(
    sim: Simulator, timeline: Timeline, hooks: ScriptedHooks, store: FileStateStore
) -> None:
    hooks.script("quiesce", seconds=2)
    timeline.at(1, sim.vmotion)

    def crash() -> None:
        raise Crash("SIGKILL")

    timeline.at(6, crash)  # acked at 3; the end comes at 18
    with pytest.raises(Crash):
        make_handler(sim, timeline, hooks, store, stop_at=100).run()
    assert hooks.of("unquiesce") == []
    timeline.advance(30)  # down for a while; the end waits in the queue
    make_handler(sim, timeline, hooks, store, stop_at=60).run()
    (unquiesce,) = hooks.of("unquiesce")
    assert unquiesce.env["VMOTION_OP_STATUS"] == "success"
    assert len(rpcs(sim, "register")) == 1 and sim.status()["registrations"] == []


def test_a_registration_of_another_app_name_is_unregistered_on_start(
    sim: Simulator, timeline: Timeline, hooks: ScriptedHooks, store: FileStateStore
) -> None:
    with pytest.raises(Crash):
        timeline.at(2, lambda: (_ for _ in ()).throw(Crash()))
        make_handler(sim, timeline, hooks, store, stop_at=10, app_name="old-name").run()
    make_handler(sim, timeline, hooks, store, app_name="new-name").start()
    names = [r["app_name"] for r in sim.status()["registrations"]]
    assert names == ["new-name"]


def test_stop_during_quiesce_kills_it_acks_unquiesces_and_unregisters(
    sim: Simulator, timeline: Timeline, hooks: ScriptedHooks, store: FileStateStore
) -> None:
    hooks.script("quiesce", seconds=50)
    timeline.at(1, sim.vmotion)
    handler = make_handler(sim, timeline, hooks, store)
    timeline.at(10, handler.request_stop)  # what SIGTERM does
    assert handler.run() == 0
    (quiesce,) = hooks.of("quiesce")
    assert quiesce.outcome == "killed" and quiesce.ended is not None and quiesce.ended <= 11
    (unquiesce,) = hooks.of("unquiesce")
    assert unquiesce.env["VMOTION_REASON"] == "shutdown"
    assert sim.status()["operations"][0]["acked"] is True  # the vMotion is not left waiting
    assert sim.status()["registrations"] == []
    assert not Path(store.path).exists()


def test_a_vm_reboot_while_running_leads_to_a_new_registration(
    sim: Simulator, timeline: Timeline, hooks: ScriptedHooks, store: FileStateStore,
    caplog: pytest.LogCaptureFixture,
) -> None:
    timeline.at(5, sim.reboot)
    timeline.at(10, sim.vmotion)
    make_handler(sim, timeline, hooks, store, stop_at=60).run()
    assert len(rpcs(sim, "register")) == 2
    assert len(hooks.of("quiesce")) == 1 and len(hooks.of("unquiesce")) == 1
    assert any("registration is gone" in r.message and r.levelno == logging.WARNING for r in caplog.records)


def test_registration_refused_by_the_one_app_limit_is_retried_with_advice(
    sim: Simulator, timeline: Timeline, hooks: ScriptedHooks, store: FileStateStore,
    caplog: pytest.LogCaptureFixture,
) -> None:
    squatter = json.loads(sim.call(
        'vm-operation-notification.register {"appName": "other", "notificationTypes": ["sla-miss"]}').stdout)
    token = squatter["uniqueToken"]
    timeline.at(20, lambda: sim.call(unregister_request(token)))
    handler = make_handler(sim, timeline, hooks, store)
    assert handler.start()
    assert [r["app_name"] for r in sim.status()["registrations"]] == ["demo"]
    assert any("only one app may register" in r.message for r in caplog.records)


def test_a_register_reply_without_a_token_is_retried_with_backoff(
    sim: Simulator, timeline: Timeline, hooks: ScriptedHooks, store: FileStateStore,
    caplog: pytest.LogCaptureFixture,
) -> None:
    spoiled: list[float] = []

    def transport(rpc: str):  # type: ignore[no-untyped-def]
        if "register" in rpc.split(" ", 1)[0] and len(spoiled) < 3:
            spoiled.append(timeline.elapsed())
            return sim.call("vm-operation-notification.list")._replace(stdout='{"version":"1.0.0", "result": true }\n')
        return sim.call(rpc)

    handler = make_handler(sim, timeline, hooks, store, transport=transport)
    assert handler.start()
    assert spoiled == [0, 0.5, 1.0]  # pausing between tries, not spinning
    assert len(rpcs(sim, "register")) == 1 and handler.registered
    assert any("register reply cannot be used" in r.message for r in caplog.records)


def test_a_start_fetched_but_not_handled_when_stopping_is_acked_not_dropped(
    sim: Simulator, timeline: Timeline, hooks: ScriptedHooks, store: FileStateStore
) -> None:
    # A previous run registered and crashed; a vMotion is requested before the restart.
    first = make_handler(sim, timeline, hooks, store)
    assert first.start()
    op_id = sim.vmotion()
    # The restart checks the old token with a check-for-event, which fetches the start; then the stop comes.
    make_handler(sim, timeline, hooks, store, stop_at=0).run()
    assert hooks.of("quiesce") == []  # never quiesced, so nothing to undo
    op = sim.operation(op_id)
    assert op["acked"] is True  # the vMotion was released by the ack, not left to the timeout
    assert sim.status()["registrations"] == []


def test_an_end_lost_with_a_crashed_run_does_not_leave_the_app_quiesced_for_good(
    sim: Simulator, timeline: Timeline, hooks: ScriptedHooks, store: FileStateStore, state_path: Path
) -> None:
    hooks.script("quiesce", seconds=3)
    timeline.at(1, sim.vmotion)
    first = make_handler(sim, timeline, hooks, store)
    assert first.start()
    while not sim.status()["operations"] or not sim.status()["operations"][0]["acked"]:
        if not first.step():
            timeline.sleep(1)
    # The run dies right after fetching the end, before recording it: the end is gone with it.
    token = json.loads(state_path.read_text())["token"]
    timeline.sleep(20)
    end = json.loads(sim.call(f'vm-operation-notification.check-for-event {{"uniqueToken": "{token}"}}').stdout)
    assert end["eventType"] == "end"
    second = make_handler(sim, timeline, hooks, store, end_timeout=600)
    assert second.start()
    while timeline.elapsed() < 1 + 120 + 600 + 5:
        if not second.step():
            timeline.sleep(1)
    (unquiesce,) = hooks.of("unquiesce")
    assert unquiesce.env["VMOTION_REASON"] == "end-timeout"
    assert unquiesce.started == pytest.approx(1 + 120 + 600, abs=1.0)  # the hypervisor's deadline + end_timeout
    assert json.loads(state_path.read_text())["operations"] == []
