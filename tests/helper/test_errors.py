"""Every failure the helper documents, provoked for real: one line on stderr, its own exit code."""

from __future__ import annotations

import http.server
import threading
from typing import Callable, Iterator

import pytest

from helper.errors import ExitCode
from simulator.vcenter.vcsim import VcsimEndpoint
from tests.helper.conftest import assert_one_line_error, call_helper, closed_loopback_port, run_helper
from tests.helper.readback import Readback

pytestmark = pytest.mark.vcsim
VM = "DC0_C0_RP0_VM0"


@pytest.mark.parametrize(
    ("args", "fragment"),
    [
        (["vm", "no-such-vm"], "no VM named 'no-such-vm'"),
        (["check", "no-such-vm"], "no VM named 'no-such-vm'"),
        (["host", "no-such-host", "--timeout", "5"], "no host named 'no-such-host'"),
        (["cluster", "no-such-cluster", "--timeout", "5"], "no cluster named 'no-such-cluster'"),
        (["cluster", "DC0_H0", "--timeout", "5"], "no cluster named 'DC0_H0'"),  # a standalone host's resource
    ],
)
def test_unknown_names(vcsim: VcsimEndpoint, args: list[str], fragment: str) -> None:
    assert_one_line_error(run_helper(vcsim, *args), ExitCode.NOT_FOUND, fragment)


def test_ambiguous_names_are_not_reported_as_unknown(
    fresh_vcsim: VcsimEndpoint, readback: Callable[..., Readback]
) -> None:
    check = readback(fresh_vcsim)
    check.duplicate_vm(VM)
    check.duplicate_cluster_and_host("DC0_C0", "DC0_C0_H0")
    for args, kind in [
        (["vm", VM, "--enable"], "VMs"),
        (["check", VM], "VMs"),
        (["host", "DC0_C0_H0", "--timeout", "5"], "hosts"),
        (["cluster", "DC0_C0", "--timeout", "5"], "clusters"),
    ]:
        assert_one_line_error(run_helper(fresh_vcsim, *args), ExitCode.AMBIGUOUS, f"2 {kind} are named")
    # Refused before any write: neither VM nor any host of either cluster was touched.
    assert [check.host_timeout(h) for h in ("DC0_C0_H1", "DC0_C0_H2")] == [0, 0]
    assert check.reconfigure_tasks("DC0_C0_RP0_VM1") == 0


@pytest.mark.parametrize(
    ("args", "fragment"),
    [
        (["host", "DC0_C0_H0", "--timeout", "-1"], "invalid host timeout '-1'"),
        (["host", "DC0_C0_H0", "--timeout", "1.5"], "invalid host timeout '1.5'"),
        (["cluster", "DC0_C0", "--timeout", "9223372036854775808"], "larger than"),
        (["vm", VM, "--timeout", "-2"], "invalid VM timeout '-2'"),
        (["vm", VM, "--timeout", "soon"], "invalid VM timeout 'soon'"),
        (["vm", VM, "--enable", "--disable"], "not allowed with"),
        (["host", "DC0_C0_H0", "--force"], "--force needs --timeout"),
        (["cluster", "DC0_C0", "--force", "--dry-run"], "--force needs --timeout"),
        (["frobnicate"], "invalid choice"),
        ([], "required"),
    ],
)
def test_invalid_usage_is_rejected_before_connecting(args: list[str], fragment: str) -> None:
    # The endpoint is a closed port: reaching it would be exit 5, so exit 2 proves no connection was tried.
    env = {
        "VMWARE_HOST": "127.0.0.1",
        "VMWARE_PORT": str(closed_loopback_port()),
        "VMWARE_USER": "u",
        "VMWARE_PASSWORD": "p",
    }
    assert_one_line_error(run_helper(None, *args, **env), ExitCode.USAGE, fragment)


def test_missing_and_malformed_environment() -> None:
    assert_one_line_error(run_helper(None, "vm", VM), ExitCode.USAGE, "VMWARE_HOST")
    env = {"VMWARE_HOST": "127.0.0.1", "VMWARE_USER": "u", "VMWARE_PASSWORD": "p"}
    assert_one_line_error(
        run_helper(None, "vm", VM, **env, VMWARE_VALIDATE_CERTS="nope"), ExitCode.USAGE, "VMWARE_VALIDATE_CERTS"
    )
    assert_one_line_error(run_helper(None, "vm", VM, **env, VMWARE_PORT="http"), ExitCode.USAGE, "VMWARE_PORT")


def test_unreachable_endpoint() -> None:
    port = closed_loopback_port()
    env = {"VMWARE_HOST": "127.0.0.1", "VMWARE_PORT": str(port), "VMWARE_USER": "u", "VMWARE_PASSWORD": "p"}
    assert_one_line_error(run_helper(None, "vm", VM, **env), ExitCode.UNREACHABLE, "connection refused")


@pytest.fixture
def plain_http_server() -> Iterator[int]:
    """Something on loopback that answers, but not TLS and not vSphere."""
    server = http.server.HTTPServer(("127.0.0.1", 0), http.server.BaseHTTPRequestHandler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield int(server.server_address[1])
    finally:
        server.shutdown()
        server.server_close()
        thread.join()


def test_endpoint_that_is_not_vsphere(plain_http_server: int) -> None:
    env = {
        "VMWARE_HOST": "127.0.0.1",
        "VMWARE_PORT": str(plain_http_server),
        "VMWARE_USER": "u",
        "VMWARE_PASSWORD": "p",
        "VMWARE_VALIDATE_CERTS": "false",
    }
    assert_one_line_error(run_helper(None, "host", "DC0_C0_H0", **env), ExitCode.UNREACHABLE, "TLS")


@pytest.mark.parametrize("validate", ["true", ""])  # on by default, and on when asked
def test_certificate_checks_are_on_unless_turned_off(vcsim: VcsimEndpoint, validate: str) -> None:
    run = run_helper(vcsim, "vm", VM, VMWARE_VALIDATE_CERTS=validate)
    # 127.0.0.1 included: pyVmomi alone would skip the check for loopback addresses.
    assert_one_line_error(run, ExitCode.UNREACHABLE, "certificate verification failed", "VMWARE_VALIDATE_CERTS=false")


def test_bad_credentials_never_echo_the_password(vcsim_factory: Callable[..., VcsimEndpoint]) -> None:
    endpoint = vcsim_factory("-username", "admin", "-password", "Zq9-right-secret")
    assert run_helper(endpoint, "vm", VM).code == 0  # the right password works...
    run = run_helper(endpoint, "vm", VM, VMWARE_PASSWORD="Zq9-wrong-secret")
    assert_one_line_error(run, ExitCode.BAD_CREDENTIALS, "login refused", "VMWARE_PASSWORD")
    assert "Zq9" not in run.stderr + run.stdout
    assert_one_line_error(run_helper(endpoint, "vm", VM, VMWARE_USER="root"), ExitCode.BAD_CREDENTIALS)


@pytest.mark.parametrize(
    ("api", "dropped"),
    [
        ("7.0.3.0", "silently drops vmOpNotificationTimeout"),
        ("6.5", "silently drops vmOpNotificationToAppEnabled and vmOpNotificationTimeout"),
    ],
)
def test_old_api_version_is_refused_and_nothing_is_sent(
    vcsim_factory: Callable[..., VcsimEndpoint], readback: Callable[..., Readback], api: str, dropped: str
) -> None:
    endpoint = vcsim_factory("-api-version", api)
    for args in (["vm", VM, "--enable", "--timeout", "60"], ["vm", VM], ["vm", VM, "--enable", "--dry-run"]):
        assert_one_line_error(run_helper(endpoint, *args), ExitCode.API_TOO_OLD, f"API version is {api}", dropped)
    # Read at 8.0.1.0 regardless of what the server advertises: the VM is untouched, no task ran.
    check = readback(endpoint, "vim.version.v8_0_1_0")
    assert check.vm_fields(VM) == (False, -1)
    assert check.reconfigure_tasks(VM) == 0

    run = call_helper(endpoint, "check", VM)
    assert (
        run.code == ExitCode.CHECK_FAILED
        and f"[fail] api_version: the negotiated vSphere API version is {api}" in run.stdout
    )
    # The host option is not a VM field: it still works at an old API version.
    assert call_helper(endpoint, "host", "DC0_C0_H0", "--timeout", "5").code == 0
    assert check.host_timeout("DC0_C0_H0") == 5


def test_why_the_refusal_exists_the_old_api_drops_the_field(
    vcsim_factory: Callable[..., VcsimEndpoint], readback: Callable[..., Readback]
) -> None:
    """The premise of the refusal, shown on the wire: at 7.0.3.0 the timeout never reaches the server."""
    endpoint = vcsim_factory("-api-version", "7.0.3.0")
    old = readback(endpoint)  # negotiates 7.0.3.0
    old.set_vm(VM, enabled=True, timeout=60)  # the task succeeds...
    assert readback(endpoint, "vim.version.v8_0_1_0").vm_fields(VM) == (True, -1)  # ...the timeout is lost
