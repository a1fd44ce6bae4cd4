"""Steps of a host's maintenance mode: several VMs, each with its own guest simulator and real handler process,
and the bridge that holds each of vCenter's vMotions until that guest has been notified."""

from __future__ import annotations

import functools
import json
import shutil
import signal
from dataclasses import dataclass, field
from typing import Any, Dict, Iterator, List, Optional

import pytest
from pytest_bdd import given, parsers, then, when

from features.steps_vcenter import _readback
from simulator import Simulator
from simulator.cluster.maintenance import MaintenanceBridge
from simulator.harness import BUNDLED_HANDLER_CMD, HandlerLauncher, Journal, SimulatedVM, wait_until
from simulator.harness.scenarios.under_test import fail
from simulator.harness.vm import short_dir
from simulator.model.journal_events import JournalEvent
from simulator.vcenter.vcsim import VcsimEndpoint
from tests.helper.conftest import Run

# Short: no claim here depends on how long a move or a quiesce takes, only on their order and on the timeouts.
MIGRATION_S = 0.2
QUIESCE_S = 0.5


@dataclass
class Guest:
    vm: SimulatedVM
    quiesce_s: float = QUIESCE_S
    policy: str = "ack-anyway"
    launcher: Optional[HandlerLauncher] = None


@dataclass
class Fleet:
    """The VMs of one maintenance scenario, vCenter's side of it, and everything to stop afterwards."""

    guests: Dict[str, Guest] = field(default_factory=dict)
    host: str = ""
    connection: Any = None
    task: Any = None
    bridge: Optional[MaintenanceBridge] = None

    def close(self) -> None:
        if self.bridge is not None:
            self.bridge.stop()
        # Every handler is told to stop first, so that they wind down (unquiesce, unregister) at the same time.
        for guest in self.guests.values():
            for process in guest.launcher.started if guest.launcher is not None else []:
                process.send_signal(signal.SIGTERM)
        for guest in self.guests.values():
            if guest.launcher is not None:
                guest.launcher.close()
            guest.vm.close()
            shutil.rmtree(guest.vm.directory, ignore_errors=True)
        if self.connection is not None:
            self.connection.close()


@pytest.fixture
def fleet() -> Iterator[Fleet]:
    told = Fleet()
    try:
        yield told
    finally:
        told.close()


def _names(text: str) -> List[str]:
    return [name.strip() for name in text.split(",") if name.strip()]


@given(parsers.parse("a vCenter simulator with {count:d} VMs in its cluster whose maintenance mode waits for the "
                     "guests, {limit:d} vMotions at a time per host"), target_fixture="vcenter")
def waiting_vcsim(vcsim_factory: Any, count: int, limit: int) -> VcsimEndpoint:
    endpoint: VcsimEndpoint = vcsim_factory("-vm", str(count), "-vmotion-bridge", "-vmotion-limit", str(limit))
    return endpoint


@given(parsers.parse('the VMs "{names}" run on host "{host}", each with a guest simulator of its own'))
def vms_on_host(vcenter: VcsimEndpoint, fleet: Fleet, names: str, host: str) -> None:
    fleet.host = host
    fleet.connection = _readback(vcenter)
    for name in _names(names):
        fleet.connection.relocate(name, host)  # govmomi places VMs at random: put these together
        sim = Simulator(migration_seconds=MIGRATION_S)
        fleet.guests[name] = Guest(SimulatedVM.in_process(short_dir("vmotion-mm-"), sim).start())


@given(parsers.parse('the application of "{name}" is slow: its quiesce takes {seconds:g} seconds, and its handler '
                     'does not ack a failed quiesce'))
def slow_application(fleet: Fleet, name: str, seconds: float) -> None:
    fleet.guests[name].quiesce_s = seconds
    fleet.guests[name].policy = "no-ack"


def _registered(sim: Simulator) -> bool:
    return bool(sim.status()["registrations"])


@when("each of those VMs runs the handler as a process against its guest simulator")
def handlers_run(fleet: Fleet, request: pytest.FixtureRequest) -> None:
    for guest in fleet.guests.values():
        command = f"{BUNDLED_HANDLER_CMD} --on-quiesce-failure {guest.policy}"
        guest.launcher = HandlerLauncher(command, guest.vm, name="app", cwd=request.config.invocation_params.dir)
        guest.launcher.behave("quiesce", guest.quiesce_s)
        guest.launcher()
    for name, guest in fleet.guests.items():
        if not wait_until(functools.partial(_registered, guest.vm.simulator), 15.0):
            fail(f"the handler of {name} did not register within 15 s")


@when(parsers.parse('host "{host}" enters maintenance mode, the bridge running each vMotion through its guest'))
def enters_maintenance(vcenter: VcsimEndpoint, fleet: Fleet, host: str) -> None:
    fleet.bridge = MaintenanceBridge(vcenter.env(), {n: g.vm.simulator for n, g in fleet.guests.items()})
    fleet.bridge.start()
    fleet.task = fleet.connection.host(host).EnterMaintenanceMode_Task(timeout=0)


@then("vCenter shows the maintenance task running")
def task_running(fleet: Fleet) -> None:
    if not wait_until(lambda: fleet.task.info.state == "running", 10.0):
        fail(f"the maintenance task is {fleet.task.info.state}, not running")


@then(parsers.parse("within {seconds:g} seconds the maintenance task succeeds"))
def task_succeeds(fleet: Fleet, seconds: float) -> None:
    state = wait_until(lambda: fleet.task.info.state if fleet.task.info.state in ("success", "error") else None,
                       seconds)
    assert fleet.bridge is not None
    fleet.bridge.stop()
    if state != "success":
        fail(f"the maintenance task is {state or fleet.task.info.state} ({fleet.task.info.error}); "
             f"the bridge: {fleet.bridge.outcomes} {fleet.bridge.errors}")


@then(parsers.parse('host "{host}" is in maintenance mode and every one of those VMs is on another host of '
                    'cluster "{cluster}"'))
def vms_moved(vcenter: VcsimEndpoint, fleet: Fleet, host: str, cluster: str) -> None:
    with _readback(vcenter) as vc:
        assert vc.host(host).runtime.inMaintenanceMode is True
        others = set(vc.cluster_hosts(cluster)) - {host}
        where = {name: vc.current_host(name) for name in fleet.guests}
        if not set(where.values()) <= others:
            fail(f"not every VM left {host} for another host of {cluster}: {where}")


@then(parsers.parse("the bridge reports every VM notified, and {forced} forced"))
def forced_report(fleet: Fleet, forced: str) -> None:
    assert fleet.bridge is not None
    outcomes = {o.vm: o for o in fleet.bridge.outcomes}
    assert sorted(outcomes) == sorted(fleet.guests), fleet.bridge.outcomes
    assert all(o.notified and o.error is None for o in outcomes.values()), fleet.bridge.outcomes
    want = [] if forced == "none" else _names(forced.strip('"'))
    assert sorted(o.vm for o in outcomes.values() if o.forced) == sorted(want), fleet.bridge.outcomes
    assert all(o.acked for o in outcomes.values() if not o.forced), fleet.bridge.outcomes


@then("every other handler acked its start after its quiesce and before its timeout")
@then("every handler acked its start after its quiesce and before its timeout")
def all_acked(fleet: Fleet) -> None:
    assert fleet.bridge is not None
    for outcome in fleet.bridge.outcomes:
        if outcome.forced:
            continue
        sim = fleet.guests[outcome.vm].vm.simulator
        op = sim.operation(outcome.operation_id)  # type: ignore[arg-type]
        journal = Journal(sim.journal())
        quiesced = journal.probes("quiesce", "finished").first()
        acked = journal.notes(JournalEvent.ACKED, operation_id=outcome.operation_id).first()
        if not (op["acked"] and quiesced and acked and quiesced.time <= acked.time <= op["deadline"]):
            fail(f"{outcome.vm}: no ack after its quiesce and before its timeout ({op})")


@then("each guest was told the timeout vCenter holds for its VM")
def timeouts_from_vcenter(vcenter: VcsimEndpoint, fleet: Fleet) -> None:
    assert fleet.bridge is not None
    with _readback(vcenter) as vc:
        for outcome in fleet.bridge.outcomes:
            enabled, vm_timeout = vc.vm_settings(outcome.vm)
            effective = min(vc.host_timeout(outcome.source), vm_timeout or vc.host_timeout(outcome.source))
            op = fleet.guests[outcome.vm].vm.simulator.operation(outcome.operation_id)  # type: ignore[arg-type]
            assert enabled and op["notification_timeout"] == effective, (outcome, op)


@then(parsers.parse('the check says the VM runs on a host of cluster "{cluster}" other than "{host}"'))
def check_says_moved(vcenter: VcsimEndpoint, helper_run: Run, cluster: str, host: str) -> None:
    report = json.loads(helper_run.stdout)
    with _readback(vcenter) as vc:
        others = set(vc.cluster_hosts(cluster)) - {host}
    if report["current_host"] not in others:
        fail(f"vmotion-helper check says {report['vm']} runs on {report['current_host']}, not on {sorted(others)}")
