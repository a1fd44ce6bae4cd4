"""The bridge that makes our vCenter simulator's maintenance mode wait for the guests' notification flow.

``vcsim -vmotion-bridge`` holds every vMotion of ``EnterMaintenanceMode_Task`` until a bridge says "go" (the
protocol is in ``vcsim/maintenance.go``: ``GET /vmotion/pending``, ``POST /vmotion/go?vm=REF``). For each
pending move of a VM that has a guest simulator here, :class:`MaintenanceBridge` does what the hypervisor does
before a vMotion proceeds: it reads the settings vCenter holds for that move with the helper's own code (the
VM's flag and timeout, the ``VmOpNotificationToApp.Timeout`` option of the source and the destination host),
gives them to the VM's :class:`~simulator.Simulator`, requests the vMotion there, and waits until the guest's
handler acked the start or the timeout forced it and the simulated migration ended; then it says "go" and
vcsim moves the VM (``RelocateVM_Task``'s effect). A VM without a guest simulator goes at once.

    bridge = MaintenanceBridge(endpoint.env(), guests={"DC0_C0_RP0_VM0": sim0, ...})
    with bridge:                      # polls in a thread of its own until the block ends
        host.EnterMaintenanceMode_Task(timeout=0)   # pyVmomi, or anything else
        ...                           # wait for the task
    print([o.vm for o in bridge.outcomes if o.forced])

The settings reader needs pyVmomi (the ``[helper]`` extra); the protocol client is the standard library.
"""

from __future__ import annotations

import base64
import json
import ssl
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
from dataclasses import dataclass, replace
from types import TracebackType
from typing import Any, Callable, Dict, List, Mapping, Optional, Protocol, Type, cast

from simulator.inprocess import Simulator, SimulatorError
from simulator.readside import OperationStatus
from simulator.vcenter.bridge import MoveSettings, VCenterBridge

POLL_S = 0.1  # how often the bridge asks vcsim for new moves, and a guest for its operation's phase
HTTP_TIMEOUT_S = 30.0
# A guest's wait for acks ends by its deadline, and its migration within MIGRATION_LIMIT_S; past these, with
# this much grace, the bridge counts the guest as broken and lets the move go.
GUEST_GRACE_S = 30.0
MIGRATION_LIMIT_S = 3600.0


class MaintenanceBridgeError(Exception):
    """vcsim's move queue could not be read or answered (the message says why)."""


@dataclass(frozen=True)
class PendingMove:
    """One vMotion of a maintenance mode that holds its slots and waits for the bridge."""

    id: int  # vcsim numbers the moves: the same VM may move again, in a later maintenance mode
    vm: str  # the VM's managed object reference (vm-61)
    vm_name: str
    source: str
    source_name: str
    destination: str
    destination_name: str
    task: str  # the EnterMaintenanceMode task

    @classmethod
    def from_json(cls, item: Mapping[str, Any]) -> PendingMove:
        try:
            texts = {name: str(item[name]) for name in cls.__dataclass_fields__ if name != "id"}
            number = item["id"]
        except (KeyError, TypeError) as missing:
            raise MaintenanceBridgeError(f"vcsim sent a move without {missing}: {dict(item)!r}") from None
        if not isinstance(number, int) or isinstance(number, bool):
            raise MaintenanceBridgeError(f"vcsim sent a move whose id is not a number: {dict(item)!r}")
        return cls(id=number, **texts)


@dataclass(frozen=True)
class MoveOutcome:
    """What happened to one VM's move: ``forced`` when the hypervisor migrated it at the timeout."""

    vm: str
    source: str
    destination: str
    notified: bool  # a guest simulator here ran the notification flow
    operation_id: Optional[int] = None
    forced: bool = False
    acked: bool = False  # every app registered in the guest acked in time; neither it nor forced: nobody to wait for
    error: Optional[str] = None


class MoveQueue:
    """vcsim's move queue over HTTPS, with the simulator's own login (HTTP basic authentication)."""

    def __init__(self, host: str, port: int, user: str, password: str, validate_certs: bool = True) -> None:
        self.base = f"https://{host}:{port}/vmotion"
        self._auth = "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()
        self._context = ssl.create_default_context()
        if not validate_certs:
            # Only on explicit request: the vCenter simulator's certificate is self-signed.
            self._context.check_hostname = False
            self._context.verify_mode = ssl.CERT_NONE

    @classmethod
    def from_env(cls, env: Mapping[str, str]) -> MoveQueue:
        """From the helper's variables (``VMWARE_HOST``, ``VMWARE_PORT``, ... as ``VcsimEndpoint.env()`` gives)."""
        from helper.credentials import credentials_from_env

        c = credentials_from_env(env)
        return cls(c.host, c.port, c.user, c.password, c.validate_certs)

    def _call(self, method: str, path: str) -> Any:
        request = urllib.request.Request(self.base + path, method=method, headers={"Authorization": self._auth})
        try:
            with urllib.request.urlopen(request, timeout=HTTP_TIMEOUT_S, context=self._context) as reply:
                return json.load(reply)
        except urllib.error.HTTPError as refused:
            why = refused.read().decode(errors="replace").strip()
            raise MaintenanceBridgeError(f"{method} {self.base}{path}: {refused.code} {why}") from None
        except (OSError, ValueError) as failed:
            raise MaintenanceBridgeError(f"{method} {self.base}{path}: {failed}") from None

    def pending(self) -> List[PendingMove]:
        """The moves waiting for a go, oldest first."""
        return [PendingMove.from_json(item) for item in self._call("GET", "/pending").get("moves") or []]

    def go(self, vm: str) -> str:
        """Let the move of ``vm`` (its reference) happen; returns once the VM is on its new host, that host."""
        return str(self._call("POST", "/go?" + urllib.parse.urlencode({"vm": vm}))["host"])


SettingsReader = Callable[[PendingMove], MoveSettings]


class Guest(Protocol):
    """A guest simulator: a :class:`~simulator.Simulator` here, or one served elsewhere (``SimulatorClient``)."""

    def set(
        self, *, host_timeout: Any = ..., vm_timeout: Any = ..., dest_host_timeout: Any = ..., enabled: Any = ...
    ) -> None: ...

    def vmotion(self, outcome: str = "success", migration_seconds: Optional[float] = None) -> int: ...

    def operation(self, operation_id: int) -> OperationStatus: ...


def one_line(error: BaseException) -> str:
    """An error as one line: the helper's errors say it best themselves."""
    said = getattr(error, "one_line", None)
    return str(said()) if callable(said) else f"{type(error).__name__}: {error}"


class HelperSettingsReader:
    """Reads a move's settings from vCenter through ``vmotion-helper``'s own session and readers."""

    def __init__(self, env: Mapping[str, str]) -> None:
        from helper.connection import Session
        from helper.credentials import credentials_from_env

        self._session = Session.open(credentials_from_env(env))

    def close(self) -> None:
        self._session.close()

    def __call__(self, move: PendingMove) -> MoveSettings:
        from helper.changes import VmSettings
        from helper.host_option import read_host_timeout
        from helper.inventory import find_by_name
        from helper.properties import read_properties
        from helper.vm_config import ENABLED, TIMEOUT

        content = self._session.content
        values: Any = read_properties(content, find_by_name(content, "VM", move.vm_name), [ENABLED, TIMEOUT])
        settings = VmSettings.from_server(values.get(ENABLED), values.get(TIMEOUT))
        # An absent option counts as 0, its real default [S1 3P], as the bridge reads it.
        source = read_host_timeout(find_by_name(content, "host", move.source_name)) or 0
        destination = read_host_timeout(find_by_name(content, "host", move.destination_name)) or 0
        return MoveSettings(
            vm=move.vm_name,
            source_host=move.source_name,
            destination_host=move.destination_name,
            enabled=bool(settings.enabled),
            vm_timeout=settings.timeout,
            host_timeout=source,
            dest_host_timeout=destination,
        )


class MaintenanceBridge:
    """Runs each pending move through its VM's guest simulator, then tells vcsim to go; see the module."""

    def __init__(
        self,
        env: Mapping[str, str],
        guests: Mapping[str, Guest],
        queue: Optional[MoveQueue] = None,
        read_settings: Optional[SettingsReader] = None,
        on_outcome: Optional[Callable[[MoveOutcome], None]] = None,
    ) -> None:
        self.guests = dict(guests)
        self.queue = queue or MoveQueue.from_env(env)
        self._env = dict(env)
        self._read_settings = read_settings
        self._on_outcome = on_outcome
        self.outcomes: List[MoveOutcome] = []
        self.errors: List[str] = []
        self._seen: Dict[int, threading.Thread] = {}  # by move id
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread: Optional[threading.Thread] = None

    # ------------------------------------------------------------------------------------ running
    def start(self) -> MaintenanceBridge:
        """Poll in a thread of its own until ``stop()``."""
        self._thread = threading.Thread(target=self.run, args=(self._stop,), name="maintenance-bridge", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop polling; the moves under way finish (each guest flow ends within its timeout)."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join()
        self.finish()

    def finish(self) -> None:
        """Wait for the moves under way."""
        for worker in list(self._seen.values()):
            worker.join()

    def __enter__(self) -> MaintenanceBridge:
        return self.start()

    def __exit__(
        self, kind: Optional[Type[BaseException]], error: Optional[BaseException], tb: Optional[TracebackType]
    ) -> None:
        self.stop()

    def run(self, stop: threading.Event) -> bool:
        """Poll until ``stop`` is set (True), or until vCenter or its queue fails (False; ``errors`` says why)."""
        reader = self._read_settings
        owned: Optional[HelperSettingsReader] = None
        try:
            if reader is None:
                reader = owned = HelperSettingsReader(self._env)
            while not stop.is_set():
                for move in self.queue.pending():
                    if move.id not in self._seen:
                        self._begin(move, reader)
                stop.wait(POLL_S)
            return True
        except Exception as failed:  # in a thread of its own, the loop must report, not die silently
            with self._lock:
                self.errors.append(one_line(failed))
            return False
        finally:
            if owned is not None:
                owned.close()

    def _begin(self, move: PendingMove, reader: SettingsReader) -> None:
        sim = self.guests.get(move.vm_name)
        outcome = MoveOutcome(move.vm_name, move.source_name, move.destination_name, notified=False)
        settings = None
        if sim is not None:
            # vCenter is read here, in the loop's thread: the helper's session is not shared between threads.
            try:
                settings = reader(move)
            except Exception as failed:  # the move still gets its go, and the outcome says why it was not notified
                outcome = replace(outcome, error=f"cannot read the settings of {move.vm_name}: {failed}")
        worker = threading.Thread(target=self._move, args=(move, sim, settings, outcome), name=f"move-{move.vm_name}")
        self._seen[move.id] = worker
        worker.start()

    def _move(
        self, move: PendingMove, sim: Optional[Guest], settings: Optional[MoveSettings], outcome: MoveOutcome
    ) -> None:
        try:
            if sim is not None and settings is not None:
                outcome = self._notify(move, sim, settings)
        except Exception as failed:  # a broken guest must not hold the host's evacuation for ever
            outcome = replace(outcome, error=f"{type(failed).__name__}: {failed}")
        finally:
            # The hypervisor migrates in the end whatever the guest did: every move gets its go.
            try:
                self.queue.go(move.vm)
            except MaintenanceBridgeError as failed:
                outcome = replace(outcome, error=str(failed))
            with self._lock:
                self.outcomes.append(outcome)
            if self._on_outcome is not None:
                self._on_outcome(outcome)

    def _notify(self, move: PendingMove, sim: Guest, settings: MoveSettings) -> MoveOutcome:
        """The guest's side of one vMotion: start, the handler's ack or the timeout, the migration, the end."""
        VCenterBridge.apply(cast(Simulator, sim), settings)  # apply needs set only, which every Guest has
        try:
            operation_id = sim.vmotion()
        except SimulatorError as refused:
            return MoveOutcome(move.vm_name, move.source_name, move.destination_name, True, error=str(refused))
        op = sim.operation(operation_id)
        # The guest ends its wait by the deadline; then the migration runs its seconds. Past these bounds the guest
        # is broken, and the hypervisor would not wait for it either.
        give_up = time.monotonic() + float(op["deadline"]) - float(op["requested_at"]) + GUEST_GRACE_S
        while op["phase"] != "done":
            if time.monotonic() > give_up:
                break
            time.sleep(POLL_S)  # polling the guest's operation, not waiting out its timeout
            phase = op["phase"]
            op = sim.operation(operation_id)
            if phase == "waiting-ack" and op["phase"] == "migrating":
                give_up = time.monotonic() + MIGRATION_LIMIT_S
        error = None if op["phase"] == "done" else f"the guest's operation {operation_id} is still {op['phase']}"
        return MoveOutcome(
            move.vm_name, move.source_name, move.destination_name, True, operation_id, bool(op["forced"]),
            bool(op["acked"]), error,
        )
