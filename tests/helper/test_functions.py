"""The helper's Python API (``helper.commands`` over a ``Session``), as a script author would use it."""

from __future__ import annotations

from typing import Callable

import pytest

from helper import commands
from helper.connection import Session
from helper.credentials import credentials_from_env
from helper.errors import ExitCode, HelperError
from simulator.vcenter.vcsim import VcsimEndpoint
from tests.helper.readback import Readback

pytestmark = pytest.mark.vcsim
VM = "DC0_C0_RP0_VM0"


def test_round_trip_through_the_functions(fresh_vcsim: VcsimEndpoint, readback: Callable[..., Readback]) -> None:
    check = readback(fresh_vcsim)
    with Session.open(credentials_from_env(fresh_vcsim.env())) as session:
        assert session.api_version >= (8, 0, 0, 1)
        report = commands.vm_command(session, VM, enable=True, timeout=0)
        assert report.changed and report.after.timeout == 0
        assert check.vm_fields(VM) == (True, 0)
        assert not commands.vm_command(session, VM, enable=True, timeout=0).changed

        cluster = commands.cluster_command(session, "DC0_C0", timeout=45)
        assert [h.after for h in cluster.hosts] == [45, 45, 45]
        assert [check.host_timeout(h.host) for h in cluster.hosts] == [45, 45, 45]

        verdict = commands.check_command(session, VM)
        assert verdict.works and verdict.result.effective_timeout == 45


def test_a_value_the_server_refuses_is_a_server_fault(vcsim: VcsimEndpoint) -> None:
    """The CLI rejects -5 itself; called directly, the server's InvalidArgument comes back as exit code 8."""
    with Session.open(credentials_from_env(vcsim.env())) as session:
        before = commands.host_command(session, "DC0_H0").after
        with pytest.raises(HelperError) as caught:
            commands.host_command(session, "DC0_H0", -5)
        assert caught.value.code == ExitCode.SERVER_FAULT
        assert "InvalidArgument" in caught.value.one_line()
        assert "\n" not in caught.value.one_line()
        assert commands.host_command(session, "DC0_H0").after == before
