"""The vcsim provider: its endpoint, its choice of path, its skip rule, and each path really serving."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from pyVim.task import WaitForTask
from pyVmomi import VmomiSupport, vim

from simulator.vcenter.vcsim import (
    VcsimEndpoint,
    VcsimError,
    VcsimUnavailable,
    docker_engine,
    endpoint_from_url,
    parse_env_lines,
)
from tests.vcsim.vsphere import Connect, host_named, vm_named


def test_endpoint_url_and_env() -> None:
    endpoint = VcsimEndpoint("127.0.0.1", 8989, "user", "pass", "native")
    assert endpoint.url == "https://127.0.0.1:8989/sdk"
    assert endpoint.env() == {
        "VMWARE_HOST": "127.0.0.1",
        "VMWARE_PORT": "8989",
        "VMWARE_USER": "user",
        "VMWARE_PASSWORD": "pass",
        "VMWARE_VALIDATE_CERTS": "false",
    }


def test_endpoint_from_url() -> None:
    assert endpoint_from_url("https://admin:s%40cret@127.0.0.2:1234/sdk") == VcsimEndpoint(
        "127.0.0.2", 1234, "admin", "s@cret", "url"
    )
    assert endpoint_from_url("https://localhost/sdk") == VcsimEndpoint("localhost", 443, "user", "pass", "url")


@pytest.mark.parametrize(
    "url", ["http://127.0.0.1:8989/sdk", "https://192.0.2.10:443/sdk", "https://vcenter.example.com/sdk", "8989"]
)
def test_endpoint_from_url_refuses_non_loopback_or_non_https(url: str) -> None:
    with pytest.raises(VcsimError):
        endpoint_from_url(url)


def test_parse_env_lines_undoes_shell_quoting() -> None:
    text = "export VMWARE_PASSWORD='it'\\''s'\nexport VMWARE_PORT=1\nnoise=2\n"
    assert parse_env_lines(text) == {"VMWARE_PASSWORD": "it's", "VMWARE_PORT": "1"}


INNER_TEST = """
def test_inner(vcsim):
    assert (vcsim.how, vcsim.host, vcsim.port) == ({how!r}, "127.0.0.1", {port!r})
"""


# A pytest session as a user's runs it, less Hypothesis's plugin (a dev tool of ours, not a user's): its end-of-run
# summary imports all of Hypothesis, most of such a session's start-up.
INNER_PYTEST = [sys.executable, "-m", "pytest", "-q", "-rs", "-p", "no:cacheprovider", "-p", "no:hypothesispytest"]


def run_inner(tmp_path: Path, env: dict[str, str], *args: str, how: str = "url", port: int = 0) -> Any:
    """Run a one-test pytest session that uses the `vcsim` fixture, in a subprocess with this environment."""
    (tmp_path / "test_inner.py").write_text(INNER_TEST.format(how=how, port=port))
    return subprocess.run(
        [*INNER_PYTEST, "test_inner.py", *args],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )


def nothing_available_env(**extra: str) -> dict[str, str]:
    """No URL, no Docker engine, no Go, no prebuilt binary."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("VCSIM_", "VMOTION_REQUIRE", "DOCKER_"))}
    env.pop("CI", None)  # set by CI systems: it requires a simulator (tested below)
    env["PATH"] = str(Path(sys.executable).parent)
    env["DOCKER_HOST"] = "unix:///nonexistent/docker.sock"
    env.update(extra)
    return env


def test_nothing_available_skips_with_every_reason(tmp_path: Path) -> None:
    done = run_inner(tmp_path, nothing_available_env())
    assert done.returncode == 0, done.stdout + done.stderr
    assert "1 skipped" in done.stdout
    assert "container: no Docker engine answers" in done.stdout
    assert "native: no vcsim binary: Go is not installed" in done.stdout


def test_nothing_available_fails_when_vcsim_is_required(tmp_path: Path) -> None:
    done = run_inner(tmp_path, nothing_available_env(VMOTION_REQUIRE_VCSIM="1"))
    assert done.returncode == 1, done.stdout + done.stderr
    assert "1 error" in done.stdout or "1 failed" in done.stdout
    assert "VMOTION_REQUIRE_VCSIM=1" in done.stdout


@pytest.mark.parametrize(
    ("extra", "outcome", "why"),
    [
        ({"CI": "true"}, "1 error", "(CI=true)"),
        ({"CI": "1"}, "1 error", "(CI=1)"),
        ({"CI": "true", "VMOTION_REQUIRE_VCSIM": "0"}, "1 skipped", ""),  # said explicitly: a skip is wanted
        ({"CI": "false"}, "1 skipped", ""),
    ],
    ids=["CI=true", "CI=1", "CI=true but VMOTION_REQUIRE_VCSIM=0", "CI=false"],
)
def test_on_ci_a_missing_simulator_is_a_failure_whatever_started_the_tests(
    tmp_path: Path, extra: dict[str, str], outcome: str, why: str
) -> None:
    done = run_inner(tmp_path, nothing_available_env(**extra))
    assert outcome in done.stdout, done.stdout + done.stderr
    assert "no vCenter simulator: container: no Docker engine answers" in done.stdout, done.stdout
    reason = "native: no vcsim binary: Go is not installed (Debian: golang-go) and VCSIM_BINARY unset"
    assert (f"{reason} {why}" if why else f"{reason}\n") in done.stdout, done.stdout


def test_fresh_vcsim_without_a_binary_tries_the_container_even_when_required(tmp_path: Path) -> None:
    """A missing binary is not the end when a simulator is required: the container is the documented fallback."""
    (tmp_path / "test_fresh.py").write_text("def test_fresh(fresh_vcsim):\n    pass\n")
    for required, outcome in (("0", "1 skipped"), ("1", "1 error")):
        done = subprocess.run(
            [*INNER_PYTEST, "test_fresh.py"],
            cwd=tmp_path, env=nothing_available_env(VMOTION_REQUIRE_VCSIM=required),
            capture_output=True, text=True, timeout=120,
        )
        assert outcome in done.stdout, done.stdout + done.stderr
        assert "no fresh vcsim: no binary, and container: no Docker engine answers" in done.stdout, done.stdout


def test_an_existing_url_is_used_as_given(tmp_path: Path, vcsim_native: VcsimEndpoint) -> None:
    url = f"https://user:pass@127.0.0.1:{vcsim_native.port}/sdk"
    by_option = run_inner(tmp_path, nothing_available_env(), f"--vcsim-url={url}", port=vcsim_native.port)
    assert by_option.returncode == 0, by_option.stdout + by_option.stderr
    by_env = run_inner(tmp_path, nothing_available_env(VCSIM_URL=url), port=vcsim_native.port)
    assert by_env.returncode == 0, by_env.stdout + by_env.stderr


def test_a_non_loopback_url_is_an_error_not_a_skip(tmp_path: Path) -> None:
    done = run_inner(tmp_path, nothing_available_env(), "--vcsim-url=https://192.0.2.10/sdk")
    assert done.returncode == 1, done.stdout + done.stderr
    assert "not a loopback address" in done.stdout


def check_serves_the_notification_settings(endpoint: VcsimEndpoint, connect: Connect) -> None:
    si = connect(endpoint)
    assert si.content.about.apiVersion == "8.0.1.0"
    vm = vm_named(si, "DC0_C0_RP0_VM0")
    WaitForTask(vm.ReconfigVM_Task(vim.vm.ConfigSpec(vmOpNotificationToAppEnabled=True, vmOpNotificationTimeout=0)))
    manager = host_named(si, "DC0_C0_H2").configManager.advancedOption
    long_ = VmomiSupport.vmodlTypes["long"]
    manager.UpdateOptions(changedValue=[vim.option.OptionValue(key="VmOpNotificationToApp.Timeout", value=long_(120))])
    seen = connect(endpoint)
    config = vm_named(seen, "DC0_C0_RP0_VM0").config
    assert (config.vmOpNotificationToAppEnabled, config.vmOpNotificationTimeout) == (True, 0)
    (option,) = host_named(seen, "DC0_C0_H2").configManager.advancedOption.QueryOptions("VmOpNotificationToApp.Timeout")
    assert option.value == 120


@pytest.mark.native
@pytest.mark.vcsim
def test_native_path_serves(vcsim_native: VcsimEndpoint, connect: Connect) -> None:
    assert vcsim_native.how == "native"
    check_serves_the_notification_settings(vcsim_native, connect)


@pytest.mark.container
@pytest.mark.vcsim
def test_container_path_serves(vcsim_container: VcsimEndpoint, connect: Connect) -> None:
    assert vcsim_container.how == "container"
    check_serves_the_notification_settings(vcsim_container, connect)


@pytest.mark.vcsim
def test_default_path_serves(vcsim: VcsimEndpoint, connect: Connect, request: pytest.FixtureRequest) -> None:
    # The documented order: a URL given, else the container when an engine answers, else the native binary.
    if request.config.getoption("--vcsim-url") or os.environ.get("VCSIM_URL"):
        expected = "url"
    else:
        try:
            docker_engine()
            expected = "container"
        except VcsimUnavailable:
            expected = "native"
    assert vcsim.how == expected
    assert connect(vcsim).content.about.apiVersion == "8.0.1.0"


@pytest.mark.vcsim
def test_fresh_vcsim_is_a_clean_inventory_of_its_own(
    fresh_vcsim: VcsimEndpoint, vcsim: VcsimEndpoint, connect: Connect
) -> None:
    assert fresh_vcsim.port != vcsim.port
    config = vm_named(connect(fresh_vcsim), "DC0_C0_RP0_VM0").config
    assert (config.vmOpNotificationToAppEnabled, config.vmOpNotificationTimeout) == (False, -1)
