"""The test harness: a simulated VM served for a handler, the handler launcher, waiting, and journal queries.

    from simulator.harness import SimulatedVM, HandlerLauncher, Journal, wait_until

Standard library only, except ``plugin`` (the pytest fixtures) and ``scenarios`` (pytest-bdd): the ``[check]``
extra.
"""

from simulator.harness.journal import Journal
from simulator.harness.launcher import BUNDLED_HANDLER_CMD, HandlerLauncher, HandlerProcess
from simulator.harness.vm import SimulatedVM
from simulator.harness.wait import wait_until

__all__ = ["BUNDLED_HANDLER_CMD", "HandlerLauncher", "HandlerProcess", "Journal", "SimulatedVM", "wait_until"]
