"""The timeout rules and the values a user may type (pure; no server)."""

from __future__ import annotations

import pytest

from helper.errors import ExitCode, HelperError
from helper.timeouts import (
    LONG_MAX,
    VM_TIMEOUT_UNSET,
    describe_vm_timeout,
    effective_timeout,
    parse_host_timeout,
    parse_vm_timeout,
)


@pytest.mark.parametrize(
    ("host", "vm", "expected"),
    [
        (120, None, 120),  # VM unset: the host decides
        (120, -1, 120),  # -1 is how a real vCenter reports unset
        (120, 0, 120),  # 0 is not "> 0": the host decides
        (120, 60, 60),  # the smaller wins
        (60, 120, 60),
        (0, 60, 0),  # a host at 0 disables, whatever the VM says
        (None, 60, 0),  # an absent option is its real default, 0
        (None, None, 0),
    ],
)
def test_effective_timeout_is_min_of_host_and_a_set_positive_vm_value(
    host: int | None, vm: int | None, expected: int
) -> None:
    assert effective_timeout(host, vm) == expected


@pytest.mark.parametrize(("text", "value"), [("0", 0), ("120", 120), (" 7 ", 7), (str(LONG_MAX), LONG_MAX)])
def test_host_timeout_accepts_zero_and_any_long(text: str, value: int) -> None:
    assert parse_host_timeout(text) == value


@pytest.mark.parametrize("text", ["-1", "abc", "1.5", "", str(LONG_MAX + 1), "unset"])
def test_host_timeout_rejects_what_is_not_a_long_of_zero_or_more(text: str) -> None:
    with pytest.raises(HelperError) as caught:
        parse_host_timeout(text)
    assert caught.value.code == ExitCode.USAGE
    assert "host timeout" in caught.value.message


@pytest.mark.parametrize(
    ("text", "value"), [("0", 0), ("90", 90), ("unset", VM_TIMEOUT_UNSET), ("UNSET", -1), ("-1", -1)]
)
def test_vm_timeout_accepts_zero_seconds_and_unset(text: str, value: int) -> None:
    assert parse_vm_timeout(text) == value


@pytest.mark.parametrize("text", ["-2", "x", "10s", str(LONG_MAX + 1)])
def test_vm_timeout_rejects_other_values(text: str) -> None:
    with pytest.raises(HelperError) as caught:
        parse_vm_timeout(text)
    assert caught.value.code == ExitCode.USAGE


def test_describe_vm_timeout_shows_zero_as_a_value_and_negative_as_unset() -> None:
    assert describe_vm_timeout(0) == "0"
    assert describe_vm_timeout(-1) == "unset"
    assert describe_vm_timeout(None) == "unset"
