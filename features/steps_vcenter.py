"""Steps on the vCenter side: the configuration helper run as an administrator would, read back through a
separate pyVmomi connection, and the bridge that gives the guest simulator vCenter's settings."""

from __future__ import annotations

import json
import shlex
from dataclasses import dataclass
from typing import Any

import pytest
from pytest_bdd import given, parsers, then, when

from helper.errors import ExitCode
from simulator.harness.scenarios.under_test import HandlerUnderTest, fail
from simulator.vcenter.bridge import VCenterBridge
from simulator.vcenter.vcsim import VcsimEndpoint
from tests.helper.conftest import Run, call_helper


def _bridge(endpoint: VcsimEndpoint) -> VCenterBridge:
    # The simulator's certificate is self-signed: the only place certificate checks are turned off.
    return VCenterBridge(endpoint.host, endpoint.port, endpoint.username, endpoint.password, validate_certs=False)


@dataclass(frozen=True)
class Move:
    """A vMotion of one VM that vCenter asks for, through the bridge."""

    bridge: VCenterBridge
    vm: str
    source: str
    destination: str


def _readback(vcenter: VcsimEndpoint) -> VCenterBridge:
    """A connection of the test's own, separate from the helper's and the bridge's."""
    return _bridge(vcenter)


@given("a vCenter simulator with its default inventory", target_fixture="vcenter")
def default_vcsim(fresh_vcsim: VcsimEndpoint) -> VcsimEndpoint:
    return fresh_vcsim


@given(parsers.parse('a vCenter simulator that advertises only API version "{version}"'), target_fixture="vcenter")
def old_vcsim(vcsim_factory: Any, version: str) -> VcsimEndpoint:
    endpoint: VcsimEndpoint = vcsim_factory("-api-version", version)
    return endpoint


@when(parsers.parse('the administrator runs "vmotion-helper {arguments}"'), target_fixture="helper_run")
def run_helper(vcenter: VcsimEndpoint, arguments: str) -> Run:
    """In this process: a process start would cost more than the command does, and tests/helper runs it as one."""
    run = call_helper(vcenter, *shlex.split(arguments))
    if run.code == ExitCode.INTERNAL:
        fail(f"vmotion-helper {arguments} crashed: {run.stderr.strip()}")
    return run


@then("it succeeds")
def succeeds(helper_run: Run) -> None:
    run = helper_run
    if run.code != 0:
        fail(f"vmotion-helper failed with exit status {run.code}: {run.stderr.strip()}")


@then(parsers.parse('it succeeds and says "{text}"'))
def succeeds_saying(helper_run: Run, text: str) -> None:
    succeeds(helper_run)
    if text not in helper_run.stdout:
        fail(f"vmotion-helper did not say {text!r}; it printed: {helper_run.stdout.strip()!r}")


@then(parsers.parse('it fails with exit status {code:d} and says "{text}"'))
def fails_with(helper_run: Run, code: int, text: str) -> None:
    run = helper_run
    assert run.code == code, run
    lines = run.stderr.splitlines()
    assert len(lines) == 1 and text in lines[0], run.stderr


@then(parsers.parse('vCenter reads VmOpNotificationToApp.Timeout = {seconds:d} on host "{host}"'))
def host_reads(vcenter: VcsimEndpoint, seconds: int, host: str) -> None:
    with _readback(vcenter) as vc:
        assert vc.host_timeout(host) == seconds


@then(parsers.parse('vCenter reads VmOpNotificationToApp.Timeout = {seconds:d} on every host of cluster "{cluster}"'))
def cluster_reads(vcenter: VcsimEndpoint, seconds: int, cluster: str) -> None:
    with _readback(vcenter) as vc:
        hosts = vc.cluster_hosts(cluster)
        assert hosts, f"cluster {cluster} has no hosts"
        assert {h: vc.host_timeout(h) for h in hosts} == {h: seconds for h in hosts}


@then(parsers.parse('vCenter reads the VM "{vm}" with notifications enabled and a timeout of {seconds:d} seconds'))
def vm_reads(vcenter: VcsimEndpoint, vm: str, seconds: int) -> None:
    with _readback(vcenter) as vc:
        assert vc.vm_settings(vm) == (True, seconds)


@then(parsers.parse('vCenter reads the VM "{vm}" with notifications disabled and no timeout set'))
def vm_reads_untouched(vcenter: VcsimEndpoint, vm: str) -> None:
    with _readback(vcenter) as vc:
        assert vc.vm_settings(vm) == (False, None)


@then(parsers.parse('vCenter ran {count:d} reconfigure task on the VM "{vm}"'))
@then(parsers.parse('vCenter ran {count:d} reconfigure tasks on the VM "{vm}"'))
def reconfigure_tasks(vcenter: VcsimEndpoint, count: int, vm: str) -> None:
    """vCenter's own task history: a command that has nothing to change must not start a task."""
    with _readback(vcenter) as vc:
        target = vc.vm(vm)
        tasks = [
            t for t in vc.si.RetrieveContent().taskManager.recentTask
            if t.info.entity == target and t.info.descriptionId == "VirtualMachine.reconfigVm"
        ]
        if len(tasks) != count:
            fail(f"vCenter ran {len(tasks)} ReconfigVM_Task on {vm}, expected {count}")


def _check_report(run: Run) -> Any:
    try:
        return json.loads(run.stdout)
    except ValueError:
        fail(f"the check did not print JSON: {run.stdout!r} {run.stderr!r}")


@then(parsers.parse("the check says notifications would work with an effective timeout of {seconds:d} seconds"))
def check_works(helper_run: Run, seconds: int) -> None:
    report = _check_report(helper_run)
    assert helper_run.code == 0 and report["works"] is True, report
    assert report["effective_timeout"] == seconds


@then(parsers.parse('the check says notifications would not work because of "{item}"'))
def check_fails(helper_run: Run, item: str) -> None:
    report = _check_report(helper_run)
    assert helper_run.code == 1 and report["works"] is False, report
    assert {v["item"]: v["status"] for v in report["verdicts"]}.get(item) == "fail", report["verdicts"]


# ------------------------------------------------------------------------------------------ the bridge


@when(parsers.parse('the guest simulator takes its settings from vCenter for moving "{vm}" to another host '
                    "of its cluster"), target_fixture="move")
def bridge_settings(request: pytest.FixtureRequest, vcenter: VcsimEndpoint, handler: HandlerUnderTest,
                    vm: str) -> Move:
    bridge = _bridge(vcenter)
    request.addfinalizer(bridge.close)
    move = Move(bridge, vm, bridge.current_host(vm), bridge.other_hosts(vm)[0])
    bridge.apply(handler.sim, bridge.settings_for_move(vm, move.destination))
    return move


@then(parsers.parse("the guest simulator's effective timeout is {effective:d} seconds and its destination "
                    "timeout is {destination:d} seconds"))
def bridged_timeouts(handler: HandlerUnderTest, effective: int, destination: int) -> None:
    status = handler.sim.status()
    assert (status["effective_timeout"], status["dest_effective_timeout"]) == (effective, destination), status


@when("vCenter requests the vMotion")
def vcenter_vmotion(handler: HandlerUnderTest, move: Move) -> None:
    handler.operation_id = move.bridge.request_vmotion(handler.sim, move.vm, move.destination)


@when("vCenter completes the move")
def vcenter_completes(handler: HandlerUnderTest, move: Move) -> None:
    assert handler.operation_id is not None
    if not move.bridge.complete_vmotion(handler.sim, handler.operation_id, move.vm, move.destination):
        fail("the migration did not succeed, so vCenter did not move the VM")


@then("vCenter shows the VM on the destination host")
def vm_on_destination(vcenter: VcsimEndpoint, move: Move) -> None:
    with _readback(vcenter) as vc:
        assert vc.current_host(move.vm) == move.destination != move.source
