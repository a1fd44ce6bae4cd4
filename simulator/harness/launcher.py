"""The one handler launcher: starts a handler from its command line against a simulated VM, with probe hooks.

The command is a template (``--handler-cmd``, ``vmotion-sim check -- ...``): split like a shell would (no shell
runs), then each word's placeholders filled: ``{quiesce}``/``{unquiesce}`` (probe commands that record in the
simulator's journal when they ran and with which environment, and that a test tells to take N seconds or
fail), ``{handler}`` (the bundled ``vmotion-handler``, ours whatever the current directory holds),
``{state_file}``, ``{state_dir}``, ``{name}``, ``{socket}``, ``{vmtoolsd}`` and ``{python}``.
Everything it started is stopped by its pid. Standard library only.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import shlex
import signal
import subprocess
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Dict, List, Optional

from simulator.harness.ours import write_launcher
from simulator.harness.probe import write_probe
from simulator.harness.vm import SimulatedVM

if TYPE_CHECKING:
    from simulator.speed import SharedClock

HOOKS = ("quiesce", "unquiesce")
BUNDLED_HANDLER_CMD = (
    "{handler} --name {name} --interval 0.2 --quiesce {quiesce} --unquiesce {unquiesce} --state-file {state_file}"
)
PLACEHOLDERS = (
    "quiesce", "unquiesce", "handler", "state_file", "state_dir", "name", "socket", "vmtoolsd", "python"
)
STOP_TIMEOUT_S = 15.0


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

    def __init__(self, template: str, vm: SimulatedVM, name: str = "conformance", cwd: Optional[Path] = None,
                 env: Optional[Dict[str, str]] = None) -> None:
        self.template = template
        self.cwd = cwd or Path.cwd()  # relative paths in the command mean what they meant to whoever gave it
        self.vm = vm
        self.name = name
        self.state_dir = vm.directory / "state"
        self.state_file = self.state_dir / "state.json"
        self.started: List[HandlerProcess] = []
        self._behaviour = {hook: vm.directory / f"{hook}-behaviour.json" for hook in HOOKS}
        self._baseline = vm.directory / "handler-env.json"
        self._env = vm.env(env)
        self._shared = _shared_clock(vm)  # at speed: handlers run on the simulator's clock, under libfaketime
        if self._shared is not None:
            self._env = self._shared.env(self._env)
        self._baseline.write_text(json.dumps(self._env))
        self.probe_paths = {
            hook: write_probe(vm.bin_dir, hook, vm.socket, self._behaviour[hook], self._baseline) for hook in HOOKS
        }
        for hook in HOOKS:
            self.behave(hook)
        self.handler_path = write_launcher(
            vm.bin_dir / "vmotion-handler", "from handler.__main__ import main\nsys.exit(main())"
        )

    def behave(self, hook: str, seconds: float = 0.0, exit_code: int = 0) -> None:
        """What the next runs of ``hook`` do: take ``seconds`` (real time), then exit with ``exit_code``."""
        self._behaviour[hook].write_text(json.dumps({"seconds": seconds, "exit_code": exit_code}))

    def argv(self) -> List[str]:
        values = {
            "quiesce": str(self.probe_paths["quiesce"]),
            "unquiesce": str(self.probe_paths["unquiesce"]),
            "handler": str(self.handler_path),
            "state_file": str(self.state_file),
            "state_dir": str(self.state_dir),
            "name": self.name,
            "socket": str(self.vm.socket),
            "vmtoolsd": str(self.vm.bin_dir / "vmtoolsd"),
            "python": sys.executable,
        }
        return expand_command(self.template, values)

    def __call__(self, *extra_args: str, env: Optional[Dict[str, str]] = None) -> HandlerProcess:
        """Start the command (plus ``extra_args``; ``env`` adds variables); its output goes to ``handler.log``."""
        self.state_dir.mkdir(mode=0o700, exist_ok=True)
        argv = self.argv() + list(extra_args)
        if self._shared is not None:
            from simulator.speed import check_program

            check_program(argv, self._env)
        proc = HandlerProcess(argv, {**self._env, **(env or {})}, self.vm.directory, self.state_file, self.cwd)
        self.started.append(proc)
        return proc.start()

    def log(self) -> str:
        """What every handler process started here wrote (each run appends to the same file: read it once)."""
        return "\n".join(p.log() for p in {p.log_path: p for p in self.started}.values())

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
            pids = {int(e.details["pid"]) for e in self.vm.journal().probes(phase="started") if "pid" in e.details}
            for pid in pids:
                if _is_our_probe(pid, self.vm.bin_dir):
                    with contextlib.suppress(ProcessLookupError, PermissionError):
                        os.kill(pid, signal.SIGKILL)


def _shared_clock(vm: SimulatedVM) -> Optional[SharedClock]:
    clock = vm.clock()
    if float(clock.get("speed", 1.0)) == 1.0:
        return None  # the speed machinery (ctypes, libfaketime) loads only when a VM runs at speed
    from simulator.speed import shared_clock_for

    return shared_clock_for(clock)


def _is_our_probe(pid: int, bin_dir: Path) -> bool:
    """Guard against a recycled pid: only a process running one of our probe files is ours."""
    try:
        cmdline = Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return False
    return str(bin_dir).encode() in cmdline
