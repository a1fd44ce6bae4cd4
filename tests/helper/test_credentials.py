"""Credentials from the environment: required names, certificate checks on by default, no password leaks."""

from __future__ import annotations

import pytest

from helper.credentials import credentials_from_env
from helper.errors import ExitCode, HelperError

BASE = {"VMWARE_HOST": "vc.example", "VMWARE_USER": "admin", "VMWARE_PASSWORD": "s3cr3t-pw"}


def test_defaults_port_443_and_certificate_checks_on() -> None:
    creds = credentials_from_env(BASE)
    assert (creds.host, creds.port, creds.user, creds.validate_certs) == ("vc.example", 443, "admin", True)
    assert creds.endpoint == "vc.example:443"


@pytest.mark.parametrize(
    ("text", "validate"),
    [("false", False), ("FALSE", False), ("0", False), ("no", False), ("true", True), ("1", True), ("", True)],
)
def test_validate_certs_values(text: str, validate: bool) -> None:
    assert credentials_from_env({**BASE, "VMWARE_VALIDATE_CERTS": text}).validate_certs is validate


def test_an_unreadable_validate_certs_value_is_an_error_not_a_silent_off() -> None:
    with pytest.raises(HelperError) as caught:
        credentials_from_env({**BASE, "VMWARE_VALIDATE_CERTS": "flase"})
    assert caught.value.code == ExitCode.USAGE


@pytest.mark.parametrize("port", ["0", "70000", "https"])
def test_bad_port(port: str) -> None:
    with pytest.raises(HelperError) as caught:
        credentials_from_env({**BASE, "VMWARE_PORT": port})
    assert caught.value.code == ExitCode.USAGE


def test_missing_variables_are_named() -> None:
    with pytest.raises(HelperError) as caught:
        credentials_from_env({"VMWARE_HOST": "vc"})
    assert caught.value.code == ExitCode.USAGE
    assert "VMWARE_USER, VMWARE_PASSWORD" in caught.value.message


def test_password_not_in_repr() -> None:
    assert "s3cr3t-pw" not in repr(credentials_from_env(BASE))
