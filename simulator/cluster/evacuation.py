"""A host evacuated under maintenance mode, every VM's guest running the real handler core, on virtual time.

One event loop, keyed on virtual time, moves the one shared ``ManualClock`` from event to event: a guest's
poll, a migration task beginning (its vMotion requested on that VM's simulator), a hold released (the
guest's ack, or the hypervisor's deadline), a migration ending (its slot freed). A guest is polled only when
something may be waiting for it (its start or end event, or the handler's own end timeout): an empty poll
changes nothing, so the polls in between are skipped, and the one that finds the event is the one the
guest's own polling period would have made. That keeps 10,000 guests linear in cost.
"""

from __future__ import annotations

import dataclasses
import heapq
import itertools
import math
import random
from dataclasses import dataclass, field
from typing import Callable, List, Optional, Sequence, Tuple

from handler.core import QUIESCE_FAILURE_POLICIES, CoreSettings
from simulator import ManualClock, Simulator
from simulator.cluster.distributions import Constant, Distribution
from simulator.cluster.guest import QUIESCE, UNQUIESCE, Guest, GuestClock, quiet_logger
from simulator.cluster.host import GBE10_CONCURRENCY, Host
from simulator.cluster.knobs import NOTIFY_AT_TASK_START, ClusterKnobs
from simulator.cluster.record import VmRecord
from simulator.cluster.result import Evacuation

_HANDLER = CoreSettings(app_name="app")  # the handler's own defaults are the what-if's
T0 = 1_700_000_000.0  # when maintenance begins (a whole second: eventGenTimeInSec is whole seconds)
# The model fixes a migration's length when it is requested. When a released migration may still wait for a
# slot, its real end is known only once the slot is taken, so it is requested with this stand-in length.
_UNTIL_SLOT = 1e9


@dataclass(frozen=True)
class EvacuationPlan:
    """What to evacuate and how: the VMs, the host's limit, the guests' handler options, the unknowns."""

    vms: int
    concurrency: int = GBE10_CONCURRENCY
    timeouts: Sequence[int] = (120,)  # effective notification timeout: one for all, or one per VM; 0: off
    quiesce: Distribution = field(default_factory=lambda: Constant(5.0))
    migration_seconds: Distribution = field(default_factory=lambda: Constant(15.0))
    interval: float = _HANDLER.interval
    safety_margin: float = _HANDLER.safety_margin
    on_quiesce_failure: str = _HANDLER.on_quiesce_failure
    knobs: ClusterKnobs = field(default_factory=ClusterKnobs)
    seed: int = 0
    aligned_polls: bool = False  # every guest polls at whole intervals from maintenance start (else random)
    names: Optional[Sequence[str]] = None
    host: str = "esx-01"

    def __post_init__(self) -> None:
        if isinstance(self.vms, bool) or not isinstance(self.vms, int) or self.vms < 1:
            raise ValueError("the number of VMs must be at least 1")
        if isinstance(self.concurrency, bool) or not isinstance(self.concurrency, int) or self.concurrency < 1:
            raise ValueError("the concurrency must be at least 1")
        if len(self.timeouts) not in (1, self.vms):
            raise ValueError(f"give one timeout, or one per VM ({self.vms}), not {len(self.timeouts)}")
        for t in self.timeouts:
            if isinstance(t, bool) or not isinstance(t, int) or t < 0:
                raise ValueError(f"a timeout is a whole number of seconds >= 0, not {t!r}")
        if not (math.isfinite(self.interval) and self.interval > 0):
            raise ValueError("the poll interval must be a number of seconds > 0")
        if not (math.isfinite(self.safety_margin) and self.safety_margin >= 0):
            raise ValueError("the safety margin must be a number of seconds >= 0")
        if self.on_quiesce_failure not in QUIESCE_FAILURE_POLICIES:
            raise ValueError(f"the quiesce failure policy must be one of {', '.join(QUIESCE_FAILURE_POLICIES)}")
        if self.names is not None and len(self.names) != self.vms:
            raise ValueError(f"give one name per VM ({self.vms})")

    def timeout_of(self, index: int) -> int:
        return self.timeouts[index] if len(self.timeouts) > 1 else self.timeouts[0]

    def name_of(self, index: int) -> str:
        if self.names is not None:
            return self.names[index]
        return f"vm-{index + 1:0{len(str(self.vms))}d}"


class _Vm:
    """One VM during the run: its simulator, its guest, and what has happened to it."""

    __slots__ = ("admitted_after", "clock", "ends_at", "guest", "guest_starts", "hold_seen", "next_poll",
                 "operation_id", "record", "sim")

    def __init__(self, record: VmRecord, guest_starts: float) -> None:
        self.record = record
        self.guest_starts = guest_starts  # when its guest's handler started (and registered)
        # Made when its migration task begins (see _materialize); gone once it has left the host.
        self.sim: Optional[Simulator] = None
        self.clock: Optional[GuestClock] = None
        self.guest: Optional[Guest] = None
        self.next_poll = math.inf  # when the guest's own period would poll next
        self.operation_id: Optional[int] = None
        self.hold_seen = False  # the end of its hold is known (it may lie ahead of the loop's time)
        self.admitted_after: Optional[int] = None
        self.ends_at = math.inf


class _Run:
    def __init__(self, plan: EvacuationPlan) -> None:
        self.plan = plan
        self.clock = ManualClock(T0 - plan.interval)
        self._agenda: List[Tuple[float, int, Callable[[], object]]] = []
        self._order = itertools.count()
        self.knobs = plan.knobs
        self.host = Host(plan.host, plan.concurrency, range(plan.vms), plan.knobs.wait_holds_slot)
        self.settings = dataclasses.replace(
            _HANDLER, interval=plan.interval, quiesce=QUIESCE, unquiesce=UNQUIESCE,
            safety_margin=plan.safety_margin, on_quiesce_failure=plan.on_quiesce_failure)
        draws_q = random.Random(f"{plan.seed}:quiesce")
        draws_m = random.Random(f"{plan.seed}:migration")
        phases = random.Random(f"{plan.seed}:poll-phase")
        self.logger = quiet_logger()
        self.vms: List[_Vm] = []
        for i in range(plan.vms):
            record = VmRecord(i, plan.name_of(i), plan.timeout_of(i), plan.quiesce.draw(draws_q),
                              plan.migration_seconds.draw(draws_m))
            starts = math.nan
            if record.timeout > 0:  # with the feature off a guest cannot register: it has no part to play
                starts = T0 - plan.interval * (1.0 if plan.aligned_polls else phases.random())
            self.vms.append(_Vm(record, starts))

    # ---------------------------------------------------------------------------------------- the loop

    def _at(self, when: float, action: Callable[[], object]) -> None:
        heapq.heappush(self._agenda, (when, next(self._order), action))

    def run(self) -> Evacuation:
        self._at(T0, self._maintenance_begins)
        while self._agenda:
            when, _, action = heapq.heappop(self._agenda)
            if when > self.clock.now():
                self.clock.move_to(when)
            action()
        records = [vm.record for vm in self.vms]
        return Evacuation(self.plan, records)

    def _since(self, when: float) -> float:
        return when - T0

    # ---------------------------------------------------------------------------------------- the host

    def _maintenance_begins(self) -> None:
        if self.knobs.notify != NOTIFY_AT_TASK_START or not self.knobs.wait_holds_slot:
            # Every migration task begins now: either the notification goes out with maintenance mode, or
            # a task waiting for its ack does not count against the host's limit.
            for vm in self.vms:
                if vm.record.notified is None:  # a VM without notifications may have taken a slot already
                    self._notify(vm)
        self._admit()

    def _admit(self) -> None:
        now = self.clock.now()
        for admission in self.host.admit():
            vm = self.vms[admission.vm]
            vm.record.slot = admission.slot
            vm.record.admitted = self._since(now)
            vm.admitted_after = admission.after
            if vm.record.notified is None:
                self._notify(vm)  # task-start: the migration task begins as it takes its slot
            elif vm.record.released is not None:
                self._migrate(vm, now, after=admission.after)  # its slot was what it waited for

    def _materialize(self, vm: _Vm) -> Simulator:
        """The VM's simulator and guest, made when first needed: 10,000 idle ones would only crowd the caches.

        Nothing can have happened to the VM before its migration task began but its guest's start (register,
        one empty poll; the empty polls after it are skipped anyway), so that start is played now, at its own
        time in the past, and the VM is exactly what it would have been had it run all along."""
        record = vm.record
        vm.clock = GuestClock(self.clock)
        vm.sim = Simulator(vm.clock, host_timeout=record.timeout, seed=self.plan.seed * 1_000_003 + record.index)
        if record.timeout > 0:
            vm.guest = Guest(vm.sim, vm.clock, self.settings,
                             {QUIESCE: record.quiesce_seconds, UNQUIESCE: 0.0}, self.logger)
            vm.clock.replay_from(vm.guest_starts)
            vm.next_poll = vm.guest.start()
            vm.clock.catch_up()
        return vm.sim

    def _notify(self, vm: _Vm) -> None:
        """The migration task begins: vMotion requested on the VM's simulator, its start queued."""
        if vm.sim is None:
            self._materialize(vm)
        assert vm.sim is not None
        now = self.clock.now()
        slot_known = self.knobs.notify == NOTIFY_AT_TASK_START and self.knobs.wait_holds_slot
        vm.operation_id = vm.sim.vmotion(
            migration_seconds=vm.record.migration_seconds if slot_known else _UNTIL_SLOT)
        op = vm.sim.operation(vm.operation_id)
        vm.record.notified = self._since(now)
        vm.record.deadline = self._since(op["deadline"])
        if not op["notified"] or op["phase"] != "waiting-ack":
            vm.hold_seen = True
            self._released(vm, now, forced=False)
            return
        self._at(op["deadline"], lambda: self._look_at_hold(vm))
        self._wake(vm, now)

    def _look_at_hold(self, vm: _Vm) -> None:
        """Has the hold ended in the VM's model (the guest acked, or the deadline passed)? Then it is released at
        the time the model says, which may lie ahead: a guest runs ahead of the loop during its quiesce."""
        if vm.hold_seen or vm.sim is None or vm.operation_id is None:
            return
        op = vm.sim.operation(vm.operation_id)
        if op["phase"] == "waiting-ack":
            return
        vm.hold_seen = True
        when = float(op["migration_started_at"])
        self._at(when, lambda: self._released(vm, when, forced=bool(op["forced"])))

    def _released(self, vm: _Vm, when: float, forced: bool) -> None:
        vm.record.released = self._since(when)
        vm.record.forced = forced
        vm.record.acked = not forced and vm.record.timeout > 0
        self.host.release(vm.record.index)
        if vm.record.admitted is not None:
            # Its slot was taken first. If its notification came with the slot, the slot's previous VM is
            # still on its path; if it came with maintenance mode, its own hold was what it waited for.
            self._migrate(vm, when, after=vm.admitted_after if self._notified_with_slot else None)
        else:
            self._admit()
            if vm.record.migration is None:
                self._give_up_poll(vm)  # it waits for a slot, for how long nobody knows yet

    @property
    def _notified_with_slot(self) -> bool:
        return self.knobs.notify == NOTIFY_AT_TASK_START and self.knobs.wait_holds_slot

    def _migrate(self, vm: _Vm, start: float, after: Optional[int]) -> None:
        """The VM holds a slot and its hold is over: its memory moves now."""
        assert vm.sim is not None and vm.operation_id is not None
        vm.record.after = after
        end = start + vm.record.migration_seconds
        op = vm.sim.vm.active_operation
        if not self._notified_with_slot and op is not None and op.operation_id == vm.operation_id:
            # Requested with a stand-in length (see _UNTIL_SLOT): now that it has its slot, its end is known.
            assert op.migration_started_at is not None
            op.migration_seconds = end - op.migration_started_at
            end = op.migration_started_at + op.migration_seconds  # to the bit, as the model will compute it
        vm.record.migration = (self._since(start), self._since(end))
        vm.ends_at = end
        self._at(end, lambda: self._migrated(vm))
        self._wake(vm, end)
        self._give_up_poll(vm)

    def _migrated(self, vm: _Vm) -> None:
        self.host.free(vm.record.index)
        if vm.guest is None:
            self._done(vm)
        self._admit()

    # ---------------------------------------------------------------------------------------- the guests

    def _grid(self, vm: _Vm, when: float) -> float:
        """The first poll the guest makes at or after ``when``, on its own period."""
        base, interval = vm.next_poll, self.plan.interval
        steps = max(0, math.ceil((when - base) / interval))
        while steps > 0 and base + (steps - 1) * interval >= when:
            steps -= 1  # rounding made it one too many
        while base + steps * interval < when:
            steps += 1
        return base + steps * interval

    def _wake(self, vm: _Vm, when: float) -> float:
        """Something may wait for the guest from ``when`` on: the poll that finds it is scheduled."""
        if vm.guest is None:
            return math.nan
        at = self._grid(vm, when)
        self._at(at, lambda: self._poll(vm, at))
        return at

    def _poll(self, vm: _Vm, at: float) -> None:
        guest = vm.guest
        if guest is None or at < vm.next_poll:
            return  # the guest is gone, or an earlier wake made this poll already
        if at != vm.next_poll and self._grid(vm, at) != at:
            self._wake(vm, at)  # scheduled on the guest's period before a poll of its own moved it
            return
        vm.next_poll = guest.poll()
        if vm.record.notified is not None and not vm.hold_seen:
            self._look_at_hold(vm)
        if guest.clock.now() >= vm.ends_at:
            self._done(vm)  # this poll fetched the end event

    def _give_up_poll(self, vm: _Vm) -> None:
        """Without its end in time the handler unquiesces on its own (``end_timeout`` past the deadline it
        computed), at a poll that must not be skipped: it matters when a migration waits long for a slot."""
        if vm.guest is None or vm.record.notified is None or self.settings.end_timeout <= 0:
            return
        when = math.floor(T0 + vm.record.notified) + vm.record.timeout + self.settings.end_timeout
        if when < vm.ends_at:
            at = self._grid(vm, when)
            self._at(at, lambda: self._poll(vm, at))

    def _done(self, vm: _Vm) -> None:
        record = vm.record
        if vm.guest is not None:
            vm.guest.stop()
            runs = vm.guest.hooks.of(QUIESCE)
            if runs and runs[0].ended is not None:
                record.quiesce = (self._since(runs[0].started), self._since(runs[0].ended))
                record.quiesce_cut = runs[0].outcome == "killed"
            unquiesce = vm.guest.hooks.of(UNQUIESCE)
            if unquiesce and unquiesce[0].ended is not None:
                record.unquiesced = self._since(unquiesce[0].ended)
        vm.guest = None
        vm.sim = None  # its journal is no longer needed: 10,000 of them would hold hundreds of megabytes


def evacuate(plan: EvacuationPlan) -> Evacuation:
    """Run the evacuation the plan describes; deterministic for a given plan (seed included)."""
    return _Run(plan).run()
