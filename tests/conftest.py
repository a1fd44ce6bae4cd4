"""Under pytest-xdist, the tests that share one expensive set-up run on one worker, so it is made once.

A session or module fixture is made once per *worker*: were the packaging tests spread over two workers, each
would build the wheel and its venv and run the full check. pyproject's ``--dist loadgroup`` should keep an
``xdist_group`` on one worker, but pytest-xdist 3.8 names the group by rewriting ``item._nodeid``, which
pytest 9.2 no longer reads, so the marker groups nothing. The scheduler below groups by path instead.
"""

from __future__ import annotations

from typing import Any, List, Optional

import pytest

# Where a set-up shared by several tests lives (a path prefix of their node ids) -> the group that runs them.
SHARED_SET_UPS = {
    "tests/packaging/": "packaging",  # the wheel in a fresh venv, the full check, the naive handler's checks
    "tests/benchmarks/test_quick_mode.py::": "benchmarks quick mode",  # one `python -m benchmarks --quick`
    "tests/conformance/test_baseline_gate.py::": "baseline gate",  # one saved baseline, two gated runs
    # the two broken handlers' checks, run at once (the module's other tests spread over the workers)
    "tests/conformance/test_conformance.py::test_check_fails_a_handler_": "conformance checks",
    # the one never-acking soak that both tests read (the session fixture never_acks_soak)
    "tests/speed/test_soak.py::test_a_handler_that_never_acks_is_caught": "never-acks soak",
    "tests/speed/test_soak.py::test_the_soak_writes_junit_and_an_html_report": "never-acks soak",
    "tests/incident/test_incidents.py::": "incident real-time runs",  # five real-time runs, started at once
    "tests/incident/test_compare.py::": "compare recordings",  # four sessions against four servers, at once
}


# Tests that wait seconds of real time on their own (no shared set-up): sent out first, after the groups, so that
# none of them is the last thing a worker does while the other has finished.
LONG_ALONE = ("tests/speed/", "tests/handler/test_kill_campaign.py::", "tests/incident/test_shrink.py::",
              "tests/conformance/test_readme_example.py::", "tests/handler/test_handler_kill.py::")


def pytest_collection_modifyitems(items: List[pytest.Item]) -> None:
    """Long tests first; xdist keeps this order among the tests that share nothing (each worker sorts alike)."""
    items.sort(key=lambda item: not item.nodeid.startswith(LONG_ALONE))


def group_of(nodeid: str) -> Optional[str]:
    return next((group for prefix, group in SHARED_SET_UPS.items() if nodeid.startswith(prefix)), None)


def pytest_xdist_make_scheduler(config: pytest.Config, log: Any) -> Any:
    if config.getoption("dist") != "loadgroup":
        return None
    from xdist.scheduler import LoadGroupScheduling

    class SharedSetUpScheduling(LoadGroupScheduling):  # type: ignore[misc]
        """loadgroup, with the groups of ``SHARED_SET_UPS``; xdist puts the largest groups first."""

        def _split_scope(self, nodeid: str) -> str:
            return group_of(nodeid) or str(super()._split_scope(nodeid))

    return SharedSetUpScheduling(config, log)
