"""Which API version drops which field, and the hardware/Tools version formats (pure; no server)."""

from __future__ import annotations

import pytest

from helper.errors import HelperError
from helper.versions import (
    api_too_old_reason,
    dropped_fields,
    parse_api_version,
    parse_hardware_version,
    parse_tools_version,
)


def test_api_versions_compare_numerically_with_padding() -> None:
    assert parse_api_version("7.0") == (7, 0, 0, 0)
    assert parse_api_version("8.0.0.1") > parse_api_version("8.0.0.0")
    assert parse_api_version("8.0.10.0") > parse_api_version("8.0.2.0")
    with pytest.raises(HelperError):
        parse_api_version("eight")


@pytest.mark.parametrize(
    ("version", "dropped"),
    [
        ("6.5", ["vmOpNotificationToAppEnabled", "vmOpNotificationTimeout"]),
        ("7.0.2.1", ["vmOpNotificationToAppEnabled", "vmOpNotificationTimeout"]),
        ("7.0.3.0", ["vmOpNotificationTimeout"]),  # only the flag is sent at 7.0.3.0
        ("8.0.0.0", ["vmOpNotificationTimeout"]),
        ("8.0.0.1", []),
        ("8.0.1.0", []),
    ],
)
def test_fields_dropped_per_negotiated_version(version: str, dropped: list[str]) -> None:
    assert dropped_fields(parse_api_version(version)) == dropped
    reason = api_too_old_reason(parse_api_version(version))
    if dropped:
        assert reason is not None and version in reason and "silently drops" in reason
    else:
        assert reason is None


def test_hardware_version() -> None:
    assert parse_hardware_version("vmx-20") == 20
    assert parse_hardware_version("vmx-13") == 13
    assert parse_hardware_version("") is None
    assert parse_hardware_version("twenty") is None


def test_tools_version_integer_encoding() -> None:
    assert parse_tools_version(12352) == (12, 2, 0)
    assert parse_tools_version("11264") == (11, 0, 0)
    assert parse_tools_version(0) is None  # not installed or not reported
    assert parse_tools_version(None) is None
    assert parse_tools_version("guestToolsNotInstalled") is None
