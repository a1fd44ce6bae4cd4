"""Random sequences of guest RPCs, migrations, clock moves and settings changes, checked for invariants."""

from __future__ import annotations

import json
from typing import Dict, List, Optional, Set, Tuple

from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, precondition, rule

from simulator import Knobs, ManualClock, Simulator, SimulatorError
from simulator.harness.journal import Journal
from simulator.model.journal_events import JournalEvent

T0 = 1_700_000_000.0


class NotificationMachine(RuleBasedStateMachine):
    def __init__(self) -> None:
        super().__init__()
        self.clock = ManualClock(T0)
        self.sim = Simulator(self.clock, host_timeout=60, migration_seconds=10, knobs=Knobs(max_apps=2), seed=1)
        self.tokens: List[str] = []
        self.seen: Dict[str, List[Dict[str, object]]] = {}
        self.started: Set[int] = set()
        self.pending_acks: Dict[str, Set[int]] = {}
        self.names: Dict[str, str] = {}  # token -> unique appName, since status hides tokens
        self.registered = 0

    def _rpc(self, verb: str, args: Optional[dict[str, object]] = None) -> Dict[str, object]:
        command = f"vm-operation-notification.{verb}" + ("" if args is None else " " + json.dumps(args))
        result = self.sim.call(command)
        assert result.exit_code == 0 and result.stdout.endswith("\n") and result.stdout.count("\n") == 1
        reply: Dict[str, object] = json.loads(result.stdout)
        return reply

    @rule(name=st.sampled_from(["a", "b", "c"]))
    def register(self, name: str) -> None:
        self.registered += 1
        name = f"{name}{self.registered}"
        reply = self._rpc("register", {"appName": name, "notificationTypes": ["sla-miss"]})
        if reply["result"]:
            token = str(reply["uniqueToken"])
            self.names[token] = name
            self.tokens.append(token)
            self.seen[token] = []
            self.pending_acks[token] = set()

    @precondition(lambda self: self.tokens)
    @rule(data=st.data())
    def check(self, data: st.DataObject) -> None:
        token = data.draw(st.sampled_from(self.tokens))
        before = self._depth(token)
        reply = self._rpc("check-for-event", {"uniqueToken": token})
        after = self._depth(token)
        if "eventType" in reply:
            assert before - after == 1, "exactly one event per call"
            self.seen[token].append(reply)
            if reply["eventType"] == "start":
                self.pending_acks[token].add(int(reply["operationId"]))  # type: ignore[call-overload]
        else:
            assert before == 0 and after == 0

    @precondition(lambda self: any(self.pending_acks.values()))
    @rule(data=st.data())
    def ack(self, data: st.DataObject) -> None:
        token = data.draw(st.sampled_from([t for t, ops in self.pending_acks.items() if ops]))
        op_id = data.draw(st.sampled_from(sorted(self.pending_acks[token])))
        self.pending_acks[token].discard(op_id)
        self._rpc("ack-event", {"uniqueToken": token, "operationId": op_id})

    @precondition(lambda self: self.tokens)
    @rule(data=st.data())
    def unregister(self, data: st.DataObject) -> None:
        token = data.draw(st.sampled_from(self.tokens))
        self.tokens.remove(token)
        self.pending_acks.pop(token, None)
        assert self._rpc("unregister", {"uniqueToken": token})["result"] is True

    @rule(outcome=st.sampled_from(["success", "failure"]), seconds=st.sampled_from([0, 5, 10]))
    def vmotion(self, outcome: str, seconds: int) -> None:
        try:
            self.started.add(self.sim.vmotion(outcome, seconds))
        except SimulatorError:
            assert any(op["phase"] != "done" for op in self.sim.status()["operations"])

    @rule(seconds=st.sampled_from([0.5, 1, 9.99, 10, 30, 59.9, 60, 200]))
    def advance(self, seconds: float) -> None:
        self.clock.advance(seconds)

    @rule(host=st.sampled_from([0, 30, 60, 90]), vm=st.sampled_from([None, 0, 20, 45]))
    def configure(self, host: int, vm: Optional[int]) -> None:
        self.sim.set(host_timeout=host, vm_timeout=vm)

    @rule()
    def reboot(self) -> None:
        self.sim.reboot()
        self.tokens.clear()
        self.pending_acks.clear()

    def _depth(self, token: str) -> int:
        depths = {r["app_name"]: r["queue_depth"] for r in self.sim.status()["registrations"]}
        return int(depths[self.names[token]])

    @invariant()
    def fifo_per_app(self) -> None:
        queued: Dict[str, List[Tuple[object, object]]] = {}
        for entry in Journal(self.sim.journal()).notes(JournalEvent.QUEUED):
            queued.setdefault(str(entry.app), []).append((entry.details["event"], entry.operation_id))
        for token, events in self.seen.items():
            delivered = [(e["eventType"], e["operationId"]) for e in events]
            # Delivered in the order queued, none skipped, none twice.
            assert delivered == queued.get(self.names[token], [])[: len(delivered)]
            times = [int(e["eventGenTimeInSec"]) for e in events]  # type: ignore[call-overload]
            assert times == sorted(times)
            ends = [e["operationId"] for e in events if e["eventType"] == "end"]
            assert len(ends) == len(set(ends)), "an operation ends at most once per app"

    @invariant()
    def no_operation_held_past_its_timeout(self) -> None:
        now = self.clock.now()
        for op in self.sim.status()["operations"]:
            if op["phase"] == "waiting-ack":
                assert now < op["deadline"]
            if op["migration_started_at"] is not None:
                assert op["migration_started_at"] <= op["deadline"]

    @invariant()
    def every_started_operation_ends_exactly_once(self) -> None:
        ops = self.sim.status()["operations"]
        assert {op["operation_id"] for op in ops} == self.started
        assert sum(op["phase"] != "done" for op in ops) <= 1, "one migration at a time"
        ended: Dict[int, int] = {}
        for entry in Journal(self.sim.journal()).notes(JournalEvent.MIGRATION_ENDED):
            assert entry.operation_id is not None
            ended[entry.operation_id] = ended.get(entry.operation_id, 0) + 1
        for op in ops:
            assert ended.get(op["operation_id"], 0) == (1 if op["phase"] == "done" else 0)
            assert not (op["acked"] and op["forced"])
            if op["phase"] == "done":
                assert op["migration_started_at"] <= op["ended_at"]


NotificationMachine.TestCase.settings = settings(
    max_examples=150, stateful_step_count=40, deadline=None, suppress_health_check=[HealthCheck.too_slow]
)
TestNotificationMachine = NotificationMachine.TestCase
