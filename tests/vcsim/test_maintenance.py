"""EnterMaintenanceMode_Task waits until the host's powered-on VMs have left, moving them under the vMotion
limit; with -vmotion-bridge each move waits for the bridge's go (vcsim/maintenance.go)."""

from __future__ import annotations

import os
import subprocess
import sys
from typing import Any, Callable, Dict, List, Optional

import pytest
from pyVim.task import WaitForTask
from pyVmomi import vim

from simulator import Simulator
from simulator.cluster.maintenance import MaintenanceBridge, MaintenanceBridgeError, MoveQueue, PendingMove
from simulator.harness import SimulatedVM, wait_until
from simulator.vcenter.bridge import MoveSettings
from simulator.vcenter.vcsim import VcsimEndpoint
from tests.vcsim.vsphere import Connect, host_named, vm_named

pytestmark = pytest.mark.vcsim

CLUSTER_VMS = ["DC0_C0_RP0_VM0", "DC0_C0_RP0_VM1", "DC0_C0_RP0_VM2"]
Factory = Callable[..., VcsimEndpoint]


def _gather(si: Any, host: str, vms: List[str]) -> Any:
    """Put the VMs on one host (govmomi spreads them at random), and return that host."""
    target = host_named(si, host)
    for name in vms:
        WaitForTask(vm_named(si, name).RelocateVM_Task(vim.vm.RelocateSpec(host=target)))
    return target


def _queue(endpoint: VcsimEndpoint, password: str = "") -> MoveQueue:
    return MoveQueue(endpoint.host, endpoint.port, endpoint.username, password or endpoint.password, False)


def _ended(task: Any, seconds: float = 30.0) -> str:
    return str(wait_until(lambda: task.info.state if task.info.state in ("success", "error") else None, seconds))


def test_without_a_bridge_the_task_runs_until_every_vm_left(vcsim_factory: Factory, connect: Connect) -> None:
    endpoint = vcsim_factory("-vm", "3", "-vmotion-seconds", "0.5")
    si = connect(endpoint)
    host = _gather(si, "DC0_C0_H0", CLUSTER_VMS)

    task = host.EnterMaintenanceMode_Task(timeout=0)

    assert task.info.state in ("queued", "running")
    assert _ended(task) == "success", task.info.error
    seen = connect(endpoint)  # read back through a separate session
    assert host_named(seen, "DC0_C0_H0").runtime.inMaintenanceMode is True
    assert host_named(seen, "DC0_C0_H0").vm == []
    for name in CLUSTER_VMS:
        assert vm_named(seen, name).runtime.host.name in ("DC0_C0_H1", "DC0_C0_H2")


def test_moves_go_to_the_least_loaded_hosts_and_are_relocate_tasks(vcsim_factory: Factory, connect: Connect) -> None:
    endpoint = vcsim_factory("-vm", "4")
    si = connect(endpoint)
    _gather(si, "DC0_C0_H1", ["DC0_C0_RP0_VM3"])
    host = _gather(si, "DC0_C0_H0", CLUSTER_VMS)

    assert _ended(host.EnterMaintenanceMode_Task(timeout=0)) == "success"

    seen = connect(endpoint)
    counts = sorted(len(host_named(seen, h).vm) for h in ("DC0_C0_H1", "DC0_C0_H2"))
    assert counts == [2, 2]  # 1 + 3 VMs spread evenly, not all on one host
    relocations = [
        t for t in seen.content.taskManager.recentTask if t.info.descriptionId == "VirtualMachine.relocateVm"
    ]
    assert len(relocations) == 4 + len(CLUSTER_VMS)  # our own four relocations, then one per VM moved


def test_powered_off_vms_stay(vcsim_factory: Factory, connect: Connect) -> None:
    endpoint = vcsim_factory("-vm", "3")
    si = connect(endpoint)
    host = _gather(si, "DC0_C0_H0", CLUSTER_VMS)
    WaitForTask(vm_named(si, "DC0_C0_RP0_VM2").PowerOffVM_Task())

    assert _ended(host.EnterMaintenanceMode_Task(timeout=0)) == "success"
    assert [v.name for v in host_named(connect(endpoint), "DC0_C0_H0").vm] == ["DC0_C0_RP0_VM2"]


def test_a_bridge_sees_at_most_the_limit_pending_and_each_go_moves_one(
    vcsim_factory: Factory, connect: Connect
) -> None:
    endpoint = vcsim_factory("-vm", "3", "-vmotion-bridge", "-vmotion-limit", "2")
    si = connect(endpoint)
    host = _gather(si, "DC0_C0_H0", CLUSTER_VMS)
    queue = _queue(endpoint)

    task = host.EnterMaintenanceMode_Task(timeout=0)
    first: Optional[List[PendingMove]] = wait_until(lambda: queue.pending() if len(queue.pending()) == 2 else None, 10.0)

    assert first, "the first two moves were never published"
    assert [m.vm_name for m in first] == CLUSTER_VMS[:2]
    assert {m.source_name for m in first} == {"DC0_C0_H0"}
    assert {m.destination_name for m in first} == {"DC0_C0_H1", "DC0_C0_H2"}
    assert {m.task for m in first} == {task._moId}
    assert task.info.state == "running"
    assert host_named(connect(endpoint), "DC0_C0_H0").runtime.inMaintenanceMode is False

    assert queue.go(first[0].vm) == first[0].destination_name
    assert vm_named(connect(endpoint), first[0].vm_name).runtime.host.name == first[0].destination_name
    second = wait_until(lambda: [m for m in queue.pending() if m.vm_name == CLUSTER_VMS[2]], 10.0)
    assert second, "the third move did not take the freed slot"
    assert len(queue.pending()) == 2
    for move in queue.pending():
        queue.go(move.vm)

    assert _ended(task) == "success", task.info.error
    assert host_named(connect(endpoint), "DC0_C0_H0").runtime.inMaintenanceMode is True


def test_the_task_times_out_when_the_bridge_never_says_go(vcsim_factory: Factory, connect: Connect) -> None:
    endpoint = vcsim_factory("-vm", "3", "-vmotion-bridge")
    host = _gather(connect(endpoint), "DC0_C0_H0", CLUSTER_VMS)

    task = host.EnterMaintenanceMode_Task(timeout=1)

    assert _ended(task) == "error"
    assert isinstance(task.info.error, vim.fault.Timedout)
    assert host_named(connect(endpoint), "DC0_C0_H0").runtime.inMaintenanceMode is False


def test_the_bridge_protocol_refuses_bad_requests(vcsim_factory: Factory) -> None:
    endpoint = vcsim_factory("-vmotion-bridge")
    with pytest.raises(MaintenanceBridgeError, match="401"):
        _queue(endpoint, password="wrong").pending()
    with pytest.raises(MaintenanceBridgeError, match=r"404 .*no move of vm-404 waits"):
        _queue(endpoint).go("vm-404")
    assert _queue(endpoint).pending() == []


def test_a_bridge_lets_a_vm_without_a_guest_go_at_once(vcsim_factory: Factory, connect: Connect) -> None:
    endpoint = vcsim_factory("-vm", "3", "-vmotion-bridge", "-vmotion-limit", "1")
    host = _gather(connect(endpoint), "DC0_C0_H0", CLUSTER_VMS)

    with MaintenanceBridge(endpoint.env(), guests={}) as bridge:
        assert _ended(host.EnterMaintenanceMode_Task(timeout=0)) == "success"

    assert sorted(o.vm for o in bridge.outcomes) == CLUSTER_VMS
    assert not any(o.notified or o.forced or o.error for o in bridge.outcomes), bridge.outcomes
    assert bridge.errors == []


def test_a_move_whose_settings_cannot_be_read_still_goes_and_says_why(
    vcsim_factory: Factory, connect: Connect
) -> None:
    endpoint = vcsim_factory("-vm", "3", "-vmotion-bridge")
    host = _gather(connect(endpoint), "DC0_C0_H0", CLUSTER_VMS)

    def unreadable(move: PendingMove) -> MoveSettings:
        raise RuntimeError(f"{move.vm_name} is unreadable")

    guests = {"DC0_C0_RP0_VM1": Simulator(migration_seconds=0.0)}
    with MaintenanceBridge(endpoint.env(), guests, read_settings=unreadable) as bridge:
        assert _ended(host.EnterMaintenanceMode_Task(timeout=0)) == "success"

    errors = {o.vm: o.error for o in bridge.outcomes}
    assert errors == {
        "DC0_C0_RP0_VM0": None,
        "DC0_C0_RP0_VM1": "cannot read the settings of DC0_C0_RP0_VM1: DC0_C0_RP0_VM1 is unreadable",
        "DC0_C0_RP0_VM2": None,
    }
    assert guests["DC0_C0_RP0_VM1"].status()["operations"] == []  # no vMotion without vCenter's settings


def _bridge_cli(args: List[str], env: Dict[str, str]) -> subprocess.CompletedProcess[str]:
    clean = {k: v for k, v in os.environ.items() if not k.startswith("VMWARE_")}
    return subprocess.run(
        [sys.executable, "-m", "simulator", "maintenance-bridge", *args], env={**clean, **env},
        capture_output=True, text=True, timeout=120, stdin=subprocess.DEVNULL,
    )


def test_the_command_enters_maintenance_mode_through_a_served_guest(
    vcsim_factory: Factory, connect: Connect, vmotion_sim: SimulatedVM
) -> None:
    endpoint = vcsim_factory("-vm", "3", "-vmotion-bridge")
    _gather(connect(endpoint), "DC0_C0_H0", CLUSTER_VMS)
    vmotion_sim.simulator.migration_seconds = 0.0

    done = _bridge_cli(["--guest", f"DC0_C0_RP0_VM1={vmotion_sim.socket}", "--enter", "DC0_C0_H0"], endpoint.env())

    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    assert lines[0].startswith("DC0_C0_H0: entering maintenance mode (task-")
    assert lines[-1] == "DC0_C0_H0: in maintenance mode; 3 VMs moved, forced: none"
    moved = sorted(line.split(":")[0] for line in lines[1:-1])
    assert moved == CLUSTER_VMS
    operations = vmotion_sim.simulator.status()["operations"]
    assert len(operations) == 1  # the guest was asked, once
    assert f"DC0_C0_RP0_VM1: DC0_C0_H0 -> DC0_C0_H2, moved at once: no app registered in its guest, or " \
        f"notifications off (operation {operations[0]['operation_id']})" in lines
    assert "DC0_C0_RP0_VM0: DC0_C0_H0 -> DC0_C0_H1, moved without notification (no guest simulator)" in lines
    assert host_named(connect(endpoint), "DC0_C0_H0").runtime.inMaintenanceMode is True


@pytest.mark.parametrize(
    ("args", "code", "message"),
    [
        (["--guest", "novm"], 2, "'novm' is not VM=SOCKET"),
        (["--guest", "VM0=/nonexistent/sim.sock"], 3, "guest VM0:"),
    ],
)
def test_the_command_refuses_bad_guests_in_one_line(args: List[str], code: int, message: str) -> None:
    done = _bridge_cli(args, {})
    assert done.returncode == code
    assert len(done.stderr.strip().splitlines()) == 1 and message in done.stderr, done.stderr


def test_the_command_without_vcenter_variables_is_bad_usage() -> None:
    done = _bridge_cli([], {})
    assert done.returncode == 2
    assert done.stderr.strip().splitlines() == [
        done.stderr.strip()
    ] and "missing environment variable(s) VMWARE_HOST" in done.stderr


def test_one_bridge_serves_a_vm_that_moves_again_in_a_later_maintenance_mode(
    vcsim_factory: Factory, connect: Connect
) -> None:
    endpoint = vcsim_factory("-vm", "3", "-vmotion-bridge")
    si = connect(endpoint)
    first = _gather(si, "DC0_C0_H0", CLUSTER_VMS)

    with MaintenanceBridge(endpoint.env(), guests={}) as bridge:
        assert _ended(first.EnterMaintenanceMode_Task(timeout=0)) == "success"
        assert _ended(first.ExitMaintenanceMode_Task(timeout=0)) == "success"
        second = vm_named(si, "DC0_C0_RP0_VM0").runtime.host  # VM0 moved once already: now it moves again
        assert _ended(second.EnterMaintenanceMode_Task(timeout=0), 15.0) == "success"

    assert [o.vm for o in bridge.outcomes].count("DC0_C0_RP0_VM0") == 2, bridge.outcomes
    assert vm_named(connect(endpoint), "DC0_C0_RP0_VM0").runtime.host.name != second.name
