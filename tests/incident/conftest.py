"""The regression-test runs (test_feature, test_readme) run pytest with pytester; loaded as in tests/conformance."""

from __future__ import annotations

import pytest


def pytest_configure(config: pytest.Config) -> None:
    if not config.pluginmanager.has_plugin("pytester"):
        config.pluginmanager.import_plugin("pytester")
