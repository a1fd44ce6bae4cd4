"""pytester runs pytest inside these tests. ``pytest_plugins = ["pytester"]`` is refused in a conftest below
the rootdir when the whole suite runs, so the plugin is loaded here when this directory is collected."""

from __future__ import annotations

import pytest


def pytest_configure(config: pytest.Config) -> None:
    if not config.pluginmanager.has_plugin("pytester"):
        config.pluginmanager.import_plugin("pytester")
