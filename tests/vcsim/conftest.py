"""pyvmomi connections to the simulators of tests/vcsim (real SOAP over loopback)."""

from __future__ import annotations

from typing import Any, Iterator

import pytest
from pyVim.connect import Disconnect, SmartConnect

from simulator.vcenter.vcsim import VcsimEndpoint
from tests.vcsim.vsphere import Connect


@pytest.fixture
def connect() -> Iterator[Connect]:
    """Open pyvmomi sessions (negotiating the API version as any client does); all closed after the test."""
    sessions: list[Any] = []

    def open_session(endpoint: VcsimEndpoint) -> Any:
        si = SmartConnect(
            host=endpoint.host,
            port=endpoint.port,
            user=endpoint.username,
            pwd=endpoint.password,
            disableSslCertValidation=True,  # the simulator's certificate is self-signed
        )
        sessions.append(si)
        return si

    yield open_session
    for si in sessions:
        Disconnect(si)
