"""The scenarios' fixtures; the step definitions live beside the features in ``steps_*.py``."""

from __future__ import annotations

from pathlib import Path
from typing import Iterator

import pytest

from features.steps_guest import *  # noqa: F403 - pytest-bdd step definitions are fixtures: import them all
from features.steps_handler import *  # noqa: F403
from features.steps_maintenance import *  # noqa: F403
from features.steps_vcenter import *  # noqa: F403
from features.story import Story


@pytest.fixture
def story(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Story]:
    told = Story(request, tmp_path)
    try:
        yield told
    finally:
        told.close()
