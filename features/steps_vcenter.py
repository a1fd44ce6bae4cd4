"""Steps on the vCenter side: the configuration helper run as an administrator would, read back through a
separate pyVmomi connection, and the bridge that gives the guest simulator vCenter's settings."""

from __future__ import annotations

import json
import os
import shlex
import subprocess
import sys
from dataclasses import dataclass
from typing import Any

import pytest
from pytest_bdd import given, parsers, then, when

from simulator.harness.scenarios.story import Story, fail
from simulator.vcenter.bridge import VCenterBridge
from simulator.vcenter.vcsim import VcsimEndpoint


@dataclass(frozen=True)
class HelperRun:
    code: int
    stdout: str
    stderr: str


def _bridge(endpoint: VcsimEndpoint) -> VCenterBridge:
    # The simulator's certificate is self-signed: the only place certificate checks are turned off.
    return VCenterBridge(endpoint.host, endpoint.port, endpoint.username, endpoint.password, validate_certs=False)


def _readback(story: Story) -> VCenterBridge:
    """A connection of the test's own, separate from the helper's and the bridge's."""
    if story.vcsim is None:
        fail("no vCenter simulator in this scenario")
    return _bridge(story.vcsim)


@given("a vCenter simulator with its default inventory")
def default_vcsim(story: Story, request: pytest.FixtureRequest) -> None:
    story.vcsim = request.getfixturevalue("fresh_vcsim")


@given(parsers.parse('a vCenter simulator that advertises only API version "{version}"'))
def old_vcsim(story: Story, request: pytest.FixtureRequest, version: str) -> None:
    story.vcsim = request.getfixturevalue("vcsim_factory")("-api-version", version)


@when(parsers.parse('the administrator runs "vmotion-helper {arguments}"'))
def run_helper(story: Story, arguments: str) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("VMWARE_")}
    env.update(story.vcsim.env())
    done = subprocess.run(
        [sys.executable, "-m", "helper", *shlex.split(arguments)],
        env=env, capture_output=True, text=True, timeout=120, stdin=subprocess.DEVNULL,
    )
    story.helper_run = HelperRun(done.returncode, done.stdout, done.stderr)
    if done.returncode == 70 or "Traceback" in done.stderr:
        fail(f"vmotion-helper {arguments} crashed: {done.stderr.strip()}")


@then("it succeeds")
def succeeds(story: Story) -> None:
    run: HelperRun = story.helper_run
    if run.code != 0:
        fail(f"vmotion-helper failed with exit status {run.code}: {run.stderr.strip()}")


@then(parsers.parse('it succeeds and says "{text}"'))
def succeeds_saying(story: Story, text: str) -> None:
    succeeds(story)
    if text not in story.helper_run.stdout:
        fail(f"vmotion-helper did not say {text!r}; it printed: {story.helper_run.stdout.strip()!r}")


@then(parsers.parse('it fails with exit status {code:d} and says "{text}"'))
def fails_with(story: Story, code: int, text: str) -> None:
    run: HelperRun = story.helper_run
    assert run.code == code, run
    lines = run.stderr.splitlines()
    assert len(lines) == 1 and text in lines[0], run.stderr


@then(parsers.parse('vCenter reads VmOpNotificationToApp.Timeout = {seconds:d} on host "{host}"'))
def host_reads(story: Story, seconds: int, host: str) -> None:
    with _readback(story) as vc:
        assert vc.host_timeout(host) == seconds


@then(parsers.parse('vCenter reads VmOpNotificationToApp.Timeout = {seconds:d} on every host of cluster "{cluster}"'))
def cluster_reads(story: Story, seconds: int, cluster: str) -> None:
    with _readback(story) as vc:
        hosts = vc.cluster_hosts(cluster)
        assert hosts, f"cluster {cluster} has no hosts"
        assert {h: vc.host_timeout(h) for h in hosts} == {h: seconds for h in hosts}


@then(parsers.parse('vCenter reads the VM "{vm}" with notifications enabled and a timeout of {seconds:d} seconds'))
def vm_reads(story: Story, vm: str, seconds: int) -> None:
    with _readback(story) as vc:
        assert vc.vm_settings(vm) == (True, seconds)


@then(parsers.parse('vCenter reads the VM "{vm}" with notifications disabled and no timeout set'))
def vm_reads_untouched(story: Story, vm: str) -> None:
    with _readback(story) as vc:
        assert vc.vm_settings(vm) == (False, None)


@then(parsers.parse('vCenter ran {count:d} reconfigure task on the VM "{vm}"'))
@then(parsers.parse('vCenter ran {count:d} reconfigure tasks on the VM "{vm}"'))
def reconfigure_tasks(story: Story, count: int, vm: str) -> None:
    """vCenter's own task history: a command that has nothing to change must not start a task."""
    with _readback(story) as vc:
        target = vc.vm(vm)
        tasks = [
            t for t in vc.si.RetrieveContent().taskManager.recentTask
            if t.info.entity == target and t.info.descriptionId == "VirtualMachine.reconfigVm"
        ]
        if len(tasks) != count:
            fail(f"vCenter ran {len(tasks)} ReconfigVM_Task on {vm}, expected {count}")


def _check_report(story: Story) -> Any:
    try:
        return json.loads(story.helper_run.stdout)
    except ValueError:
        fail(f"the check did not print JSON: {story.helper_run.stdout!r} {story.helper_run.stderr!r}")


@then(parsers.parse("the check says notifications would work with an effective timeout of {seconds:d} seconds"))
def check_works(story: Story, seconds: int) -> None:
    report = _check_report(story)
    assert story.helper_run.code == 0 and report["works"] is True, report
    assert report["effective_timeout"] == seconds


@then(parsers.parse('the check says notifications would not work because of "{item}"'))
def check_fails(story: Story, item: str) -> None:
    report = _check_report(story)
    assert story.helper_run.code == 1 and report["works"] is False, report
    assert {v["item"]: v["status"] for v in report["verdicts"]}.get(item) == "fail", report["verdicts"]


# ------------------------------------------------------------------------------------------ the bridge


@when(parsers.parse('the guest simulator takes its settings from vCenter for moving "{vm}" to another host '
                    "of its cluster"))
def bridge_settings(story: Story, vm: str) -> None:
    story.bridge = _bridge(story.vcsim)
    source = story.bridge.current_host(vm)
    destination = story.bridge.other_hosts(vm)[0]
    story.move = (vm, source, destination)
    story.bridge.apply(story.sim, story.bridge.settings_for_move(vm, destination))


@then(parsers.parse("the guest simulator's effective timeout is {effective:d} seconds and its destination "
                    "timeout is {destination:d} seconds"))
def bridged_timeouts(story: Story, effective: int, destination: int) -> None:
    status = story.sim.status()
    assert (status["effective_timeout"], status["dest_effective_timeout"]) == (effective, destination), status


@when("vCenter requests the vMotion")
def vcenter_vmotion(story: Story) -> None:
    assert story.move is not None and story.bridge is not None
    vm, _, destination = story.move
    story.operation_id = story.bridge.request_vmotion(story.sim, vm, destination)


@when("vCenter completes the move")
def vcenter_completes(story: Story) -> None:
    assert story.move is not None and story.bridge is not None and story.operation_id is not None
    vm, _, destination = story.move
    if not story.bridge.complete_vmotion(story.sim, story.operation_id, vm, destination):
        fail("the migration did not succeed, so vCenter did not move the VM")


@then("vCenter shows the VM on the destination host")
def vm_on_destination(story: Story) -> None:
    assert story.move is not None
    vm, source, destination = story.move
    with _readback(story) as vc:
        assert vc.current_host(vm) == destination != source
