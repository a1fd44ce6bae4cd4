"""The process shell: configuration, logging, signals and real hooks around the core."""

from __future__ import annotations

import os
import signal
import stat
import sys
from types import FrameType
from typing import List, Mapping, Optional, Sequence

from handler.clock import SystemClock
from handler.config import Config, ConfigError, load_config, render
from handler.core import CoreSettings, Handler
from handler.hooks import SubprocessHookRunner
from handler.logs import setup_logging
from handler.metrics import Metrics
from handler.state import FileStateStore, MemoryStateStore, StateError
from handler.transport import VmtoolsdTransport

EXIT_OK = 0
EXIT_CONFIG = 2


def core_settings(config: Config) -> CoreSettings:
    return CoreSettings(
        app_name=config.name,
        interval=config.interval,
        quiesce=config.quiesce,
        unquiesce=config.unquiesce,
        safety_margin=config.safety_margin,
        on_quiesce_failure=config.on_quiesce_failure,
        ack_timeout_change=config.ack_timeout_change,
        unquiesce_timeout=config.unquiesce_timeout,
        end_timeout=config.end_timeout,
        rpc_timeout=config.rpc_timeout,
        backoff_max=config.backoff_max,
        dry_run=config.dry_run,
    )


def _check_hooks(config: Config, hooks: SubprocessHookRunner) -> None:
    """A hook that cannot start would only fail at the first vMotion, which would then run unprotected."""
    for name in ("quiesce", "unquiesce"):
        command = config.values[name]
        if command is not None:
            problem = hooks.problem(command)
            if problem is not None:
                raise ConfigError(f"{name}: {problem}")


def _check_private(path: str, what: str) -> None:
    """Refuse a state directory or file that another user could write (as ssh's StrictModes does): whoever
    can plant a state file chooses the operation, and the token, for which this handler runs its hooks."""
    if sys.platform == "win32":
        return  # ACLs, not mode bits; %ProgramData% is set up by the installer
    st = os.stat(path)
    if st.st_uid not in (os.geteuid(), 0):
        raise ConfigError(f"{what} {path} is owned by another user (uid {st.st_uid})")
    if st.st_mode & 0o022:
        raise ConfigError(f"{what} {path} is writable by others (mode {stat.S_IMODE(st.st_mode):04o}); "
                          f"chmod go-w it or use a private directory")


def _check_paths(config: Config) -> None:
    """Fail at start-up, with one line, rather than at the first event."""
    store = FileStateStore(config.state_file)
    try:
        directory = os.path.dirname(os.path.abspath(config.state_file))
        os.makedirs(directory, mode=0o700, exist_ok=True)
        if not os.access(directory, os.W_OK):
            raise ConfigError(f"state file directory {directory} is not writable")
        _check_private(directory, "state file directory")
        if os.path.lexists(config.state_file):
            _check_private(config.state_file, "state file")
        store.load()
    except StateError as exc:
        if isinstance(exc.__cause__, OSError):
            raise ConfigError(str(exc)) from None
        # Damaged content (a torn disk, a hand edit) must not keep the application unprotected: keep the
        # file for a post-mortem and start fresh. Its token, if any, is lost: only a VM reboot clears it.
        aside = f"{config.state_file}.corrupt"
        os.replace(config.state_file, aside)
        print(f"vmotion-handler: warning: {exc}; moved it to {aside} and starting fresh", file=sys.stderr)
    except OSError as exc:
        raise ConfigError(f"cannot use state file {config.state_file}: {exc.strerror or exc}") from None
    for name in ("log_file", "metrics_file"):
        path = config.values[name]
        if path:
            directory = os.path.dirname(os.path.abspath(path))
            if not os.path.isdir(directory):
                raise ConfigError(f"{name}: directory {directory} does not exist")


def main(argv: Optional[Sequence[str]] = None, environ: Optional[Mapping[str, str]] = None) -> int:
    try:
        config = load_config(sys.argv[1:] if argv is None else argv, os.environ if environ is None else environ)
        if config.print_config:
            print(render(config))
            return EXIT_OK
        # Beside the state file, in its private directory: the running hook and the vmtoolsd call in flight,
        # so that a run that is killed leaves the next one what it needs. A dry run keeps nothing there.
        spool = None if config.dry_run else config.state_file
        hooks = SubprocessHookRunner(shell=config.shell, kill_grace=config.kill_grace,
                                     record=None if spool is None else f"{spool}.hook")
        _check_hooks(config, hooks)
        _check_paths(config)
        logger = setup_logging(config.log_format, config.log_level, config.log_file)
    except ConfigError as exc:
        print(f"vmotion-handler: error: {exc}", file=sys.stderr)
        return EXIT_CONFIG
    except BrokenPipeError:  # --print-config's reader went away (| head): not a configuration error
        raise
    except OSError as exc:
        print(f"vmotion-handler: error: {exc}", file=sys.stderr)
        return EXIT_CONFIG

    clock = SystemClock()
    stop_signals: List[int] = []

    def on_signal(signum: int, frame: Optional[FrameType]) -> None:
        # Only record it: the core stops at its next safe point (never in the middle of a state write).
        stop_signals.append(signum)
        clock.wake()

    for name in ("SIGTERM", "SIGINT", "SIGBREAK", "SIGHUP"):
        sig = getattr(signal, name, None)
        if sig is not None and (name != "SIGHUP" or sys.platform != "win32"):
            signal.signal(sig, on_signal)

    hooks.sink = lambda hook, line: logger.info("%s> %s", hook, line)
    transport = VmtoolsdTransport(config.vmtoolsd, timeout=config.rpc_timeout, spool=spool)
    handler = Handler(
        settings=core_settings(config),
        transport=transport,
        clock=clock,
        hooks=hooks,
        # A dry run must not adopt (and at its stop unregister and unquiesce) what a real daemon recorded.
        state_store=MemoryStateStore() if config.dry_run else FileStateStore(config.state_file),
        metrics=Metrics(config.metrics_file),
        logger=logger,
        stop_requested=lambda: bool(stop_signals),
    )
    logger.debug("effective configuration:\n%s", render(config))
    code = handler.run()
    transport.close()
    if stop_signals:
        logger.info("stopped by %s", signal.Signals(stop_signals[0]).name)
    return code
