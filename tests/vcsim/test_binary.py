"""The simulator binary as a user runs it: flags, the env file, the inventory counts, and vcsim/build."""

from __future__ import annotations

import os
import signal
import stat
import subprocess
from pathlib import Path
from typing import Any

import pytest
from pyVmomi import vim

from simulator.vcenter.vcsim import BUILD_SCRIPT, parse_env_lines, start_native
from tests.vcsim.vsphere import Connect

pytestmark = pytest.mark.vcsim


@pytest.mark.parametrize(
    ("flags", "message"),
    [
        (["-l", "0.0.0.0:0"], "must be a loopback address"),
        (["-l", "192.0.2.1:8989"], "must be a loopback address"),
        (["-l", "nonsense"], "-l must be HOST:PORT"),
        (["-api-version", "eight"], "-api-version must look like 8.0.1.0"),
        (["-host-timeout", "-1"], "-host-timeout must be >= 0"),
        (["-method-delay", "Login"], "-method-delay items must be NAME:MS"),
        (["stray"], 'unexpected argument "stray"'),
        (["-vmotion-limit", "0"], "-vmotion-limit must be >= 1, got 0"),
        (["-vmotion-seconds", "-1"], "-vmotion-seconds must be from 0 to 86400, got -1"),
        (["-vmotion-seconds", "NaN"], "-vmotion-seconds must be from 0 to 86400, got NaN"),
    ],
)
def test_bad_command_line_is_one_clear_line_and_exit_2(vcsim_binary: Path, flags: list[str], message: str) -> None:
    done = subprocess.run([str(vcsim_binary), *flags], capture_output=True, text=True, timeout=30)
    assert done.returncode == 2
    assert message in done.stderr
    assert done.stdout == ""
    assert len(done.stderr.strip().splitlines()) == 1


def test_env_file_tells_the_port_and_goes_away_on_sigterm(vcsim_binary: Path, tmp_path: Path) -> None:
    env_file = tmp_path / "vcsim.env"
    proc = subprocess.Popen(
        [str(vcsim_binary), "-l", "127.0.0.1:0", "-E", str(env_file)],
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert proc.stdout is not None
        printed = "".join(proc.stdout.readline() for _ in range(8))
        env = parse_env_lines(env_file.read_text())
        assert env == parse_env_lines(printed)
        assert stat.S_IMODE(env_file.stat().st_mode) == 0o600  # it holds the password
        assert env["VMWARE_HOST"] == "127.0.0.1"
        assert int(env["VMWARE_PORT"]) > 0
        assert env["GOVC_URL"] == f"https://user:pass@127.0.0.1:{env['VMWARE_PORT']}/sdk"
        assert env["GOVC_SIM_PID"] == str(proc.pid)
        assert env["VMWARE_VALIDATE_CERTS"] == "false"
    finally:
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=30) == 0
    assert not env_file.exists()


def test_credentials_flags_and_quoting(vcsim_binary: Path, connect: Connect) -> None:
    password = "it's a $ecret"
    with start_native(vcsim_binary, username="admin@vsphere.local", password=password) as endpoint:
        assert endpoint.password == password
        assert connect(endpoint).content.sessionManager.currentSession.userName == "admin@vsphere.local"
        wrong = endpoint.__class__(endpoint.host, endpoint.port, endpoint.username, "wrong", endpoint.how)
        with pytest.raises(vim.fault.InvalidLogin):
            connect(wrong)


def test_stdinexit_ends_the_simulator_when_its_parent_goes(vcsim_binary: Path) -> None:
    proc = subprocess.Popen(
        [str(vcsim_binary), "-l", "127.0.0.1:0", "-stdinexit"],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
    )
    assert proc.stdout is not None and proc.stdin is not None
    proc.stdout.readline()
    proc.stdin.close()
    assert proc.wait(timeout=30) == 0
    proc.stdout.close()


def test_inventory_counts(vcsim_factory: Any, connect: Connect) -> None:
    si = connect(vcsim_factory("-dc", "2", "-cluster", "1", "-host", "2", "-standalone-host", "0", "-vm", "1"))
    view = si.content.viewManager.CreateContainerView(si.content.rootFolder, [vim.ManagedEntity], True)
    names = {(type(o).__name__, o.name) for o in view.view}
    hosts = sorted(n for t, n in names if t == "vim.HostSystem")
    vms = sorted(n for t, n in names if t == "vim.VirtualMachine")
    assert hosts == ["DC0_C0_H0", "DC0_C0_H1", "DC1_C0_H0", "DC1_C0_H1"]
    assert vms == ["DC0_C0_RP0_VM0", "DC1_C0_RP0_VM0"]


def test_build_reuses_an_up_to_date_binary_and_prints_its_path_last(vcsim_binary: Path) -> None:
    before = vcsim_binary.stat().st_mtime_ns
    done = subprocess.run([str(BUILD_SCRIPT)], capture_output=True, text=True, timeout=300, check=True)
    last = done.stdout.strip().splitlines()[-1]
    assert Path(last) == vcsim_binary
    assert vcsim_binary.stat().st_mtime_ns == before
    assert os.access(last, os.X_OK)
