"""The host option VmOpNotificationToApp.Timeout as ESXi 8 answers it, through pyvmomi (protocol.md 8.2)."""

from __future__ import annotations

from typing import Any

import pytest
from pyVmomi import VmomiSupport, vim, vmodl

from simulator.vcenter.vcsim import VcsimEndpoint
from tests.vcsim.vsphere import Connect, find, host_named

pytestmark = pytest.mark.vcsim

KEY = "VmOpNotificationToApp.Timeout"
HOSTS = ["DC0_C0_H0", "DC0_C0_H1", "DC0_C0_H2", "DC0_H0"]
Long = VmomiSupport.vmodlTypes["long"]


def options(si: Any, host: str) -> Any:
    return host_named(si, host).configManager.advancedOption


def timeout_of(si: Any, host: str) -> Any:
    (value,) = options(si, host).QueryOptions(KEY)
    assert value.key == KEY
    return value.value


@pytest.mark.parametrize("host", HOSTS)
def test_present_by_default_as_a_long_zero(vcsim: VcsimEndpoint, connect: Connect, host: str) -> None:
    value = timeout_of(connect(vcsim), host)
    assert type(value) is Long  # xsd:long on the wire, as on ESXi
    assert value == 0


def test_displayed_default_is_a_flag(vcsim_factory: Any, connect: Connect) -> None:
    shown = vcsim_factory("-host-timeout", "1800")
    assert [timeout_of(connect(shown), host) for host in HOSTS] == [1800] * len(HOSTS)


def test_listed_under_its_subtree_and_in_all_options(vcsim: VcsimEndpoint, connect: Connect) -> None:
    manager = options(connect(vcsim), "DC0_C0_H0")
    assert [o.key for o in manager.QueryOptions("VmOpNotificationToApp.")] == [KEY]
    assert KEY in [o.key for o in manager.QueryOptions("")]
    assert KEY in [o.key for o in manager.setting]


@pytest.mark.parametrize("seconds", [0, 1, 120, 2**40])
def test_a_long_at_or_above_zero_is_stored_on_that_host_only(
    fresh_vcsim: VcsimEndpoint, connect: Connect, seconds: int
) -> None:
    options(connect(fresh_vcsim), "DC0_C0_H1").UpdateOptions(
        changedValue=[vim.option.OptionValue(key=KEY, value=Long(seconds))]
    )
    si = connect(fresh_vcsim)
    assert timeout_of(si, "DC0_C0_H1") == seconds
    assert [timeout_of(si, h) for h in HOSTS if h != "DC0_C0_H1"] == [0, 0, 0]


@pytest.mark.parametrize(
    "bad",
    [pytest.param(60, id="xsd:int"), pytest.param("60", id="string"), pytest.param(Long(-1), id="negative")],
)
def test_anything_but_a_long_at_or_above_zero_is_refused(
    fresh_vcsim: VcsimEndpoint, connect: Connect, bad: Any
) -> None:
    manager = options(connect(fresh_vcsim), "DC0_C0_H0")
    manager.UpdateOptions(changedValue=[vim.option.OptionValue(key=KEY, value=Long(30))])
    with pytest.raises(vmodl.fault.InvalidArgument) as raised:
        manager.UpdateOptions(changedValue=[vim.option.OptionValue(key=KEY, value=bad)])
    assert raised.value.invalidProperty == KEY
    assert timeout_of(connect(fresh_vcsim), "DC0_C0_H0") == 30


def test_a_refused_change_leaves_the_others_of_its_request_unapplied(
    fresh_vcsim: VcsimEndpoint, connect: Connect
) -> None:
    manager = options(connect(fresh_vcsim), "DC0_C0_H0")
    with pytest.raises(vmodl.fault.InvalidArgument):
        manager.UpdateOptions(
            changedValue=[
                vim.option.OptionValue(key="Config.HostAgent.log.level", value="verbose"),
                vim.option.OptionValue(key=KEY, value="soon"),
            ]
        )
    (level,) = manager.QueryOptions("Config.HostAgent.log.level")
    assert level.value == "info"


def test_query_of_an_unknown_name_raises_invalid_name(vcsim: VcsimEndpoint, connect: Connect) -> None:
    manager = options(connect(vcsim), "DC0_C0_H0")
    with pytest.raises(vim.fault.InvalidName) as raised:
        manager.QueryOptions("VmOpNotificationToApp.Timeou")  # a prefix is not a name
    assert raised.value.name == "VmOpNotificationToApp.Timeou"


def test_update_of_an_unknown_name_raises_invalid_name_and_creates_nothing(
    fresh_vcsim: VcsimEndpoint, connect: Connect
) -> None:
    manager = options(connect(fresh_vcsim), "DC0_C0_H0")
    with pytest.raises(vim.fault.InvalidName):
        manager.UpdateOptions(changedValue=[vim.option.OptionValue(key="VmOpNotification.Timeout", value=Long(5))])
    with pytest.raises(vim.fault.InvalidName):
        manager.QueryOptions("VmOpNotification.Timeout")


def test_vcenter_settings_are_not_host_options(vcsim: VcsimEndpoint, connect: Connect) -> None:
    si = connect(vcsim)
    with pytest.raises(vim.fault.InvalidName):
        si.content.setting.QueryOptions(KEY)
    assert find(si, vim.Datacenter, "DC0").name == "DC0"
