"""pytest plugin (entry point ``pytest11``): the fixtures users need to test a vMotion notification handler.

Fixtures
--------
``vmotion_sim``
    A :class:`SimulatedVM`: a fresh :class:`~simulator.Simulator` on the real clock, served on a socket of this
    test's own, with the fake ``vmtoolsd``/``vmware-rpctool`` written into ``vmotion_sim.bin_dir``. Read its
    journal and status through ``vmotion_sim.simulator``; drive it with ``vmotion_sim.simulator.vmotion()``.
``vmotion_env``
    The environment for a handler process: ``PATH`` with the fake vmtoolsd first, ``VMOTION_SIM_SOCKET``.
``vmotion_handler``
    A factory: ``vmotion_handler()`` starts the handler command (``--handler-cmd``, else the bundled
    ``vmotion-handler``) against ``vmotion_sim`` with probe hooks, and returns a :class:`HandlerProcess`.
    Every handler it started is stopped after the test, by its pid.
``handler_command``
    The command template in use (see ``--handler-cmd``).
``vcsim``, ``fresh_vcsim``, ``vcsim_factory``, ...
    The vCenter simulator, from ``simulator.pytest_vcsim``.

Options
-------
``--gherkin``
    Run only the Gherkin scenarios, printing each step (pytest-bdd's Gherkin reporter, verbose).
``--handler-cmd 'COMMAND ... {quiesce} ... {unquiesce} ...'``
    Run the handler-behaviour scenarios (tag ``@conformance``) against this command instead of the bundled
    handler, and only those. Placeholders: ``{quiesce}``/``{unquiesce}`` (probe commands that record in the
    simulator when they ran, with what environment, and that a scenario tells to take N seconds or fail),
    ``{state_file}``, ``{state_dir}``, ``{name}``, ``{socket}``, ``{vmtoolsd}`` and ``{python}``.
``--vmotion-speed K`` (or the marker ``@pytest.mark.vmotion_speed(K)``)
    Serve ``vmotion_sim`` on a clock K times faster and start handlers under libfaketime on the same clock
    (``simulator.speed``): production timeouts in 1/K of the wall time.
``--vmotion-report FILE``
    Write each scenario's verdict as JSON (``scenario``, ``passed``, ``reason``, ``timings``); used by
    ``vmotion-sim check``.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import shlex
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any, Callable, Dict, Iterator, List, Optional

import pytest

from simulator.clock import ScaledClock
from simulator.inprocess import Simulator
from simulator.probe import write_probe
from simulator.server import SOCKET_ENV, SimulatorServer
from simulator.shim import write_shims
from simulator.speed import check_program, shared_clock_for

pytest_plugins = ["simulator.pytest_vcsim"]

HOOKS = ("quiesce", "unquiesce")
BUNDLED_HANDLER_CMD = (
    "{python} -m handler --name {name} --interval 0.2 --quiesce {quiesce} --unquiesce {unquiesce} "
    "--state-file {state_file}"
)
PLACEHOLDERS = ("quiesce", "unquiesce", "state_file", "state_dir", "name", "socket", "vmtoolsd", "python")
STOP_TIMEOUT_S = 15.0
SCENARIO_PROPERTY = "vmotion_scenario"  # user property: the scenario's name, for --vmotion-report
MARKERS = (
    "conformance: a handler-behaviour scenario that runs the handler as a process (selected by --handler-cmd)",
    "process: the handler runs as a real process on short real timeouts",
    "virtual: the handler core runs in-process on the simulator's virtual clock",
    "vmotion_speed(k): serve vmotion_sim on a clock k times faster, and run handlers under libfaketime on it",
)


# ---------------------------------------------------------------------------------------------- options


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("vmotion", "vMotion notification harness")
    group.addoption(
        "--gherkin",
        action="store_true",
        default=False,
        help="run only the Gherkin scenarios, printing each step",
    )
    group.addoption(
        "--handler-cmd",
        default=None,
        metavar="COMMAND",
        help="run the handler-behaviour (@conformance) scenarios against this handler command; "
        "{quiesce} and {unquiesce} expand to probe commands (also {state_file} {state_dir} {name} {socket} "
        "{vmtoolsd} {python})",
    )
    group.addoption(
        "--vmotion-speed",
        type=float,
        default=1.0,
        metavar="K",
        help="run the simulated VM's clock, and the handlers started on it (libfaketime), K times faster",
    )
    group.addoption(
        "--vmotion-report",
        default=None,
        metavar="FILE",
        help="write each scenario's verdict (scenario, passed, reason, timings) to FILE as JSON",
    )


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
    report = config.getoption("--vmotion-report")
    if report:
        config.pluginmanager.register(_VerdictReport(Path(report)), "vmotion-verdicts")


def _is_scenario(item: pytest.Item) -> bool:
    return "_pytest_bdd_example" in getattr(item, "fixturenames", ())


def pytest_collection_modifyitems(config: pytest.Config, items: List[pytest.Item]) -> None:
    gherkin = config.getoption("--gherkin")
    handler_cmd = config.getoption("--handler-cmd") is not None
    if not (gherkin or handler_cmd):
        return

    def keep(item: pytest.Item) -> bool:
        if not _is_scenario(item):
            # A user's own tests stay: --handler-cmd reaches them through the vmotion_handler fixture.
            return not gherkin
        # With a handler command, only the scenarios that start the handler from its command line.
        return not handler_cmd or item.get_closest_marker("conformance") is not None

    deselected = [item for item in items if not keep(item)]
    if deselected:
        config.hook.pytest_deselected(items=deselected)
        items[:] = [item for item in items if keep(item)]


# ---------------------------------------------------------------------------------------------- verdicts


def scenario_name(item: pytest.Item) -> str:
    """``Feature: Scenario`` (pytest-bdd's docstring of the test), with the example's id for an outline."""
    doc = (getattr(getattr(item, "obj", None), "__doc__", None) or item.name).strip()
    callspec = getattr(item, "callspec", None)
    return f"{doc} [{callspec.id}]" if callspec is not None and callspec.id else doc


def failure_reason(report: pytest.TestReport) -> str:
    """The first line a reader needs: the failed expectation's message, without pytest's decoration."""
    crash = getattr(report.longrepr, "reprcrash", None)
    text = crash.message if crash is not None else str(report.longrepr)
    for prefix in ("Failed: ", "AssertionError: "):
        if text.startswith(prefix):
            text = text[len(prefix) :]
    lines = [line.strip() for line in text.strip().splitlines() if line.strip()]
    return lines[0] if lines else "failed"


class _VerdictReport:
    """Collects one verdict per scenario across setup, call and teardown, and writes them at the end.

    Under xdist the scenarios run in workers and only their reports reach the controller, which writes the
    file: so everything a verdict needs travels in the report's ``user_properties``.
    """

    def __init__(self, path: Path) -> None:
        self.path = path
        self.verdicts: Dict[str, Dict[str, Any]] = {}

    @pytest.hookimpl(hookwrapper=True)
    def pytest_runtest_makereport(self, item: pytest.Item, call: pytest.CallInfo[None]) -> Iterator[None]:
        if _is_scenario(item) and not any(key == SCENARIO_PROPERTY for key, _ in item.user_properties):
            item.user_properties.append((SCENARIO_PROPERTY, scenario_name(item)))
        yield

    def pytest_runtest_logreport(self, report: pytest.TestReport) -> None:
        name = next((value for key, value in report.user_properties if key == SCENARIO_PROPERTY), None)
        if name is None:
            return
        verdict = self.verdicts.setdefault(
            report.nodeid, {"scenario": name, "passed": True, "reason": "", "timings": {}}
        )
        for key, value in report.user_properties:
            if key == "timing" and isinstance(value, dict):
                verdict["timings"].update(value)
        if report.when == "call":
            verdict["timings"]["total_s"] = round(report.duration, 3)
        if report.failed and verdict["passed"]:
            verdict["passed"] = False
            verdict["reason"] = failure_reason(report)
        elif report.skipped:
            verdict["passed"] = False
            verdict["reason"] = "skipped: " + failure_reason(report)

    def pytest_sessionfinish(self, session: pytest.Session) -> None:
        if hasattr(session.config, "workerinput"):  # an xdist worker: the controller writes the file
            return
        self.path.write_text(json.dumps(list(self.verdicts.values()), indent=2) + "\n")


# ---------------------------------------------------------------------------------------------- the VM


def _short_dir(prefix: str) -> Path:
    """A private scratch directory with a short path: a Unix socket path must stay under 108 bytes."""
    base = tempfile.gettempdir()
    if len(base) > 60:
        base = "/tmp"
    return Path(tempfile.mkdtemp(prefix=prefix, dir=base))


class SimulatedVM:
    """One simulated VM served on its own socket, with the fake vmtoolsd in ``bin_dir``."""

    def __init__(self, simulator: Simulator, directory: Path) -> None:
        self.simulator = simulator
        self.directory = directory
        self.socket = directory / "sim.sock"
        self.bin_dir = directory / "bin"
        self._server = SimulatorServer(simulator, self.socket)
        write_shims(self.bin_dir, self.socket)

    def start(self) -> SimulatedVM:
        self._server.start()
        return self

    def close(self) -> None:
        self._server.close()

    def env(self, base: Optional[Dict[str, str]] = None) -> Dict[str, str]:
        env = dict(os.environ if base is None else base)
        env["PATH"] = str(self.bin_dir) + os.pathsep + env.get("PATH", os.defpath)
        env[SOCKET_ENV] = str(self.socket)
        return env

    # What a test reads: the journal, filtered.
    def rpcs(self, verb: Optional[str] = None) -> List[Dict[str, Any]]:
        return [e for e in self.simulator.journal() if e["kind"] == "rpc" and verb in (None, e.get("verb"))]

    def probes(self, name: Optional[str] = None, phase: Optional[str] = None) -> List[Dict[str, Any]]:
        return [
            e
            for e in self.simulator.journal()
            if e["kind"] == "probe" and name in (None, e["name"]) and phase in (None, e["phase"])
        ]


@pytest.fixture
def vmotion_sim(request: pytest.FixtureRequest) -> Iterator[SimulatedVM]:
    """A simulated VM on the real clock (sped up by ``--vmotion-speed`` or the ``vmotion_speed`` marker),
    served on a socket of this test's own (xdist-safe)."""
    marker = request.node.get_closest_marker("vmotion_speed")
    speed = float(marker.args[0]) if marker else float(request.config.getoption("--vmotion-speed"))
    directory = _short_dir("vmotion-sim-")
    clock = ScaledClock(speed) if speed != 1.0 else None
    vm = SimulatedVM(Simulator(clock, host_timeout=120, migration_seconds=15.0), directory).start()
    try:
        yield vm
    finally:
        vm.close()
        shutil.rmtree(directory, ignore_errors=True)


@pytest.fixture
def vmotion_env(vmotion_sim: SimulatedVM) -> Dict[str, str]:
    """PATH with the fake vmtoolsd first, and VMOTION_SIM_SOCKET: run any handler with this environment."""
    return vmotion_sim.env()


# ---------------------------------------------------------------------------------------------- the handler


def placeholder_problem(template: str) -> Optional[str]:
    """What is wrong with the command's ``{word}``s: a typo such as ``{quiesc}`` must not pass through."""
    for name in re.findall(r"\{([A-Za-z_]\w*)\}", template):
        if name not in PLACEHOLDERS:
            known = ", ".join("{" + known + "}" for known in PLACEHOLDERS)
            return f"unknown placeholder {{{name}}} in the handler command (known: {known})"
    return None


def expand_command(template: str, values: Dict[str, str]) -> List[str]:
    """Split the template like a shell would (no shell runs), then fill the placeholders in each word."""
    words = []
    for word in shlex.split(template):
        for name in PLACEHOLDERS:
            word = word.replace("{" + name + "}", values[name])
        words.append(word)
    return words


class HandlerProcess:
    """A handler started from its command line against a simulated VM; its output goes to ``log_path``."""

    def __init__(self, argv: List[str], env: Dict[str, str], directory: Path, state_file: Path, cwd: Path) -> None:
        self.argv = argv
        self.env = env
        self.directory = directory
        self.cwd = cwd
        self.state_file = state_file
        self.log_path = directory / "handler.log"
        self.process: Optional[subprocess.Popen[bytes]] = None

    def start(self) -> HandlerProcess:
        with self.log_path.open("ab") as log:
            try:
                self.process = subprocess.Popen(
                    self.argv, env=self.env, cwd=self.cwd, stdin=subprocess.DEVNULL, stdout=log, stderr=log
                )
            except OSError as err:
                raise RuntimeError(f"cannot start the handler {self.argv[0]!r}: {err.strerror or err}") from None
        return self

    @property
    def pid(self) -> int:
        assert self.process is not None, "the handler was not started"
        return self.process.pid

    @property
    def exit_code(self) -> Optional[int]:
        return None if self.process is None else self.process.poll()

    def running(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def send_signal(self, signum: int) -> None:
        if self.running():
            os.kill(self.pid, signum)

    def wait(self, timeout: float) -> Optional[int]:
        """The exit status, or None if still running after ``timeout`` seconds."""
        if self.process is None:
            return None
        try:
            return self.process.wait(timeout)
        except subprocess.TimeoutExpired:
            return None

    def stop(self, signum: int = signal.SIGTERM, timeout: float = STOP_TIMEOUT_S) -> Optional[int]:
        """Send ``signum`` and wait; a handler that does not exit in time is killed (and None returned)."""
        if not self.running():
            return self.exit_code
        self.send_signal(signum)
        code = self.wait(timeout)
        if code is None:
            self.kill()
        return code

    def kill(self) -> None:
        if self.running():
            os.kill(self.pid, signal.SIGKILL)
            assert self.process is not None
            self.process.wait()

    def log(self) -> str:
        try:
            return self.log_path.read_text(errors="replace")
        except FileNotFoundError:
            return ""


class HandlerLauncher:
    """Starts the handler command with probe hooks bound to one simulated VM; stops everything it started."""

    def __init__(self, template: str, vm: SimulatedVM, name: str = "conformance", cwd: Optional[Path] = None) -> None:
        self.template = template
        self.cwd = cwd or Path.cwd()  # relative paths in the command mean what they meant to whoever gave it
        self.vm = vm
        self.name = name
        self.state_dir = vm.directory / "state"
        self.state_file = self.state_dir / "state.json"
        self.started: List[HandlerProcess] = []
        self._behaviour = {hook: vm.directory / f"{hook}-behaviour.json" for hook in HOOKS}
        self._baseline = vm.directory / "handler-env.json"
        self._env = vm.env()
        self._shared = shared_clock_for(vm.simulator.clock)  # at speed: handlers run on the simulator's clock
        if self._shared is not None:
            self._env = self._shared.env(self._env)
        self._baseline.write_text(json.dumps(self._env))
        self.probe_paths = {
            hook: write_probe(vm.bin_dir, hook, vm.socket, self._behaviour[hook], self._baseline) for hook in HOOKS
        }
        for hook in HOOKS:
            self.behave(hook)

    def behave(self, hook: str, seconds: float = 0.0, exit_code: int = 0) -> None:
        """What the next runs of ``hook`` do: take ``seconds`` (real time), then exit with ``exit_code``."""
        self._behaviour[hook].write_text(json.dumps({"seconds": seconds, "exit_code": exit_code}))

    def argv(self) -> List[str]:
        values = {
            "quiesce": str(self.probe_paths["quiesce"]),
            "unquiesce": str(self.probe_paths["unquiesce"]),
            "state_file": str(self.state_file),
            "state_dir": str(self.state_dir),
            "name": self.name,
            "socket": str(self.vm.socket),
            "vmtoolsd": str(self.vm.bin_dir / "vmtoolsd"),
            "python": sys.executable,
        }
        return expand_command(self.template, values)

    def __call__(self) -> HandlerProcess:
        self.state_dir.mkdir(mode=0o700, exist_ok=True)
        argv = self.argv()
        if self._shared is not None:
            check_program(argv, self._env)
        proc = HandlerProcess(argv, dict(self._env), self.vm.directory, self.state_file, self.cwd)
        self.started.append(proc)
        return proc.start()

    def close(self) -> None:
        for proc in self.started:
            if proc.running():
                proc.stop(signal.SIGTERM, timeout=5.0)
        self._kill_leftover_probes()
        if self._shared is not None:
            self._shared.close()

    def _kill_leftover_probes(self) -> None:
        """A handler killed with SIGKILL leaves its hook running: end the probes this VM saw start."""
        with contextlib.suppress(Exception):
            pids = {int(e["pid"]) for e in self.vm.probes(phase="started") if "pid" in e}
            for pid in pids:
                if _is_our_probe(pid, self.vm.bin_dir):
                    with contextlib.suppress(ProcessLookupError, PermissionError):
                        os.kill(pid, signal.SIGKILL)


def _is_our_probe(pid: int, bin_dir: Path) -> bool:
    """Guard against a recycled pid: only a process running one of our probe files is ours."""
    try:
        cmdline = Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return False
    return str(bin_dir).encode() in cmdline


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


def wait_until(predicate: Callable[[], Any], timeout: float, interval: float = 0.02) -> Any:
    """Poll ``predicate`` (real time) until it returns something truthy; that value, or None at ``timeout``."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() >= deadline:
            return None
        time.sleep(interval)  # polling an observable, not waiting out a timeout
