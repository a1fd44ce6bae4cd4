"""Options: command-line flags > environment variables > config file > defaults.

Every option has a flag (``--safety-margin``), an environment variable (``VMOTION_HANDLER_SAFETY_MARGIN``) and a
config-file key (``safety_margin`` or ``safety-margin`` in the ``[handler]`` table). The file is TOML where the
interpreter has ``tomllib`` (Python >= 3.11) and INI otherwise; a ``.ini``/``.conf`` file is always INI.
Any bad value becomes one ``ConfigError`` line (the shell prints it and exits 2).
"""

from __future__ import annotations

import argparse
import configparser
import importlib.resources
import math
import os
import sys
from dataclasses import dataclass
from typing import Any, Dict, List, Mapping, NoReturn, Optional, Sequence, Tuple

from handler import defaults
from handler.console import VersionAction
from handler.core import ACK_ANYWAY, QUIESCE_FAILURE_POLICIES
from handler.transport import default_vmtoolsd

ENV_PREFIX = "VMOTION_HANDLER_"
SECTION = "handler"


class ConfigError(Exception):
    pass


@dataclass(frozen=True)
class Option:
    name: str
    kind: str  # str | float | int | bool | choice
    default: Any
    help: str
    choices: Tuple[str, ...] = ()

    @property
    def flag(self) -> str:
        return "--" + self.name.replace("_", "-")

    @property
    def env(self) -> str:
        return ENV_PREFIX + self.name.upper()


def _default_state_file() -> str:
    if sys.platform == "win32":
        base = os.environ.get("PROGRAMDATA", r"C:\ProgramData")
        return os.path.join(base, "vmotion-handler", "state.json")
    return "/var/lib/vmotion-handler/state.json"


OPTIONS: Tuple[Option, ...] = (
    Option("name", "str", defaults.APP_NAME, "appName to register with the hypervisor"),
    Option("interval", "float", defaults.INTERVAL, "seconds between polls when no event is pending"),
    Option("quiesce", "str", None, "command run on a start event (argv; no shell unless --shell)"),
    Option("unquiesce", "str", None, "command run on the end event of an operation this handler quiesced for"),
    Option("shell", "bool", False, "run the hook commands through the shell (opt-in)"),
    Option("vmtoolsd", "str", None, "path of vmtoolsd (default: vmtoolsd on PATH, or the Windows install path)"),
    Option("rpc_timeout", "float", defaults.RPC_TIMEOUT, "seconds before a vmtoolsd call counts as hung and is killed"),
    Option("state_file", "str", None, "crash-safety state file (token and in-flight operation), mode 0600"),
    Option("safety_margin", "float", defaults.SAFETY_MARGIN,
           "seconds before the notification timeout by which the quiesce must end"),
    Option("on_quiesce_failure", "choice", ACK_ANYWAY, "what to do when the quiesce fails or is killed",
           QUIESCE_FAILURE_POLICIES),
    Option("ack_timeout_change", "bool", defaults.ACK_TIMEOUT_CHANGE,
           "ack timeout-change events (as VMware's sample daemon does)"),
    Option("unquiesce_timeout", "float", defaults.UNQUIESCE_TIMEOUT,
           "seconds after which a still-running unquiesce is killed"),
    Option("end_timeout", "float", defaults.END_TIMEOUT,
           "seconds past the notification timeout to wait for the end event "
           "before unquiescing anyway (0: wait for ever)"),
    Option("kill_grace", "float", defaults.KILL_GRACE, "seconds between SIGTERM and SIGKILL when a hook is killed"),
    Option("backoff_max", "float", defaults.BACKOFF_MAX, "longest wait between retries of a failing RPC"),
    Option("log_format", "choice", "text", "log format on stderr and in the log file", ("text", "json")),
    Option("log_level", "choice", "info", "log level", ("debug", "info", "warning", "error")),
    Option("log_file", "str", None, "also log to this file (rotated at 5 MB, 3 kept)"),
    Option("metrics_file", "str", None, "write Prometheus textfile metrics here"),
    Option("dry_run", "bool", False, "register and log what would happen; run no hooks, send no acks"),
)
BY_NAME = {o.name: o for o in OPTIONS}


@dataclass(frozen=True)
class Config:
    values: Dict[str, Any]
    sources: Dict[str, str]
    config_file: Optional[str]
    print_config: bool

    def __getattr__(self, name: str) -> Any:
        try:
            return self.values[name]
        except KeyError:
            raise AttributeError(name) from None


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> NoReturn:
        raise ConfigError(message)


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(
        prog="vmotion-handler",
        description="Guest daemon for vSphere 8 vMotion notifications: quiesce, ack, unquiesce.",
        argument_default=argparse.SUPPRESS,
        epilog=f"Every option can also be set as an environment variable {ENV_PREFIX}<NAME> or in the "
        "[handler] table of --config.",
    )
    for opt in OPTIONS:
        if opt.kind == "bool":
            parser.add_argument(opt.flag, dest=opt.name, action=argparse.BooleanOptionalAction, help=opt.help)
        elif opt.kind == "choice":
            parser.add_argument(opt.flag, dest=opt.name, choices=opt.choices, help=opt.help)
        else:
            parser.add_argument(opt.flag, dest=opt.name, metavar=opt.name.upper(), help=opt.help)
    parser.add_argument("--config", dest="config", metavar="FILE",
                        help=f"config file (TOML, or INI); env {ENV_PREFIX}CONFIG")
    parser.add_argument("--print-config", dest="print_config", action="store_true",
                        help="print the effective configuration and its sources, then exit")
    parser.add_argument("--version", action=VersionAction)
    parser.add_argument("--print-systemd-unit", action=PrintPackagedFile, path="packaging/vmotion-handler.service",
                        help="print the systemd unit shipped with the handler, then exit")
    parser.add_argument("--print-example-hook", action=PrintPackagedFile, path="examples/demo-hook.sh",
                        help="print the example hook (a shell script that shows what a hook receives), then exit")
    return parser


class PrintPackagedFile(argparse.Action):
    """Print a file shipped inside the package, and exit: installed from a wheel there is no checkout to copy
    the systemd unit or the example hook from."""

    def __init__(self, option_strings: Sequence[str], dest: str, path: str, help: Optional[str] = None,
                 **_: Any) -> None:
        super().__init__(option_strings, dest=argparse.SUPPRESS, default=argparse.SUPPRESS, nargs=0, help=help)
        self.path = path

    def __call__(self, parser: argparse.ArgumentParser, namespace: argparse.Namespace, values: Any,
                 option_string: Optional[str] = None) -> None:
        text = importlib.resources.files("handler").joinpath(self.path).read_text(encoding="utf-8")
        sys.stdout.write(text)
        sys.stdout.flush()
        parser.exit(0)


def convert(opt: Option, raw: Any, where: str) -> Any:
    try:
        if opt.kind == "bool":
            if isinstance(raw, bool):
                return raw
            text = str(raw).strip().lower()
            if text in ("1", "true", "yes", "on"):
                return True
            if text in ("0", "false", "no", "off"):
                return False
            raise ValueError("expected true or false")
        if opt.kind == "float":
            # A config file can hold any TOML type: a list, a table or a date is not a number of seconds.
            if isinstance(raw, bool) or not isinstance(raw, (int, float, str)):
                raise ValueError("expected a number")
            return float(raw)
        if opt.kind == "int":
            if isinstance(raw, bool) or not isinstance(raw, (int, str)):
                raise ValueError("expected an integer")
            return int(raw)
        if opt.kind == "choice":
            text = str(raw)
            if text not in opt.choices:
                raise ValueError(f"expected one of {', '.join(opt.choices)}")
            return text
        if not isinstance(raw, str):
            raise ValueError("expected a string")
        return raw
    except (ValueError, OverflowError) as exc:  # OverflowError: an integer too large for a float
        shown = " ".join(repr(raw).split())
        shown = shown if len(shown) <= 60 else shown[:57] + "..."
        raise ConfigError(f"{where}: invalid value {shown} for {opt.name}: {exc}") from None


def read_config_file(path: str) -> Dict[str, Any]:
    try:
        with open(path, "rb") as fh:
            data = fh.read()
    except OSError as exc:
        raise ConfigError(f"cannot read config file {path}: {exc.strerror or exc}") from None
    use_toml = not path.lower().endswith((".ini", ".conf", ".cfg"))
    table: Mapping[str, Any]
    if use_toml:
        try:
            import tomllib  # Python >= 3.11  # novermin
        except ImportError:
            use_toml = False
        else:
            try:
                doc = tomllib.loads(data.decode("utf-8"))
            except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
                raise ConfigError(f"config file {path} is not valid TOML: {exc}") from None
            section = doc.get(SECTION, doc)
            if not isinstance(section, dict):
                raise ConfigError(f"config file {path}: [{SECTION}] must be a table")
            table = section
    if not use_toml:
        parser = configparser.ConfigParser(interpolation=None)
        try:
            parser.read_string(data.decode("utf-8"), source=path)
        except (configparser.Error, UnicodeDecodeError) as exc:
            first = str(exc).splitlines()[0]
            raise ConfigError(f"config file {path} is not valid INI: {first}") from None
        if not parser.has_section(SECTION):
            raise ConfigError(f"config file {path} has no [{SECTION}] section")
        # Quotes are stripped so that a simple TOML file also reads as INI on Python < 3.11.
        table = {k: _unquote(v) for k, v in parser.items(SECTION)}
    out: Dict[str, Any] = {}
    for key, value in table.items():
        name = key.replace("-", "_")
        if name not in BY_NAME:
            raise ConfigError(f"config file {path}: unknown option {key!r}")
        out[name] = value
    return out


def _unquote(value: str) -> str:
    value = value.strip()
    if len(value) >= 2 and value[0] == value[-1] and value[0] in "\"'":
        return value[1:-1]
    return value


def load_config(argv: Sequence[str], environ: Mapping[str, str]) -> Config:
    args = vars(build_parser().parse_args(list(argv)))
    config_file = args.pop("config", None) or environ.get(ENV_PREFIX + "CONFIG") or None
    print_config = bool(args.pop("print_config", False))
    file_values = read_config_file(config_file) if config_file else {}
    values: Dict[str, Any] = {}
    sources: Dict[str, str] = {}
    for opt in OPTIONS:
        if opt.name in args:
            values[opt.name] = convert(opt, args[opt.name], opt.flag)
            sources[opt.name] = "flag"
        elif opt.env in environ:
            values[opt.name] = convert(opt, environ[opt.env], opt.env)
            sources[opt.name] = "env"
        elif opt.name in file_values:
            values[opt.name] = convert(opt, file_values[opt.name], f"config file {config_file}")
            sources[opt.name] = "file"
        else:
            values[opt.name] = opt.default
            sources[opt.name] = "default"
    if values["vmtoolsd"] is None:
        values["vmtoolsd"] = default_vmtoolsd()
    if values["state_file"] is None:
        values["state_file"] = _default_state_file()
    _validate(values)
    return Config(values=values, sources=sources, config_file=config_file, print_config=print_config)


def _validate(values: Mapping[str, Any]) -> None:
    if not str(values["name"]).strip():
        raise ConfigError("name must not be empty")
    for opt in OPTIONS:
        # NaN passes every comparison below and an infinite wait overflows: neither is a number of seconds.
        if opt.kind == "float" and not math.isfinite(values[opt.name]):
            raise ConfigError(f"{opt.name} must be a finite number (got {values[opt.name]:g})")
    for name, bounds in defaults.DURATION_BOUNDS.items():
        if not bounds.contains(values[name]):
            raise ConfigError(f"{name} must be {bounds.describe()} seconds (got {values[name]:g})")
    for name in ("quiesce", "unquiesce"):
        if values[name] is not None and not str(values[name]).strip():
            raise ConfigError(f"{name} must not be an empty command")


def render(config: Config) -> str:
    """The effective configuration as a TOML ``[handler]`` table, each line with its source."""
    lines: List[str] = []
    if config.config_file:
        lines.append(f"# config file: {config.config_file}")
    lines.append(f"[{SECTION}]")
    for opt in OPTIONS:
        value = config.values[opt.name]
        source = config.sources[opt.name]
        if value is None:
            lines.append(f"# {opt.name} is not set  ({source}; env {opt.env})")
            continue
        if isinstance(value, str) and not _is_text(value):
            lines.append(f"# {opt.name} is not valid Unicode and cannot be shown as TOML  ({source}; env {opt.env})")
            continue
        text = ("true" if value else "false") if isinstance(value, bool) else (
            _toml_float(value) if isinstance(value, float) else toml_string(value) if isinstance(value, str)
            else str(value))
        lines.append(f"{opt.name} = {text}  # {source}; env {opt.env}")
    return "\n".join(lines)


def _toml_float(value: float) -> str:
    short = f"{value:g}"
    return short if float(short) == value else repr(value)  # short unless it would not read back the same


def _is_text(value: str) -> bool:
    """False for a lone surrogate (undecodable bytes of an argv or environment value): TOML cannot hold it."""
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def toml_string(value: str) -> str:
    """A TOML basic string, in ASCII. JSON's escapes would write a character beyond U+FFFF as a surrogate
    pair, which TOML forbids; TOML has ``\\UXXXXXXXX`` for it."""
    out = ['"']
    for char in value:
        code = ord(char)
        if char in ('"', "\\"):
            out.append("\\" + char)
        elif 0x20 <= code < 0x7F:
            out.append(char)
        elif code > 0xFFFF:
            out.append(f"\\U{code:08X}")
        else:
            out.append(f"\\u{code:04X}")
    out.append('"')
    return "".join(out)
