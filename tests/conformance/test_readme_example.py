"""The README's example of testing a handler with the plugin's fixtures is itself a test: run it as a user would."""

from __future__ import annotations

import shlex
import sys
from pathlib import Path

import pytest

from tests.conformance.deadlines import at_speed

README = (Path(__file__).parents[2] / "README.md").read_text()


def _example() -> str:
    section = README.split("### Fixtures for your own test suite", 1)[1]
    return section.split("```python", 1)[1].split("```", 1)[0]


def test_the_readme_fixture_example_passes_against_the_bundled_handler(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(test_from_readme=_example())
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider", "-q")
    result.assert_outcomes(passed=1)


def test_the_readme_fixture_example_fails_against_a_handler_that_never_acks(pytester: pytest.Pytester) -> None:
    # Only the example's 10-s deadline has to pass: at speed where the machine can, so it passes in a second.
    broken = Path(__file__).with_name("broken_handler.py")
    pytester.makepyfile(test_from_readme=_example())
    command = f"{shlex.quote(sys.executable)} {broken} --flaw never-acks --quiesce {{quiesce}} --unquiesce {{unquiesce}}"
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider", "-q", "--handler-cmd", command, *at_speed())
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(["*assert*acked*"])  # failed where the example checks the ack, not elsewhere
