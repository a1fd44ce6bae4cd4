"""The scenarios' fixtures; the step definitions live beside the features in ``steps_*.py``."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Callable, Iterator, Optional

import pytest

from features.steps_guest import *  # noqa: F403 - pytest-bdd step definitions are fixtures: import them all
from features.steps_handler import *  # noqa: F403
from features.steps_vcenter import *  # noqa: F403
from features.story import Story


@pytest.fixture
def story(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Story]:
    told = Story(request, tmp_path)
    try:
        yield told
    finally:
        told.close()


KNOWN_BUG = "known_bug"


def pytest_bdd_apply_tag(tag: str, function: Callable[..., Any]) -> Optional[bool]:
    """``@known_bug``: the scenario states what must happen and the bundled handler does not do it yet.

    A strict xfail: it is reported, never counted as passed, and the day the handler is fixed it fails, so
    that the tag is removed rather than forgotten.
    """
    if tag != KNOWN_BUG:
        return None
    pytest.mark.xfail(strict=True, reason="a known bug of the bundled handler; see the scenario")(function)
    return True
