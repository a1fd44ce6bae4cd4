"""What the helper checks before connecting, and how long a connect may take (issue 10, P1 P2).

No vCenter needed: a bad value is refused before any connection (the endpoint is a closed port, so reaching it
would be exit 5), and the silent endpoint is a local TCP server that accepts and never speaks.
"""

from __future__ import annotations

import socket
import threading
from typing import Iterator, List

import pytest

from helper.credentials import credentials_from_env
from helper.errors import ExitCode, HelperError
from tests.helper.conftest import assert_one_line_error, closed_loopback_port, run_helper

LOGIN = {"VMWARE_USER": "u", "VMWARE_PASSWORD": "p"}


def closed_endpoint() -> dict[str, str]:
    return {"VMWARE_HOST": "127.0.0.1", "VMWARE_PORT": str(closed_loopback_port()), **LOGIN}


@pytest.fixture
def silent_endpoint() -> Iterator[int]:
    """Accepts TCP on 127.0.0.1 and never says a word (no TLS handshake, no HTTP)."""
    server = socket.create_server(("127.0.0.1", 0))
    held: List[socket.socket] = []
    stop = threading.Event()

    def accept() -> None:
        server.settimeout(0.1)
        while not stop.is_set():
            try:
                held.append(server.accept()[0])
            except OSError:
                continue

    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    try:
        yield int(server.getsockname()[1])
    finally:
        stop.set()
        thread.join()
        for conn in held:
            conn.close()
        server.close()


def test_an_endpoint_that_never_speaks_tls_is_exit_5_after_the_connect_timeout(silent_endpoint: int) -> None:
    env = {"VMWARE_HOST": "127.0.0.1", "VMWARE_PORT": str(silent_endpoint), "VMWARE_CONNECT_TIMEOUT": "1", **LOGIN}
    assert_one_line_error(run_helper(None, "vm", "app01", **env), ExitCode.UNREACHABLE, "no answer within 1 s")


SECRET = "correct horse battery staple"


@pytest.mark.parametrize(
    ("host", "why"),
    [
        ("   ", "VMWARE_HOST"),
        ("https://vc.example.com/sdk", "not a URL"),
        ("vc.example.com/sdk", "not a URL"),
        ("vc.example.com\nevil", "control character"),
        (SECRET, "space"),
        ("vc..example.com", "host name"),
        ("-vc.example.com", "host name"),
        ("vcénter.example.com", "ASCII"),
        ("a" * 64 + ".example.com", "host name"),
    ],
)
def test_a_host_that_is_not_a_host_name_or_address_is_refused_before_connecting(host: str, why: str) -> None:
    run = run_helper(None, "vm", "app01", **{**closed_endpoint(), "VMWARE_HOST": host})
    assert_one_line_error(run, ExitCode.USAGE, "VMWARE_HOST", why)
    if host.strip():
        assert host not in run.stderr and "horse" not in run.stderr  # it might be a password typed in the wrong place


@pytest.mark.parametrize("port", ["٤٤٣", "4_43", "+443", "443.0", "0x1bb"])
def test_a_port_in_anything_but_ascii_digits_is_refused(port: str) -> None:
    run = run_helper(None, "vm", "app01", **{**closed_endpoint(), "VMWARE_PORT": port})
    assert_one_line_error(run, ExitCode.USAGE, "VMWARE_PORT")


@pytest.mark.parametrize(("command", "timeout"), [("host", "٤٤٣"), ("host", "1_0"), ("vm", "٦٠"), ("cluster", "+5")])
def test_a_timeout_in_anything_but_ascii_digits_is_refused(command: str, timeout: str) -> None:
    run = run_helper(None, command, "x", "--timeout", timeout, **closed_endpoint())
    assert_one_line_error(run, ExitCode.USAGE, "timeout")


@pytest.mark.parametrize("value", ["٣", "0", "1e3", "1_0", "601", "-1"])
def test_a_connect_timeout_out_of_range_or_not_ascii_digits_is_refused(value: str) -> None:
    run = run_helper(None, "vm", "app01", **{**closed_endpoint(), "VMWARE_CONNECT_TIMEOUT": value})
    assert_one_line_error(run, ExitCode.USAGE, "VMWARE_CONNECT_TIMEOUT")


@pytest.mark.parametrize(
    ("host", "connect_to"),
    [("vc.example.com", None), ("vc.example.com.", None), (" esx-01 ", "esx-01"), ("ESX01.Lab.Local", None),
     ("10.0.0.1", None), ("vc_01.corp.example", None), ("::1", "[::1]"), ("[fe80::1]", None)],
)
def test_host_names_and_addresses_are_accepted(host: str, connect_to: str) -> None:
    # An IPv6 literal keeps (or gains) its brackets: a bare one would lose its last group to the port.
    assert credentials_from_env({"VMWARE_HOST": host, **LOGIN}).host == (connect_to or host)


def test_the_connect_timeout_defaults_to_30_seconds() -> None:
    assert credentials_from_env({"VMWARE_HOST": "vc", **LOGIN}).connect_timeout == 30
    with pytest.raises(HelperError):
        credentials_from_env({"VMWARE_HOST": "vc", "VMWARE_CONNECT_TIMEOUT": "x", **LOGIN})
