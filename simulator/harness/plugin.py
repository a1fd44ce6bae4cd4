"""pytest plugin (entry point ``pytest11``): fixtures to test a vMotion notification handler, set by a marker.

Fixtures
--------
``vmotion_sim``
    A :class:`~simulator.harness.vm.SimulatedVM`: a fresh :class:`~simulator.Simulator` on the real clock,
    served on a socket of this test's own, with the fake ``vmtoolsd``/``vmware-rpctool`` in ``.bin_dir``.
    Its settings come from the marker: ``@pytest.mark.vmotion_sim(host_timeout=10, migration_seconds=1)``
    (any keyword of ``Simulator``; default a 120 s host timeout and 15 s migrations). With
    ``@pytest.mark.vmotion_speed(K)`` (or ``--vmotion-speed K``) its clock runs K times faster, and the
    handlers ``vmotion_handler`` starts run under libfaketime on the same clock (:mod:`simulator.speed`):
    production timeouts in 1/K of the wall time.
``vmotion_env``
    The environment for a handler process: ``PATH`` with the fake vmtoolsd first, ``VMOTION_SIM_SOCKET``.
``vmotion_handler``
    A :class:`~simulator.harness.launcher.HandlerLauncher`: ``vmotion_handler()`` starts the handler command
    (``--handler-cmd``, else the bundled ``vmotion-handler``) against ``vmotion_sim`` with probe hooks;
    ``.behave("quiesce", seconds=5)``. Every handler it started is stopped after the test, by its pid.
``handler_command``
    The command template in use (see ``--handler-cmd``).
``vcsim``, ``fresh_vcsim``, ``vcsim_factory``, ...
    The vCenter simulator, from ``simulator.vcenter.fixtures``.

Options
-------
``--gherkin``
    Run only the Gherkin scenarios, printing each step (pytest-bdd's Gherkin reporter, verbose).
``--handler-cmd 'COMMAND ... {quiesce} ... {unquiesce} ...'``
    Run the handler-behaviour scenarios (tag ``@conformance``) and the ``vmotion_handler`` fixture against this
    command instead of the bundled handler. Placeholders: see :mod:`simulator.harness.launcher`.
``--vmotion-speed K``
    Every ``vmotion_sim`` of the run K times faster (a ``vmotion_speed`` marker takes precedence).
``--vmotion-report FILE``
    Write each scenario's verdict as JSON, with its journal and the handler's log; used by ``vmotion-sim check``.
``--vmotion-knob NAME=VALUE`` (repeatable)
    Pin a simulator knob for every simulated VM of the run (``vmotion-sim knobs`` lists them).
"""

from __future__ import annotations

import dataclasses
import shlex
import shutil
from pathlib import Path
from typing import Any, Dict, Iterator, List, Optional

import pytest

from simulator.clock import ScaledClock
from simulator.harness.launcher import BUNDLED_HANDLER_CMD, HandlerLauncher, placeholder_problem
from simulator.harness.report import HANDLER_LOG_PROPERTY, JOURNAL_PROPERTY, VerdictReport, is_scenario
from simulator.harness.vm import SimulatedVM, short_dir
from simulator.model.knobs import Knobs, parse_knob_assignments

pytest_plugins = ["simulator.vcenter.fixtures"]

MARKER = "vmotion_sim"
SPEED_MARKER = "vmotion_speed"
PINNED_KNOBS = pytest.StashKey[Dict[str, Any]]()
DEFAULT_SETTINGS = {"host_timeout": 120, "migration_seconds": 15.0}
MARKERS = (
    f"{MARKER}(**settings): the simulated VM's settings (host_timeout, vm_timeout, migration_seconds, knobs, ...)",
    "conformance: a handler-behaviour scenario that runs the handler as a process (selected by --handler-cmd)",
    "process: the handler runs as a real process on short real timeouts",
    "virtual: the handler core runs in-process on the simulator's virtual clock",
    f"{SPEED_MARKER}(k): serve vmotion_sim on a clock k times faster, and run handlers under libfaketime on it",
)


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("vmotion", "vMotion notification harness")
    group.addoption("--gherkin", action="store_true", default=False,
                    help="run only the Gherkin scenarios, printing each step")
    group.addoption("--handler-cmd", default=None, metavar="COMMAND",
                    help="run the handler-behaviour (@conformance) scenarios against this handler command; "
                    "{quiesce} and {unquiesce} expand to probe commands (also {state_file} {state_dir} {name} "
                    "{socket} {vmtoolsd} {python})")
    group.addoption("--vmotion-speed", type=float, default=1.0, metavar="K",
                    help="run the simulated VM's clock, and the handlers started on it (libfaketime), K times faster")
    group.addoption("--vmotion-report", default=None, metavar="FILE",
                    help="write each scenario's verdict (scenario, passed, reason, timings) to FILE as JSON")
    group.addoption("--vmotion-knob", action="append", default=[], metavar="NAME=VALUE",
                    help="pin a simulator knob for every simulated VM (repeatable)")


def pytest_configure(config: pytest.Config) -> None:
    for line in MARKERS:
        config.addinivalue_line("markers", line)
    if config.getoption("--gherkin"):
        # pytest-bdd configures its reporter after us (trylast): switching its option on here is enough.
        config.option.gherkin_terminal_reporter = True
        config.option.verbose = max(int(config.option.verbose), 2)  # 2: every step is printed
    command = config.getoption("--handler-cmd")
    if command is not None:
        try:
            words = shlex.split(command)
        except ValueError as bad:
            raise pytest.UsageError(f"--handler-cmd: cannot split the command: {bad}") from None
        if not words:
            raise pytest.UsageError("--handler-cmd: the command is empty")
        problem = placeholder_problem(command)
        if problem:
            raise pytest.UsageError(f"--handler-cmd: {problem}")
    try:
        config.stash[PINNED_KNOBS] = parse_knob_assignments(config.getoption("--vmotion-knob"))
        Knobs(**config.stash[PINNED_KNOBS])
    except (TypeError, ValueError) as bad:
        raise pytest.UsageError(f"--vmotion-knob: {bad}") from None
    report = config.getoption("--vmotion-report")
    if report:
        config.pluginmanager.register(VerdictReport(Path(report)), "vmotion-verdicts")


def pytest_collection_modifyitems(config: pytest.Config, items: List[pytest.Item]) -> None:
    gherkin = config.getoption("--gherkin")
    handler_cmd = config.getoption("--handler-cmd") is not None
    if not (gherkin or handler_cmd):
        return

    def keep(item: pytest.Item) -> bool:
        if not is_scenario(item):
            # A user's own tests stay: --handler-cmd reaches them through the vmotion_handler fixture.
            return not gherkin
        # With a handler command, only the scenarios that start the handler from its command line.
        return not handler_cmd or item.get_closest_marker("conformance") is not None

    deselected = [item for item in items if not keep(item)]
    if deselected:
        config.hook.pytest_deselected(items=deselected)
        items[:] = [item for item in items if keep(item)]


def reporting(config: pytest.Config) -> bool:
    """Scenarios keep their journal and handler log only for a verdict file (``vmotion-sim check``)."""
    return bool(config.getoption("--vmotion-report"))


@pytest.fixture
def vmotion_sim(request: pytest.FixtureRequest) -> Iterator[SimulatedVM]:
    """A simulated VM on the real clock (sped up by the ``vmotion_speed`` marker or ``--vmotion-speed``),
    served on a socket of this test's own (xdist-safe)."""
    marker = request.node.get_closest_marker(MARKER)
    settings = {**DEFAULT_SETTINGS, **(marker.kwargs if marker is not None else {})}
    speed_marker = request.node.get_closest_marker(SPEED_MARKER)
    speed = float(speed_marker.args[0]) if speed_marker else float(request.config.getoption("--vmotion-speed"))
    if speed != 1.0:
        settings["clock"] = ScaledClock(speed)
    pinned = request.config.stash.get(PINNED_KNOBS, {})
    if pinned:  # pinned for the whole run: over whatever the test's marker chose
        settings["knobs"] = dataclasses.replace(settings.get("knobs") or Knobs(), **pinned)
    directory = short_dir("vmotion-sim-")
    vm = SimulatedVM.in_process(directory, **settings).start()
    try:
        yield vm
    finally:
        if reporting(request.config):
            request.node.user_properties.append((JOURNAL_PROPERTY, [e.as_dict() for e in vm.journal()]))
        vm.close()
        shutil.rmtree(directory, ignore_errors=True)


@pytest.fixture
def vmotion_env(vmotion_sim: SimulatedVM) -> Dict[str, str]:
    """PATH with the fake vmtoolsd first, and VMOTION_SIM_SOCKET: run any handler with this environment."""
    return vmotion_sim.env()


@pytest.fixture
def handler_command(request: pytest.FixtureRequest) -> str:
    """The handler command template: ``--handler-cmd``, else the bundled handler."""
    given: Optional[str] = request.config.getoption("--handler-cmd")
    return given if given is not None else BUNDLED_HANDLER_CMD


@pytest.fixture
def vmotion_handler(
    handler_command: str, vmotion_sim: SimulatedVM, request: pytest.FixtureRequest
) -> Iterator[HandlerLauncher]:
    """``vmotion_handler()`` starts the handler against ``vmotion_sim``; all are stopped after the test."""
    launcher = HandlerLauncher(handler_command, vmotion_sim, cwd=Path(request.config.invocation_params.dir))
    try:
        yield launcher
    finally:
        launcher.close()
        if reporting(request.config) and launcher.started:
            request.node.user_properties.append((HANDLER_LOG_PROPERTY, launcher.log()))
