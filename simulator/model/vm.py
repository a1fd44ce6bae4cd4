"""The rules of one VM's notification service, as the VMX applies them.

Every method takes ``now`` (epoch seconds) and first settles what time alone decides: a start that waited past
its deadline forces the migration, a migration that ran its course queues its end. Nothing here sleeps, so the
same model runs on the wall clock, on a manual clock and under freezegun.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field
from typing import Any, Deque, Dict, List, Optional, Set, Tuple

from simulator.knobs import Knobs
from simulator.model.config import MAX_SECONDS, VmConfig, is_duration
from simulator.model.errors import InvalidInput, Refused
from simulator.model.events import EndEvent, Event, StartEvent, TimeoutChangeEvent
from simulator.model.ids import IdSource
from simulator.model.operation import Operation, Phase

DISABLED_REASON = "VM operation notification not enabled on this VM"  # [S2 VMW-CODE]
UNREGISTER_UNKNOWN_REASON = "Could not find application with the token."  # [S2 VMW-CODE]
MAX_APPS_REASON = (  # [S2 VMW-CODE]; the count follows the max_apps knob
    "Failed to register additional apps. Max allowed limit of {n} concurrent apps already registered."
)
ACK_UNKNOWN_REASON = "Could not find operation with the id."  # invented, in S2's style
ACK_LATE_REASON = "Operation is no longer waiting for an acknowledgement."  # invented
ACK_DUPLICATE_REASON = "Operation already acknowledged."  # invented

_UNSET: Any = object()


@dataclass
class Registration:
    token: str
    app_name: str
    notification_types: Tuple[str, ...]
    registered_at: float
    queue: Deque[Event] = field(default_factory=deque)
    timeout_change_ids: Set[int] = field(default_factory=set)

    def as_status(self) -> dict[str, Any]:
        """Everything but the token: a status read by anyone must not leak the bearer credential."""
        return {
            "app_name": self.app_name,
            "notification_types": list(self.notification_types),
            "registered_at": self.registered_at,
            "queue_depth": len(self.queue),
            "queued": [e.event_type for e in self.queue],
        }


class VirtualMachine:
    def __init__(
        self,
        config: Optional[VmConfig] = None,
        knobs: Optional[Knobs] = None,
        ids: Optional[IdSource] = None,
    ) -> None:
        self.config = config or VmConfig()
        self.knobs = knobs or Knobs()
        self.ids = ids or IdSource()
        self._registrations: Dict[str, Registration] = {}
        self._operations: List[Operation] = []
        self._notes: List[dict[str, Any]] = []
        self._latest = float("-inf")

    # ------------------------------------------------------------------ views
    @property
    def registrations(self) -> List[Registration]:
        return list(self._registrations.values())

    @property
    def operations(self) -> List[Operation]:
        return list(self._operations)

    @property
    def active_operation(self) -> Optional[Operation]:
        if self._operations and self._operations[-1].phase is not Phase.DONE:
            return self._operations[-1]
        return None

    def drain_notes(self) -> List[dict[str, Any]]:
        """What happened inside since the last call, each with the time it happened (for the journal)."""
        notes, self._notes = self._notes, []
        return notes

    # ------------------------------------------------------------------ guest verbs
    def register(self, now: float, app_name: str, notification_types: Tuple[str, ...]) -> Registration:
        now = self.settle(now)
        self._require_enabled()
        accepted = self.knobs.accepted_notification_types
        if not notification_types:
            raise InvalidInput("notificationTypes must name at least one type")
        if accepted is not None:
            unknown = [t for t in notification_types if t not in accepted]
            if unknown:
                raise InvalidInput(f"Unsupported notification type {unknown[0]!r}")
        if self.config.effective_timeout <= 0:
            raise InvalidInput(self.knobs.zero_timeout_reason)
        if len(self._registrations) >= self.knobs.max_apps:
            raise InvalidInput(MAX_APPS_REASON.format(n=self.knobs.max_apps))
        reg = Registration(self.ids.token(), app_name, tuple(notification_types), now)
        self._registrations[reg.token] = reg
        self._note(now, "registered", app=app_name, timeout=self.config.effective_timeout)
        op = self.active_operation
        if op is not None and op.phase is Phase.WAITING_ACK and self.knobs.deliver_start_to_late_registrants:
            self._send_start(op, reg)
        return reg

    def list_apps(self, now: float) -> List[Registration]:
        self.settle(now)
        self._require_enabled()
        return self.registrations

    def unregister(self, now: float, token: str) -> Registration:
        now = self.settle(now)
        self._require_enabled()
        reg = self._registrations.pop(token, None)
        if reg is None:
            raise InvalidInput(UNREGISTER_UNKNOWN_REASON)
        self._note(now, "unregistered", app=reg.app_name, dropped_events=len(reg.queue))
        self._forget_awaiting(now, {token}, why="unregister")
        return reg

    def check_for_event(self, now: float, token: str) -> Optional[Event]:
        """One event per call, oldest first, even when several are queued [S1 3P; FIFO is INF]."""
        now = self.settle(now)
        self._require_enabled()
        reg = self._registration(token)
        while reg.queue:
            event = reg.queue.popleft()
            if self.knobs.purge_stale_starts and isinstance(event, StartEvent) and now >= event.deadline:
                self._note(now, "purged-stale-start", app=reg.app_name, operation_id=event.operation_id)
                continue
            self._note(now, "delivered", app=reg.app_name, event=event.event_type, operation_id=event.operation_id)
            return event
        return None

    def ack_event(self, now: float, token: str, operation_id: int) -> str:
        now = self.settle(now)
        self._require_enabled()
        reg = self._registration(token)
        if operation_id in reg.timeout_change_ids:
            # VMware's sample daemon acks timeout-change and stops if that fails [S2, S3]: accepted.
            self._note(now, "acked-timeout-change", app=reg.app_name, operation_id=operation_id)
            return "ack_received"
        op = self._operation(operation_id)
        if op is None or token not in op.sent_to:
            return self._ack_by_knob(self.knobs.ack_unknown_operation, ACK_UNKNOWN_REASON)
        if token in op.acked_by:
            return self._ack_by_knob(self.knobs.ack_duplicate, ACK_DUPLICATE_REASON)
        if op.phase is not Phase.WAITING_ACK:
            self._note(now, "late-ack", app=reg.app_name, operation_id=operation_id)
            return self._ack_by_knob(self.knobs.ack_after_timeout, ACK_LATE_REASON)
        op.acked_by.add(token)
        op.awaiting.discard(token)
        self._note(now, "acked", app=reg.app_name, operation_id=operation_id, waited=now - op.requested_at)
        if not op.awaiting:
            self._start_migration(op, now)
        return "ack_received"

    # ------------------------------------------------------------------ control (vCenter's side)
    def request_vmotion(
        self, now: float, outcome: str = "success", migration_seconds: float = 15.0
    ) -> Operation:
        now = self.settle(now)
        if outcome not in ("success", "failure"):
            raise Refused("outcome must be success or failure")
        if not is_duration(migration_seconds):
            raise Refused(f"migration_seconds must be a number of seconds from 0 to {MAX_SECONDS}")
        if self.active_operation is not None:
            # vCenter refuses a second migration of a VM while one is in flight.
            raise Refused(f"operation {self.active_operation.operation_id} is still in flight")
        timeout = self.config.effective_timeout
        notified = self.config.enabled and timeout > 0
        op = Operation(
            operation_id=self.ids.migration_id(now),
            requested_at=now,
            outcome=outcome,
            migration_seconds=migration_seconds,
            notified=notified,
            notification_timeout=timeout,
            dest_notification_timeout=self.config.dest_effective_timeout,
            deadline=now + max(timeout, 0),
        )
        self._operations.append(op)
        self._note(now, "vmotion-requested", operation_id=op.operation_id, notified=notified, timeout=timeout)
        if notified:
            for reg in self._registrations.values():
                self._send_start(op, reg)
        if not op.awaiting:
            self._start_migration(op, now)
        return op

    def configure(
        self,
        now: float,
        *,
        enabled: Any = _UNSET,
        host_timeout: Any = _UNSET,
        vm_timeout: Any = _UNSET,
        dest_host_timeout: Any = _UNSET,
    ) -> None:
        """Apply a settings change; ``vm_timeout=None`` or -1 unsets the VM value (vSphere shows -1 [S7 OBS])."""
        now = self.settle(now)
        if vm_timeout == -1 and not isinstance(vm_timeout, bool):
            vm_timeout = None
        for name, value in (
            ("host_timeout", host_timeout),
            ("vm_timeout", vm_timeout),
            ("dest_host_timeout", dest_host_timeout),
        ):
            if value is _UNSET or (value is None and name != "host_timeout"):
                continue
            if isinstance(value, bool) or not isinstance(value, int) or value < 0:
                raise Refused(f"{name} must be a whole number of seconds >= 0")
        if enabled is not _UNSET and not isinstance(enabled, bool):
            raise Refused("enabled must be true or false")
        before = self.config.effective_timeout
        changed: dict[str, Any] = {}
        if enabled is not _UNSET:
            self.config.enabled = enabled
            changed["enabled"] = enabled
        if host_timeout is not _UNSET:
            self.config.host_timeout = host_timeout
            changed["host_timeout"] = host_timeout
        if vm_timeout is not _UNSET:
            self.config.vm_timeout = vm_timeout
            changed["vm_timeout"] = self.config.vm_timeout
        if dest_host_timeout is not _UNSET:
            self.config.dest_host_timeout = dest_host_timeout
            changed["dest_host_timeout"] = dest_host_timeout
        self._note(now, "configured", **changed)
        if enabled is False and self.knobs.disable_drops_registrations:
            self._drop_all(now, why="disabled")
        after = self.config.effective_timeout
        if after != before:
            self._timeout_changed(now, before, after)

    def reboot(self, now: float) -> None:
        """A VM (power-cycle) reboot: every registration and queue is gone [S4/S5 VMW]."""
        now = self.settle(now)
        self._note(now, "rebooted", registrations=len(self._registrations))
        self._drop_all(now, why="reboot")

    def settle(self, now: float) -> float:
        """Apply what the passing of time alone decides, at the times it happened. Returns the model's now."""
        # Time seen by the model never goes backwards, even if a test's clock does.
        now = self._latest = max(now, self._latest)
        op = self.active_operation
        if op is None:
            return now
        if op.phase is Phase.WAITING_ACK and now >= op.deadline:
            op.forced = True
            self._note(op.deadline, "forced", operation_id=op.operation_id, missing_acks=len(op.awaiting))
            op.awaiting.clear()
            self._start_migration(op, op.deadline)
        if op.phase is Phase.MIGRATING and op.migration_started_at is not None:
            ends_at = op.migration_started_at + op.migration_seconds
            if now >= ends_at:
                self._finish(op, ends_at)
        return now

    # ------------------------------------------------------------------ internals
    def _note(self, when: float, what: str, **details: Any) -> None:
        self._notes.append({"time": when, "kind": "model", "what": what, **details})

    def _require_enabled(self) -> None:
        if not self.config.enabled:
            raise InvalidInput(DISABLED_REASON)

    def _registration(self, token: str) -> Registration:
        reg = self._registrations.get(token)
        if reg is None:
            raise InvalidInput(self.knobs.unknown_token_reason)
        return reg

    def _operation(self, operation_id: int) -> Optional[Operation]:
        return next((op for op in self._operations if op.operation_id == operation_id), None)

    def _ack_by_knob(self, knob: str, reason: str) -> str:
        if knob == "error":
            raise InvalidInput(reason)
        return knob

    def _enqueue(self, reg: Registration, event: Event, when: float) -> None:
        limit = self.knobs.queue_limit
        if limit is not None and len(reg.queue) >= limit:
            self._note(when, "queue-full", app=reg.app_name, event=event.event_type)
            return
        reg.queue.append(event)
        self._note(when, "queued", app=reg.app_name, event=event.event_type, operation_id=event.operation_id)

    def _send_start(self, op: Operation, reg: Registration) -> None:
        event = StartEvent(
            operation_id=op.operation_id,
            event_gen_time=int(op.requested_at),
            notification_timeout=op.notification_timeout,
            dest_notification_timeout=op.dest_notification_timeout,
            notification_types=reg.notification_types,
        )
        op.sent_to.add(reg.token)
        op.awaiting.add(reg.token)
        self._enqueue(reg, event, op.requested_at)

    def _start_migration(self, op: Operation, when: float) -> None:
        op.phase = Phase.MIGRATING
        op.migration_started_at = when
        self._note(when, "migration-started", operation_id=op.operation_id, forced=op.forced)

    def _finish(self, op: Operation, when: float) -> None:
        op.phase = Phase.DONE
        op.ended_at = when
        status = "success" if op.outcome == "success" else self.knobs.failure_op_status
        self._note(when, "migration-ended", operation_id=op.operation_id, op_status=status)
        if not op.notified:
            return
        # The end reaches every app registered when the migration ends: on the destination for a success
        # (the registration survives the vMotion [S1 OBS]), on the source for a failure [S13 claim 4].
        for reg in self._registrations.values():
            event = EndEvent(op.operation_id, int(when), status, reg.notification_types)
            self._enqueue(reg, event, when)

    def _timeout_changed(self, now: float, before: int, after: int) -> None:
        op = self.active_operation
        if op is not None and op.phase is Phase.WAITING_ACK and self.knobs.timeout_change_moves_deadline:
            op.deadline = max(now, op.requested_at + max(after, 0))
            self._note(now, "deadline-moved", operation_id=op.operation_id, deadline=op.deadline)
        if self.knobs.emit_timeout_change and self.config.enabled:
            for reg in self._registrations.values():
                event_id = self.ids.timeout_change_id(now)
                reg.timeout_change_ids.add(event_id)
                event = TimeoutChangeEvent(event_id, int(now), before, after, reg.notification_types)
                self._enqueue(reg, event, now)
        self.settle(now)

    def _forget_awaiting(self, now: float, tokens: Set[str], why: str) -> None:
        op = self.active_operation
        if op is None or op.phase is not Phase.WAITING_ACK:
            return
        if op.awaiting & tokens:
            op.awaiting -= tokens
            if not op.awaiting:
                self._note(now, "hold-released", operation_id=op.operation_id, why=why)
                self._start_migration(op, now)

    def _drop_all(self, now: float, why: str) -> None:
        tokens = set(self._registrations)
        self._registrations.clear()
        self._forget_awaiting(now, tokens, why=why)
