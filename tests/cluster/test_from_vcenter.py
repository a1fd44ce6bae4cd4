"""``evacuate --from-vcenter HOST`` against the vCenter simulator: the VMs and timeouts come from vCenter,
read by the helper's code, and the what-if runs on them."""

from __future__ import annotations

import os
from typing import Iterator

import pytest

from simulator.pytest_vcsim import VcsimFactory
from simulator.vcsim import VcsimEndpoint
from tests.cluster.run import evacuate
from tests.helper.readback import Readback, vim

pytestmark = pytest.mark.vcsim
HOST = "DC0_H0"


@pytest.fixture
def host_with_six_vms(vcsim_factory: VcsimFactory, monkeypatch: pytest.MonkeyPatch) -> Iterator[VcsimEndpoint]:
    """A standalone host with six VMs and the host option at 90 s; the helper's variables point at it."""
    endpoint = vcsim_factory("-cluster", "0", "-standalone-host", "1", "-vm", "6", "-host-timeout", "90")
    for name in list(os.environ):
        if name.startswith("VMWARE_"):
            monkeypatch.delenv(name)
    for name, value in endpoint.env().items():
        monkeypatch.setenv(name, value)
    check = Readback(endpoint)
    try:
        check.set_vm(f"{HOST}_VM0", enabled=True, timeout=30)  # its own, shorter timeout: 30
        check.set_vm(f"{HOST}_VM1", enabled=True)  # unset: the host's 90
        check.set_vm(f"{HOST}_VM3", enabled=True, timeout=200)  # min(90, 200): 90
        check.set_vm(f"{HOST}_VM4", enabled=True, timeout=60)
        check.wait(check.one(vim.VirtualMachine, f"{HOST}_VM4").PowerOffVM_Task())  # stays: not evacuated
        # VM2 and VM5: notifications off
    finally:
        check.close()
    yield endpoint


def test_the_hosts_powered_on_vms_are_evacuated_with_the_timeouts_vcenter_gives_them(
    host_with_six_vms: VcsimEndpoint,
) -> None:
    outcome = evacuate("--from-vcenter", HOST, "--quiesce", "40", "--migration-seconds", "10", "--concurrency", "2",
                       "--aligned-polls", "--json")
    out = outcome.json()
    assert out["host"] == HOST
    rows = {row["vm"]: row for row in out["vms"]}
    assert sorted(rows) == [f"{HOST}_VM{i}" for i in (0, 1, 2, 3, 5)]
    assert {name: row["timeout"] for name, row in rows.items()} == {
        f"{HOST}_VM0": 30, f"{HOST}_VM1": 90, f"{HOST}_VM2": 0, f"{HOST}_VM3": 90, f"{HOST}_VM5": 0}
    assert out["quiesce_cut"] == [f"{HOST}_VM0"]  # 40 s of quiesce against 30 - 2
    assert out["not_notified"] == [f"{HOST}_VM2", f"{HOST}_VM5"]
    assert out["forced"] == []


def test_vcenter_problems_are_one_line_errors(host_with_six_vms: VcsimEndpoint, monkeypatch: pytest.MonkeyPatch) -> None:
    unknown = evacuate("--from-vcenter", "no-such-host")
    assert unknown.exit_code == 2 and "no host named 'no-such-host'" in unknown.stderr
    both = evacuate("--from-vcenter", HOST, "--vms", "3")
    assert both.exit_code == 2 and "drop --vms" in both.stderr
    monkeypatch.setenv("VMWARE_PASSWORD", "wrong")
    refused = evacuate("--from-vcenter", HOST)
    assert refused.exit_code == 3
    monkeypatch.delenv("VMWARE_USER")
    missing = evacuate("--from-vcenter", HOST)
    assert missing.exit_code == 2 and "VMWARE_USER" in missing.stderr
    for outcome in (unknown, both, refused, missing):
        assert len(outcome.stderr.strip().splitlines()) == 1 and "Traceback" not in outcome.stderr
        assert outcome.stdout == ""
