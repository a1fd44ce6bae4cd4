from __future__ import annotations

import logging
from pathlib import Path
from typing import Iterator

import pytest

from handler.state import FileStateStore
from simulator import ManualClock, Simulator
from simulator.harness.virtual import T0, ScriptedHooks, VirtualTime
from tests.handler.rig import Rig


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock(start=T0)


@pytest.fixture
def timeline(clock: ManualClock) -> VirtualTime:
    return VirtualTime(clock)


@pytest.fixture
def sim(clock: ManualClock) -> Simulator:
    return Simulator(clock=clock, host_timeout=120, migration_seconds=15.0, seed=7)


@pytest.fixture
def hooks(timeline: VirtualTime) -> ScriptedHooks:
    return ScriptedHooks(timeline)


@pytest.fixture
def state_path(tmp_path: Path) -> Path:
    return tmp_path / "state" / "state.json"


@pytest.fixture
def store(state_path: Path) -> FileStateStore:
    return FileStateStore(str(state_path))


@pytest.fixture(autouse=True)
def _handler_logs(caplog: pytest.LogCaptureFixture) -> Iterator[None]:
    # setup_logging (used by some tests) detaches the daemon's logger from the root; put it back after.
    logger = logging.getLogger("vmotion_handler")
    caplog.set_level(logging.DEBUG, logger="vmotion_handler")
    yield
    logger.handlers.clear()
    logger.propagate = True


@pytest.fixture
def rig(tmp_path: Path) -> Iterator[Rig]:
    """The end-to-end rig (tests/handler/rig.py); every process it started is stopped after the test."""
    r = Rig(tmp_path)
    try:
        yield r
    finally:
        r.stop_all()
