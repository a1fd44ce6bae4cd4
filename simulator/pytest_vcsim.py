"""pytest fixtures for the vCenter simulator (``vcsim/``), loaded by ``simulator.pytest_plugin``.

Fixtures
--------
``vcsim``
    Session-scoped :class:`~simulator.vcsim.VcsimEndpoint`: ``--vcsim-url``/``VCSIM_URL`` if given, else the
    container through testcontainers when a Docker engine answers, else the native binary. Shared by every
    test of the session (of the xdist worker): use it for reads, or for changes a later test cannot trip on.
``vcsim_container`` / ``vcsim_native``
    Session-scoped, forced onto one path (for the tests that prove each path works).
``fresh_vcsim``
    Function-scoped: a new native simulator process with the default inventory, for a test that changes
    state. A process starts in a fraction of a second, and each xdist worker starts its own on its own port.
    Falls back to a fresh container when no binary can be had. It never uses ``--vcsim-url`` (an external
    simulator cannot be reset).
``vcsim_factory``
    Function-scoped callable ``vcsim_factory(*flags) -> VcsimEndpoint`` that starts a native simulator with
    extra flags, e.g. ``vcsim_factory("-api-version", "7.0.3.0")`` for a vCenter too old for the timeout
    field, or ``vcsim_factory("-host-timeout", "120", "-host", "2")``. All are stopped after the test.

When no simulator can be had the test is skipped with the reasons; ``VMOTION_REQUIRE_VCSIM=1`` or ``CI=true``
(set by every CI system) makes that a failure, and ``VMOTION_REQUIRE_VCSIM=0`` a skip again.
``endpoint.env()`` gives ``VMWARE_HOST``, ``VMWARE_PORT``, ``VMWARE_USER``,
``VMWARE_PASSWORD`` and ``VMWARE_VALIDATE_CERTS=false`` for a subprocess.

Default inventory (govmomi's vCenter model; ``-dc``, ``-cluster``, ``-host``, ``-standalone-host``, ``-vm``
change the counts, names follow the same pattern)
------------------------------------------------------------------------------------------------------------
* datacenter ``DC0``; cluster ``DC0_C0`` with hosts ``DC0_C0_H0``, ``DC0_C0_H1``, ``DC0_C0_H2``;
  standalone host ``DC0_H0`` (its compute resource is also named ``DC0_H0``);
* VMs ``DC0_C0_RP0_VM0`` and ``DC0_C0_RP0_VM1`` (cluster resource pool; govmomi places each on one of the
  cluster's hosts: read ``vm.runtime.host`` rather than assuming which), ``DC0_H0_VM0`` and ``DC0_H0_VM1`` (on
  the standalone host); all powered on;
* datastore ``LocalDS_0``, distributed switch ``DC0_DVS`` with port group ``DC0_DVPG0``, network
  ``VM Network``; login ``user`` / ``pass``.

What this simulator adds to govmomi's (see ``vcsim/``): API ``8.0.1.0`` advertised; VMs at hardware
``vmx-20`` with Tools 12389 (12.3.5) running; ``vm.config.vmOpNotificationToAppEnabled`` (``False`` until set)
and ``vm.config.vmOpNotificationTimeout`` (``-1`` until set, 0 stored as 0) stored by ``ReconfigVM_Task``;
each host has its own ``VmOpNotificationToApp.Timeout`` option, ``0`` by default, an ``xsd:long``; only a
long >= 0 is accepted (else ``InvalidArgument``), unknown option names raise ``InvalidName``;
``RelocateVM_Task(spec.host=...)`` moves the VM between hosts (``vm.runtime.host`` and ``host.vm``).
"""

from __future__ import annotations

import contextlib
import os
from pathlib import Path
from typing import Callable, Iterator, NoReturn, Optional

import pytest

from simulator.vcsim import (
    VcsimEndpoint,
    VcsimUnavailable,
    build_binary,
    provide,
    start_container,
    start_native,
)

REQUIRE_ENV = "VMOTION_REQUIRE_VCSIM"

VcsimFactory = Callable[..., VcsimEndpoint]


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("vcsim", "vCenter simulator")
    group.addoption(
        "--vcsim-url",
        default=None,
        help="use this running simulator (https://user:pass@127.0.0.1:PORT/sdk) for the vcsim fixture "
        "instead of starting one (also VCSIM_URL)",
    )


def pytest_configure(config: pytest.Config) -> None:
    # Declared here too, so that suites outside this repository can select on them with --strict-markers.
    for line in (
        "vcsim: needs the vCenter simulator (container or native binary)",
        "container: must use the vcsim container path",
        "native: must use the native vcsim binary path",
    ):
        config.addinivalue_line("markers", line)


def required_by() -> Optional[str]:
    """Why a missing simulator is a failure here (``VMOTION_REQUIRE_VCSIM=1``, or ``CI=true`` as every CI system
    sets it), or None: a skip. ``VMOTION_REQUIRE_VCSIM=0`` says a skip is wanted, even on CI."""
    required = os.environ.get(REQUIRE_ENV)
    if required in ("0", "1"):
        return f"{REQUIRE_ENV}=1" if required == "1" else None
    ci = os.environ.get("CI", "")
    return f"CI={ci}" if ci.lower() in ("true", "1") else None


def _unavailable(reason: str) -> NoReturn:
    why = required_by()
    if why:
        pytest.fail(f"{reason} ({why})", pytrace=False)
    pytest.skip(reason)


@pytest.fixture(scope="session")
def vcsim(request: pytest.FixtureRequest) -> Iterator[VcsimEndpoint]:
    """The session's simulator: an existing URL, else the container, else the native binary."""
    url: Optional[str] = request.config.getoption("--vcsim-url")
    with contextlib.ExitStack() as stack:
        try:
            endpoint = stack.enter_context(provide(url))
        except VcsimUnavailable as e:
            _unavailable(str(e))
        yield endpoint


@pytest.fixture(scope="session")
def vcsim_container() -> Iterator[VcsimEndpoint]:
    """A simulator in a container started through testcontainers (skipped without a Docker engine)."""
    with contextlib.ExitStack() as stack:
        try:
            endpoint = stack.enter_context(start_container())
        except VcsimUnavailable as e:
            _unavailable(f"vcsim container: {e}")
        yield endpoint


@pytest.fixture(scope="session")
def vcsim_binary() -> Path:
    """The native simulator binary, built (or reused) once per session and worker."""
    try:
        return build_binary()
    except VcsimUnavailable as e:
        _unavailable(f"vcsim binary: {e}")


@pytest.fixture(scope="session")
def vcsim_native(vcsim_binary: Path) -> Iterator[VcsimEndpoint]:
    """A simulator run from the native binary as a child process."""
    with start_native(vcsim_binary) as endpoint:
        yield endpoint


@pytest.fixture
def vcsim_factory(request: pytest.FixtureRequest) -> Iterator[VcsimFactory]:
    """Start simulators with extra flags for this test; all are stopped when it ends."""
    with contextlib.ExitStack() as stack:

        def start(*flags: str) -> VcsimEndpoint:
            try:
                binary = request.getfixturevalue("vcsim_binary")
            except (pytest.skip.Exception, pytest.fail.Exception):
                # No binary here (a skip, or a failure where a simulator is required): a container takes the
                # same flags, it is only slower to start; only when it cannot run either is that the verdict.
                try:
                    return stack.enter_context(start_container(flags))
                except VcsimUnavailable as e:
                    _unavailable(f"no fresh vcsim: no binary, and container: {e}")
            return stack.enter_context(start_native(binary, flags))

        yield start


@pytest.fixture
def fresh_vcsim(vcsim_factory: VcsimFactory) -> VcsimEndpoint:
    """A simulator of this test's own with the default inventory, for tests that change state."""
    return vcsim_factory()
