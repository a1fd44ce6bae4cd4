"""The one place this package imports modules that the restructure (issue 11) moves to ``simulator/harness/``
and ``simulator/transport/``: after the move, only these lines change."""

from __future__ import annotations

from simulator.pytest_plugin import HandlerLauncher, HandlerProcess, SimulatedVM, expand_command
from simulator.server import SimulatorServer
from simulator.shim import write_shims

__all__ = ["HandlerLauncher", "HandlerProcess", "SimulatedVM", "SimulatorServer", "expand_command", "write_shims"]
