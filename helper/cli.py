"""``vmotion-helper``: argument parsing, output, and the mapping of every failure to one line and an exit code."""

from __future__ import annotations

import argparse
import http.client
import json
import os
import sys
from typing import Mapping, NoReturn, Optional, Sequence, Union

from handler.console import VersionAction, run_console
from helper import commands
from helper.connection import Session, connection_error
from helper.credentials import DEFAULT_CONNECT_TIMEOUT_S, credentials_from_env
from helper.errors import ExitCode, HelperError
from helper.reports import CheckReport, ClusterReport, HostReport, VmReport
from helper.timeouts import parse_host_timeout, parse_vm_timeout
from helper.vmomi import vmodl

PROG = "vmotion-helper"

DESCRIPTION = """\
Configure vSphere 8 vMotion notifications: the host option VmOpNotificationToApp.Timeout and the VM
fields vmOpNotificationToAppEnabled / vmOpNotificationTimeout.
Connection from VMWARE_HOST, VMWARE_USER, VMWARE_PASSWORD, optional VMWARE_PORT (443),
VMWARE_VALIDATE_CERTS (true unless set to false) and VMWARE_CONNECT_TIMEOUT (30 s)."""

EPILOG = """\
exit codes: 0 ok, 1 check found that notifications would not work, 2 usage or invalid value,
3 unknown name, 4 ambiguous name, 5 endpoint unreachable / not vSphere / TLS failure, 6 bad credentials,
7 API version too old for the VM fields, 8 the server refused or the task failed,
9 the server accepted a change but reads back something else, 70 internal error."""


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> NoReturn:
        # One line, not argparse's usage block: scripts and people read the same short message.
        raise HelperError(ExitCode.USAGE, f"{message} (see {self.prog} --help)")


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(
        prog=PROG, description=DESCRIPTION, epilog=EPILOG, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--version", action=VersionAction)
    output = _Parser(add_help=False)
    output.add_argument("--json", action="store_true", help="print the result as JSON on stdout")
    changing = _Parser(add_help=False)
    changing.add_argument("--dry-run", action="store_true", help="show the change, make none")
    forcing = _Parser(add_help=False)
    forcing.add_argument(
        "--force",
        action="store_true",
        help="write the value even if the host already reads it (e.g. a displayed 1800 that is really 0)",
    )
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)
    sub.required = True

    vm = sub.add_parser("vm", parents=[output, changing], help="show or set a VM's notification fields")
    vm.add_argument("name", metavar="VM")
    flag = vm.add_mutually_exclusive_group()
    flag.add_argument("--enable", dest="enable", action="store_const", const=True, help="set the flag to true")
    flag.add_argument("--disable", dest="enable", action="store_const", const=False, help="set the flag to false")
    vm.add_argument(
        "--timeout", metavar="SECONDS|unset", help="vmOpNotificationTimeout; 0 is a value; 'unset' (or -1) clears it"
    )

    host = sub.add_parser(
        "host", parents=[output, changing, forcing], help="show or set a host's VmOpNotificationToApp.Timeout"
    )
    host.add_argument("name", metavar="HOST")
    host.add_argument("--timeout", metavar="SECONDS", help="seconds >= 0 (0 disables notifications from this host)")

    cluster = sub.add_parser(
        "cluster", parents=[output, changing, forcing], help="show or set the option on every host of a cluster"
    )
    cluster.add_argument("name", metavar="CLUSTER")
    cluster.add_argument("--timeout", metavar="SECONDS", help="seconds >= 0, written to every host of the cluster")

    check = sub.add_parser("check", parents=[output], help="preflight: would notifications reach this VM?")
    check.add_argument("name", metavar="VM")
    return parser


def _timeout_value(args: argparse.Namespace) -> Optional[int]:
    """The --timeout value, checked before connecting: a typo costs no login."""
    if args.command == "check":
        return None
    if args.timeout is None:
        if getattr(args, "force", False):
            # Silently showing instead of writing is the PoC's "-t 0 ignored" mistake again.
            raise HelperError(ExitCode.USAGE, f"--force needs --timeout: it forces writing a value (see {PROG} --help)")
        return None
    parse = parse_vm_timeout if args.command == "vm" else parse_host_timeout
    return parse(args.timeout)


Report = Union[VmReport, HostReport, ClusterReport, CheckReport]


def _run(args: argparse.Namespace, timeout: Optional[int], session: Session) -> Report:
    if args.command == "vm":
        return commands.vm_command(session, args.name, args.enable, timeout, args.dry_run)
    if args.command == "host":
        return commands.host_command(session, args.name, timeout, args.dry_run, args.force)
    if args.command == "cluster":
        return commands.cluster_command(session, args.name, timeout, args.dry_run, args.force)
    return commands.check_command(session, args.name)


def _fail(error: HelperError) -> int:
    print(f"{PROG}: error: {error.one_line()}", file=sys.stderr)
    return int(error.code)


def main(argv: Optional[Sequence[str]] = None, env: Optional[Mapping[str, str]] = None) -> int:
    return run_console(lambda: _main(argv, env))


def _main(argv: Optional[Sequence[str]], env: Optional[Mapping[str, str]]) -> int:
    endpoint, connect_timeout = "the endpoint", DEFAULT_CONNECT_TIMEOUT_S
    try:
        args = build_parser().parse_args(argv)
        timeout = _timeout_value(args)
        credentials = credentials_from_env(os.environ if env is None else env)
        endpoint, connect_timeout = credentials.endpoint, credentials.connect_timeout
        with Session.open(credentials) as session:
            report = _run(args, timeout, session)
        print(json.dumps(report.to_json(), indent=2) if args.json else report.to_text())
        if isinstance(report, CheckReport) and not report.works:
            return int(ExitCode.CHECK_FAILED)
        return int(ExitCode.OK)
    except HelperError as error:
        return _fail(error)
    except KeyboardInterrupt:
        print(f"{PROG}: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:  # our own output was closed (| head): not a connection error
        raise
    except vmodl.MethodFault as fault:
        return _fail(commands.server_fault(f"{endpoint}: the server refused a request", fault))
    except (OSError, http.client.HTTPException) as error:  # the connection broke after login
        return _fail(connection_error(error, endpoint, connect_timeout))
    except Exception as error:  # a bug: still one line, with enough to report it
        return _fail(HelperError(ExitCode.INTERNAL, f"internal error: {type(error).__name__}: {error}"))
