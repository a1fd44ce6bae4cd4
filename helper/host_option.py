"""The host advanced option ``VmOpNotificationToApp.Timeout``: read it exactly, write it as a long."""

from __future__ import annotations

from typing import Any, Optional

from helper.vmomi import long_type, vim

OPTION_KEY = "VmOpNotificationToApp.Timeout"  # [protocol.md §8.2; S1, S2, S4]


def read_host_timeout(host: Any) -> Optional[int]:
    """The option's value in seconds, or None when the host has no such option (its real default is 0).

    QueryOptions matches by prefix on some servers, so only the exact key counts. A value that is not an
    integer is reported as None too: the host cannot use it, and writing the option repairs it.
    """
    try:
        options = host.configManager.advancedOption.QueryOptions(name=OPTION_KEY)
    except vim.fault.InvalidName:
        return None
    for option in options or []:
        if option.key == OPTION_KEY and isinstance(option.value, int) and not isinstance(option.value, bool):
            return int(option.value)
    return None


def write_host_timeout(host: Any, seconds: int) -> None:
    """UpdateOptions with an ``xsd:long`` value (a plain int would go out as xsd:int)."""
    option = vim.option.OptionValue(key=OPTION_KEY, value=long_type(seconds))
    host.configManager.advancedOption.UpdateOptions(changedValue=[option])
