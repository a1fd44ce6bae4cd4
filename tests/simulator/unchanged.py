"""One served simulator shared by the tests of a module that must leave it as it was started (usage errors,
refused requests, reads): a ``vmotion-sim serve`` started for each of them was most of their time."""

from __future__ import annotations

from pathlib import Path
from typing import Dict, Iterator

from simulator.harness.vm import SimulatedVM
from simulator.readside import Status
from simulator.transport.client import SimulatorClient

_AS_STARTED: Dict[Path, Status] = {}


def serve_unchanged(directory: Path, *options: str) -> Iterator[SimulatedVM]:
    """For a module-scoped fixture: ``vmotion-sim serve`` with ``options``, its status at start kept."""
    with SimulatedVM.as_process(directory, *options) as vm:
        _AS_STARTED[vm.socket] = SimulatorClient(vm.socket).status()
        yield vm


def assert_unchanged(vm: SimulatedVM) -> None:
    """Still as it was started: nothing registered, requested, faulted, set, knobbed or advanced."""
    assert SimulatorClient(vm.socket).status() == _AS_STARTED[vm.socket]
