"""Options through the real command line: precedence, files, --print-config, and one-line errors (exit 2).

Most cases call the handler's main in this process (``_main``): the same parsing, checks and messages without
an interpreter start-up each; ``_cli`` runs it as a process, for the exit status and streams of a real one.
"""

from __future__ import annotations

import contextlib
import io
import os
import subprocess
import sys
import threading
from pathlib import Path
from typing import List

import pytest

from handler.config import ConfigError, load_config, render
from handler.console import run_console
from handler.daemon import main


def _cli(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "handler", *args], capture_output=True, text=True,
                          env=env, timeout=30, check=False)


def _main(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    """``vmotion-handler ARGS`` with environment ``env``, in this process (as its console script runs main).

    It runs in a thread of its own: a configuration the checks wrongly let through then fails at once where the
    daemon sets its signal handlers (the main thread's alone), instead of running the daemon in the test.
    """
    out, err = io.StringIO(), io.StringIO()
    codes: List[int] = []
    failures: List[BaseException] = []

    def run() -> None:
        try:
            codes.append(run_console(lambda: main(list(args), env)))
        except SystemExit as exited:  # argparse's usage errors
            codes.append(int(exited.code or 0))
        except BaseException as failure:  # a traceback, in a process
            failures.append(failure)

    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        thread = threading.Thread(target=run)
        thread.start()
        thread.join(30)
    if failures:
        raise failures[0]
    assert codes, "the handler's main did not return"
    return subprocess.CompletedProcess(list(args), codes[0], out.getvalue(), err.getvalue())


def test_flags_beat_env_beat_file_beat_defaults(tmp_path: Path) -> None:
    conf = tmp_path / "handler.toml"
    conf.write_text('[handler]\nname = "from-file"\ninterval = 5\nsafety-margin = 3.5\nquiesce = "q --x"\n')
    env = {"VMOTION_HANDLER_INTERVAL": "2", "VMOTION_HANDLER_CONFIG": str(conf)}
    config = load_config(["--interval", "0.25"], env)
    assert config.interval == 0.25 and config.sources["interval"] == "flag"
    config = load_config([], env)
    assert config.interval == 2.0 and config.sources["interval"] == "env"
    assert config.name == "from-file" and config.safety_margin == 3.5 and config.quiesce == "q --x"
    assert config.on_quiesce_failure == "ack-anyway" and config.sources["on_quiesce_failure"] == "default"


def test_ini_file(tmp_path: Path) -> None:
    conf = tmp_path / "handler.ini"
    conf.write_text("[handler]\nname = app1\nack_timeout_change = false\non-quiesce-failure = no-ack\n")
    config = load_config(["--config", str(conf)], {})
    assert config.name == "app1" and config.ack_timeout_change is False and config.on_quiesce_failure == "no-ack"


def test_print_config_shows_values_and_sources(tmp_path: Path) -> None:
    done = _cli("--print-config", "--name", "shop", "--dry-run",
                env={"VMOTION_HANDLER_SAFETY_MARGIN": "4", "PATH": "/usr/bin:/bin"})
    assert done.returncode == 0, done.stderr
    assert 'name = "shop"  # flag; env VMOTION_HANDLER_NAME' in done.stdout
    assert "safety_margin = 4  # env" in done.stdout
    assert "dry_run = true  # flag" in done.stdout
    # The printed table is itself a valid config file.
    import tomllib

    assert tomllib.loads(done.stdout)["handler"]["name"] == "shop"


@pytest.mark.parametrize(
    ("args", "env", "needle"),
    [
        (["--interval", "soon"], {}, "invalid value 'soon' for interval"),
        (["--interval", "0"], {}, "interval must be greater than 0"),
        (["--interval", "inf"], {}, "interval must be a finite number"),
        (["--safety-margin", "nan"], {}, "safety_margin must be a finite number"),
        ([], {"VMOTION_HANDLER_KILL_GRACE": "nan"}, "kill_grace must be a finite number"),
        (["--on-quiesce-failure", "maybe"], {}, "invalid choice"),
        (["--bogus"], {}, "unrecognized arguments"),
        ([], {"VMOTION_HANDLER_DRY_RUN": "perhaps"}, "VMOTION_HANDLER_DRY_RUN: invalid value"),
        (["--config", "/nonexistent/handler.toml"], {}, "cannot read config file"),
        (["--state-file", "/proc/forbidden/state.json"], {}, "state file"),
    ],
)
def test_bad_configuration_is_one_line_and_exit_2(args: list[str], env: dict[str, str], needle: str) -> None:
    done = _main(*args, env={"PATH": "/usr/bin:/bin", **env})
    assert done.returncode == 2
    assert done.stdout == ""
    lines = done.stderr.splitlines()
    assert len(lines) == 1 and lines[0].startswith("vmotion-handler: error: ")
    assert needle in lines[0]
    assert "Traceback" not in done.stderr


@pytest.mark.parametrize(("args", "needle"), [
    (["--interval", "soon"], "invalid value 'soon' for interval"),  # refused by the parser
    (["--state-file", "/proc/forbidden/state.json"], "state file"),  # refused by the start-up checks
])
def test_bad_configuration_ends_the_process_with_one_line_and_exit_2(args: list[str], needle: str) -> None:
    done = _cli(*args, env={"PATH": "/usr/bin:/bin"})
    assert (done.returncode, done.stdout) == (2, "")
    lines = done.stderr.splitlines()
    assert len(lines) == 1 and lines[0].startswith("vmotion-handler: error: ") and needle in lines[0]


def test_unknown_key_in_a_config_file(tmp_path: Path) -> None:
    conf = tmp_path / "h.toml"
    conf.write_text("[handler]\nintervall = 1\n")
    with pytest.raises(ConfigError, match="unknown option 'intervall'"):
        load_config(["--config", str(conf)], {})


def test_render_round_trips_through_load(tmp_path: Path) -> None:
    conf = tmp_path / "h.toml"
    config = load_config(["--name", "x", "--quiesce", "/opt/app/quiesce --fast"], {})
    conf.write_text(render(config))
    again = load_config(["--config", str(conf)], {})
    assert again.values == config.values


@pytest.mark.parametrize(("key", "value"), [
    ("interval", "[1]"), ("rpc_timeout", "{ seconds = 5 }"), ("kill_grace", "1979-05-27"),
    ("unquiesce_timeout", "[[1]]"), ("interval", "100000000000000000000000000000000000000000" * 10),
    ("name", "[1]"), ("dry_run", "[true]"), ("on_quiesce_failure", "{}"),
])
def test_a_value_of_the_wrong_toml_type_is_one_line_naming_the_key_and_exit_2(
    tmp_path: Path, key: str, value: str
) -> None:
    pytest.importorskip("tomllib")
    conf = tmp_path / "h.toml"
    conf.write_text(f"[handler]\n{key} = {value}\n")
    done = _main("--config", str(conf), env={"PATH": "/usr/bin:/bin"})
    assert done.returncode == 2, done.stderr
    lines = done.stderr.splitlines()
    assert len(lines) == 1 and lines[0].startswith("vmotion-handler: error: config file ")
    assert f"for {key}: " in lines[0] or f"{key} must be" in lines[0]
    assert len(lines[0]) < 300


@pytest.mark.parametrize(("flag", "value"), [
    ("--interval", "1e10"), ("--unquiesce-timeout", "1e10"), ("--kill-grace", "1e10"), ("--rpc-timeout", "1e308"),
    ("--safety-margin", "1e10"), ("--end-timeout", "1e10"), ("--backoff-max", "1e10"), ("--interval", "3600.5"),
])
def test_every_duration_has_an_upper_bound(flag: str, value: str) -> None:
    name = flag[2:].replace("-", "_")
    with pytest.raises(ConfigError, match=rf"^{name} must be .* and at most \d+ seconds \(got "):
        load_config([flag, value], {})


def test_every_duration_accepts_its_bounds() -> None:
    from handler.defaults import DURATION_BOUNDS

    for name, bounds in DURATION_BOUNDS.items():
        flag = "--" + name.replace("_", "-")
        assert load_config([flag, repr(bounds.maximum)], {}).values[name] == bounds.maximum
        if bounds.minimum_allowed:
            assert load_config([flag, repr(bounds.minimum)], {}).values[name] == bounds.minimum


@pytest.mark.parametrize("name", ["shop\U0001F600", 'a"b\\c', "tab\there", "del\x7f", "caf\u00e9", "x\u2028y"])
def test_print_config_is_valid_toml_whatever_the_characters(name: str) -> None:
    tomllib = pytest.importorskip("tomllib")
    done = _main("--print-config", "--name", name, "--quiesce", f"/opt/{name}/q", env={"PATH": "/usr/bin:/bin"})
    assert done.returncode == 0, done.stderr
    table = tomllib.loads(done.stdout)["handler"]
    assert table["name"] == name and table["quiesce"] == f"/opt/{name}/q"


def _start_up_error(tmp_path: Path, *args: str) -> str:
    """Runs the handler with a private state directory; returns its one error line (exit 2 asserted)."""
    state = tmp_path / "state" / "state.json"
    if not state.parent.exists():
        state.parent.mkdir(mode=0o700)
    done = _main("--state-file", str(state), "--vmtoolsd", "/nonexistent/vmtoolsd", *args,
                 env={"PATH": "/usr/bin:/bin"})
    assert done.returncode == 2, done.stderr
    assert done.stdout == "" and "Traceback" not in done.stderr
    lines = done.stderr.splitlines()
    assert len(lines) == 1 and lines[0].startswith("vmotion-handler: error: ")
    return lines[0]


@pytest.mark.skipif(sys.platform == "win32", reason="POSIX commands")
@pytest.mark.parametrize(("args", "needle"), [
    (["--quiesce", "/opt/app/quiesce 'unterminated"], "quiesce: cannot parse command"),
    (["--quiesce", "/nonexistent/quiesce --fast"], "quiesce: /nonexistent/quiesce: no such executable file"),
    (["--unquiesce", "no-such-program-anywhere"], "unquiesce: no-such-program-anywhere: no such executable file on"),
    (["--quiesce", "{hook} --fast"], "is not executable"),
    (["--shell", "--quiesce", "echo 'unterminated"], "quiesce: cannot parse command"),
    (["--dry-run", "--quiesce", "/nonexistent/q"], "quiesce: /nonexistent/q"),
])
def test_a_hook_that_cannot_start_is_refused_at_start_up(tmp_path: Path, args: list[str], needle: str) -> None:
    hook = tmp_path / "not-executable.sh"
    hook.write_text("#!/bin/sh\n")
    line = _start_up_error(tmp_path, *[a.replace("{hook}", str(hook)) for a in args])
    assert needle in line


@pytest.mark.skipif(sys.platform == "win32", reason="POSIX modes")
@pytest.mark.parametrize(("directory_mode", "file_mode", "needle"), [
    (0o777, None, "state file directory"),
    (0o1777, None, "state file directory"),  # sticky /tmp-like: others may still plant the file first
    (0o770, None, "state file directory"),
    (0o700, 0o666, "state file"),
    (0o700, 0o620, "state file"),
])
def test_a_state_directory_or_file_others_can_write_is_refused(
    tmp_path: Path, directory_mode: int, file_mode: int | None, needle: str
) -> None:
    state = tmp_path / "state" / "state.json"
    state.parent.mkdir()
    if file_mode is not None:
        state.write_text('{"version": 1}')
        state.chmod(file_mode)
    state.parent.chmod(directory_mode)
    line = _start_up_error(tmp_path, "--name", "t")
    assert f"{needle} {state if file_mode else state.parent} is writable by others" in line


@pytest.mark.skipif(sys.platform == "win32" or os.geteuid() != 0, reason="needs root to chown")
def test_a_state_file_owned_by_another_user_is_refused(tmp_path: Path) -> None:
    state = tmp_path / "state" / "state.json"
    state.parent.mkdir(mode=0o700)
    state.write_text('{"version": 1}')
    state.chmod(0o600)
    os.chown(state, 65534, 65534)
    line = _start_up_error(tmp_path, "--name", "t")
    assert f"state file {state} is owned by another user (uid 65534)" in line
