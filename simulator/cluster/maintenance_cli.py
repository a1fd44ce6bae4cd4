"""``vmotion-sim maintenance-bridge``: run our vcsim's maintenance-mode vMotions through served guest simulators.

Each ``--guest VM=SOCKET`` names a VM of vCenter and the control socket of the simulated VM that is its guest
(``vmotion-sim serve --socket SOCKET``, with a handler running against it). vCenter is the one in the helper's
variables (``VMWARE_HOST``, ``VMWARE_PORT``, ``VMWARE_USER``, ``VMWARE_PASSWORD``, ``VMWARE_VALIDATE_CERTS``),
started with ``-vmotion-bridge``. It runs until SIGINT or SIGTERM, or with ``--enter HOST`` until that host's
maintenance task ends, and prints one line per move as it ends. Exit codes: 0 done (stopped by a signal, or the
host is in maintenance mode), 1 the maintenance task failed, 2 bad usage, 3 a guest simulator, vCenter or its
move queue could not be reached or read; errors are one line on stderr.
"""

from __future__ import annotations

import argparse
import os
import signal
import sys
import threading
import time
from typing import Any, Dict, List

EXIT_TASK_FAILED = 1
EXIT_USAGE = 2
EXIT_UNREACHABLE = 3


def _guest(text: str) -> tuple[str, str]:
    vm, sep, socket = text.partition("=")
    if not sep or not vm or not socket:
        raise argparse.ArgumentTypeError(f"{text!r} is not VM=SOCKET")
    return vm, socket


def add_parser(sub: Any) -> None:
    """Add ``maintenance-bridge`` to ``vmotion-sim``'s subcommands (``sub`` is its ``add_subparsers`` object)."""
    p = sub.add_parser(
        "maintenance-bridge",
        help="hold each vMotion of vcsim's maintenance mode until its guest simulator was notified",
        description="For each vMotion that vcsim -vmotion-bridge holds: read the VM's settings from vCenter "
        "(as vmotion-helper does), request the vMotion on its guest simulator, wait for the handler's ack or the "
        "timeout and the migration, then let vCenter move the VM. A VM with no --guest moves at once.",
    )
    p.add_argument("--guest", type=_guest, action="append", default=[], metavar="VM=SOCKET",
                   help="a VM's name in vCenter and its guest simulator's control socket (repeatable)")
    p.add_argument("--enter", metavar="HOST", default=None,
                   help="put this host into maintenance mode, and end when its task ends (0: success, 1: error)")
    p.set_defaults(subcommand=run)


def describe(outcome: Any) -> str:
    """One line per move, in the scenario's words."""
    where = f"{outcome.vm}: {outcome.source} -> {outcome.destination}"
    if outcome.error:
        return f"{where}, moved; {outcome.error}"
    if not outcome.notified:
        return f"{where}, moved without notification (no guest simulator)"
    if outcome.forced:
        return f"{where}, forced at the timeout (operation {outcome.operation_id})"
    if outcome.acked:
        return f"{where}, acked (operation {outcome.operation_id})"
    return f"{where}, moved at once: no app registered in its guest, or notifications off (operation " \
        f"{outcome.operation_id})"


def run(args: argparse.Namespace) -> int:
    from simulator.cluster.maintenance import MaintenanceBridge, one_line
    from simulator.inprocess import SimulatorError
    from simulator.transport.client import SimulatorClient

    guests: Dict[str, Any] = {}
    for vm, socket in args.guest:
        if vm in guests:
            print(f"vmotion-sim: maintenance-bridge: --guest {vm} given twice", file=sys.stderr)
            return EXIT_USAGE
        client = SimulatorClient(socket)
        try:
            client.request("ping")
        except SimulatorError as unreachable:
            print(f"vmotion-sim: maintenance-bridge: guest {vm}: {unreachable}", file=sys.stderr)
            return EXIT_UNREACHABLE
        guests[vm] = client
    lock = threading.Lock()

    def report(outcome: Any) -> None:
        with lock:
            print(describe(outcome), flush=True)

    from helper.errors import HelperError

    try:
        bridge = MaintenanceBridge(os.environ, guests, on_outcome=report)
    except HelperError as bad:  # VMWARE_* missing or malformed
        print(f"vmotion-sim: maintenance-bridge: {one_line(bad)}", file=sys.stderr)
        return EXIT_USAGE
    if args.enter is not None:
        return _enter(args.enter, bridge)
    stop = threading.Event()
    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, lambda *_: stop.set())
    print(f"vmotion-sim: maintenance-bridge: waiting for vMotions at {bridge.queue.base} (pid {os.getpid()})",
          flush=True)
    stopped = bridge.run(stop)
    bridge.finish()
    if not stopped:
        errors: List[str] = bridge.errors
        print(f"vmotion-sim: maintenance-bridge: {errors[-1]}", file=sys.stderr)
        return EXIT_UNREACHABLE
    return 0


def _enter(host_name: str, bridge: Any) -> int:
    """EnterMaintenanceMode_Task on ``host_name`` with the bridge running; the task's end is the command's."""
    from helper.connection import Session
    from helper.credentials import credentials_from_env
    from helper.errors import HelperError
    from helper.inventory import find_by_name
    from simulator.cluster.maintenance import POLL_S, one_line

    try:
        with Session.open(credentials_from_env(os.environ)) as session:
            task = find_by_name(session.content, "host", host_name).EnterMaintenanceMode_Task(timeout=0)
            print(f"{host_name}: entering maintenance mode ({task._moId})", flush=True)
            bridge.start()
            try:
                while task.info.state not in ("success", "error"):
                    if bridge.errors:
                        break
                    time.sleep(POLL_S)  # polling the task, as pyVmomi's WaitForTask does
            finally:
                bridge.stop()
            if bridge.errors:
                print(f"vmotion-sim: maintenance-bridge: {bridge.errors[-1]}", file=sys.stderr)
                return EXIT_UNREACHABLE
            if task.info.state == "error":
                fault = task.info.error
                print(f"vmotion-sim: maintenance-bridge: {host_name} did not enter maintenance mode: "
                      f"{type(fault).__name__} {getattr(fault, 'msg', '')}".rstrip(), file=sys.stderr)
                return EXIT_TASK_FAILED
    except HelperError as failed:
        print(f"vmotion-sim: maintenance-bridge: {failed.one_line()}", file=sys.stderr)
        return EXIT_UNREACHABLE
    except Exception as failed:  # pyVmomi's faults and socket errors alike, said in one line
        print(f"vmotion-sim: maintenance-bridge: {one_line(failed)}", file=sys.stderr)
        return EXIT_UNREACHABLE
    forced = [o.vm for o in bridge.outcomes if o.forced]
    print(f"{host_name}: in maintenance mode; {len(bridge.outcomes)} VMs moved, forced: {', '.join(forced) or 'none'}")
    return 0
