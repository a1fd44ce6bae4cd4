"""The handler's policy: register, poll and drain, quiesce within the deadline, ack, unquiesce, unregister.

Synchronous and free of process concerns: the transport, the clock, the hook runner and the state store
are injected, and a ``stop_requested`` callable is polled at every point where stopping is safe. The
process shell (``handler.daemon``) wires real ones; tests wire the simulator and a manual clock.
"""

from __future__ import annotations

import contextlib
import logging
from collections import deque
from dataclasses import dataclass
from typing import Any, Callable, Deque, Dict, Mapping, Optional, Tuple

from handler import defaults
from handler.clock import Clock
from handler.hooks import HookResult, HookRunner, RunningHook
from handler.logs import redact
from handler.metrics import Metrics
from handler.protocol import (
    EndEvent,
    Event,
    RpcError,
    RpcRejected,
    StartEvent,
    TimeoutChangeEvent,
    TransportError,
    UnknownEvent,
    ack_event_request,
    check_for_event_request,
    interpret,
    list_request,
    parse_ack,
    parse_event,
    parse_list,
    parse_register,
    register_request,
    unregister_request,
    verb_of,
)
from handler.state import (
    NOT_ACKED,  # noqa: F401  (its old home: code written against handler.core.NOT_ACKED keeps working)
    HandlerState,
    OperationRecord,
    Phase,
    StartPlan,
    StateError,
    StateStore,
    ends_overdue,
    plan_start,
    quiesce_time_left,
    replanned_deadline,
)
from handler.transport import Transport

ACK_ANYWAY = "ack-anyway"
NO_ACK = "no-ack"
QUIESCE_FAILURE_POLICIES = (ACK_ANYWAY, NO_ACK)

# Hook environment variable names (the only way event data reaches a hook).
ENV_HOOK = "VMOTION_HOOK"
ENV_APP_NAME = "VMOTION_APP_NAME"
ENV_EVENT_TYPE = "VMOTION_EVENT_TYPE"
ENV_OPERATION_ID = "VMOTION_OPERATION_ID"
ENV_OP_TYPE = "VMOTION_OP_TYPE"
ENV_OP_STATUS = "VMOTION_OP_STATUS"
ENV_TIMEOUT = "VMOTION_TIMEOUT"
ENV_DEADLINE = "VMOTION_DEADLINE"
ENV_EVENT_GEN_TIME = "VMOTION_EVENT_GEN_TIME"
ENV_REASON = "VMOTION_REASON"

MAX_DRAIN_WHILE_BUSY = 100  # events fetched in one go while a hook runs; a runaway queue cannot starve the hook
# Refusals of a token call that neither name the token nor can be explained by a `list` before the
# registration counts as lost: the wording of that refusal on a real ESXi is UNKNOWN.
MAX_UNEXPLAINED_REFUSALS = 3

# What a refused token call says about the registration.
LOST = "lost"
KEEP = "keep"  # still valid, or no way to tell: keep the token and retry


@dataclass(frozen=True)
class CoreSettings:
    app_name: str
    interval: float = defaults.INTERVAL
    quiesce: Optional[str] = None
    unquiesce: Optional[str] = None
    safety_margin: float = defaults.SAFETY_MARGIN
    on_quiesce_failure: str = ACK_ANYWAY
    ack_timeout_change: bool = defaults.ACK_TIMEOUT_CHANGE
    unquiesce_timeout: float = defaults.UNQUIESCE_TIMEOUT
    rpc_timeout: float = defaults.RPC_TIMEOUT
    end_timeout: float = defaults.END_TIMEOUT
    backoff_initial: float = defaults.BACKOFF_INITIAL
    backoff_max: float = defaults.BACKOFF_MAX
    dry_run: bool = False
    shutdown_rpc_attempts: int = defaults.SHUTDOWN_RPC_ATTEMPTS


class _Stopped(Exception):
    """Stopping was requested while waiting to retry."""


def format_epoch(value: float) -> str:
    return str(int(value)) if float(value).is_integer() else f"{value:.3f}"


class Handler:
    def __init__(
        self,
        settings: CoreSettings,
        transport: Transport,
        clock: Clock,
        hooks: HookRunner,
        state_store: StateStore,
        metrics: Optional[Metrics] = None,
        logger: Optional[logging.Logger] = None,
        stop_requested: Optional[Callable[[], bool]] = None,
    ) -> None:
        if settings.on_quiesce_failure not in QUIESCE_FAILURE_POLICIES:
            raise ValueError(f"on_quiesce_failure must be one of {QUIESCE_FAILURE_POLICIES}")
        self.settings = settings
        self.transport = transport
        self.clock = clock
        self.hooks = hooks
        self.store = state_store
        self.metrics = metrics or Metrics()
        self.log = logger or logging.getLogger("vmotion_handler")
        self._external_stop = stop_requested or (lambda: False)
        self._stop = False
        self._state = HandlerState()
        self._pending: Deque[Event] = deque()
        self._backoff = settings.backoff_initial
        self._metrics_failing = False
        self._unexplained = 0  # consecutive refusals of token calls that nothing explained
        # For the plausibility of eventGenTimeInSec (the host's clock): when the last poll that found the queue
        # empty began, and when each start was first fetched (monotonic; see handler.state.plan_start).
        self._poll_began: Optional[float] = None
        self._lost_while_busy: Optional[str] = None  # why a poll made while a hook ran found the registration gone
        self._empty_since: Optional[float] = None
        self._sightings: Dict[int, Tuple[float, Optional[float]]] = {}

    # ------------------------------------------------------------------------------------------ public

    def request_stop(self) -> None:
        self._stop = True

    @property
    def registered(self) -> bool:
        return self._state.token is not None

    def run(self) -> int:
        """Register, poll until asked to stop, then clean up. Returns the process exit status (0)."""
        if self.start():
            while not self._stopping():
                self.poll_once()
        self.shutdown()
        return 0

    def poll_once(self) -> None:
        """One period of the loop: poll and handle what came; if nothing did, sleep out the rest of the period.

        Polls start every `interval`, not `interval` after the previous one ended: the time a call takes must
        not stretch the period (it bounds how late a start event is seen). After an event it returns at once,
        since the hypervisor hands out one event per call (drain)."""
        poll_started = self.clock.monotonic()
        try:
            handled = self.step()
        except Exception:  # a bug must not kill the daemon and leave the application quiesced
            self.log.exception("unexpected error in the event loop; continuing")
            self.metrics.inc("vmotion_handler_errors_total", kind="internal")
            handled = False
            self._sleep_backoff()
        self._flush_metrics()
        if not handled and not self._stopping():
            self.clock.sleep(self.settings.interval - (self.clock.monotonic() - poll_started))

    def start(self) -> bool:
        """Recover from a previous run, then hold a registration. False if stopped before registering."""
        try:
            self._state = self.store.load()
        except StateError as exc:
            self.log.warning("%s; starting without it", exc)
            self._state = HandlerState()
        mode = " (dry run: no hooks, no acks)" if self.settings.dry_run else ""
        self._info(f"starting as app {self.settings.app_name!r}{mode}")
        self._stop_leftover_hooks()
        recovered = self._recover_last_call()
        reused = False
        old = self._state.token
        if old is not None:
            if self._state.app_name != self.settings.app_name:
                self._info(f"unregistering the previous run's registration of app {self._state.app_name!r}")
                self._unregister_quietly(old)
                self._state.token = None
            else:
                try:
                    reused = self._probe(old)
                except _Stopped:
                    return False
                if reused:
                    self._info("the previous run's registration is still valid: reusing it")
                    if recovered is not None:
                        self._buffer_reply(recovered, first=True)
                else:
                    self._info("the previous run's registration is gone; unregistering it to be sure")
                    self._unregister_quietly(old)
                    self._state.token = None
            self._save()
        if not reused and not self._register():
            return False
        self._recover_operations(reused)
        self._flush_metrics()
        return True

    def step(self) -> bool:
        """Handle one event (a buffered one first). True if there was one: the caller asks again at once."""
        if self._stopping():
            return False
        self._give_up_on_lost_ends()
        event = self._pending.popleft() if self._pending else self._fetch()
        if event is None:
            return False
        self._handle(event)
        return True

    def shutdown(self) -> None:
        self._info("shutting down")
        self._release_pending_starts()
        self._unquiesce_all(reason="shutdown")
        if self._state.token is not None:
            if self._unregister(self._state.token):
                self._state.token = None
            else:
                self.log.error("could not unregister; the token stays in the state file for the next run")
        if self._state.token is None and not self._state.operations:
            self.store.clear()
        else:
            self._save()
        self.metrics.set("vmotion_handler_registered", 0)
        self._flush_metrics(force=True)
        self._info("stopped")

    def _give_up_on_lost_ends(self) -> None:
        """Never leave the application quiesced for good: an end can be lost (fetched by a run that crashed
        before it recorded it, or never sent), and no RPC tells whether an operation is still running."""
        for op in ends_overdue(self._state, self.clock.now(), self.settings.end_timeout):
            self.log.warning("no end event for operation %s %g s after its timeout: unquiescing anyway",
                             op.operation_id, self.settings.end_timeout,
                             extra={"fields": {"operation_id": op.operation_id}})
            self._unquiesce(op, reason="end-timeout")

    def _release_pending_starts(self) -> None:
        """A start fetched but not yet handled when the stop came: ack it, so the vMotion is not held.

        Nothing was quiesced for it, so nothing needs undoing; unregistering alone might leave the host
        waiting for this app's ack until the timeout (whether it does is not documented).
        """
        while self._pending:
            event = self._pending.popleft()
            if isinstance(event, StartEvent) and self.clock.now() < self._plan(event).hard_deadline:
                self._info(f"stopping before start {event.operation_id} was handled: acking it unquiesced",
                           operation_id=event.operation_id)
                if not self.settings.dry_run:
                    self._ack(event.operation_id, retry_until=None, what="start")

    # ---------------------------------------------------------------------------------------- plumbing

    def _stopping(self) -> bool:
        return self._stop or self._external_stop()

    def _info(self, message: str, **fields: Any) -> None:
        self.log.info(message, extra={"fields": fields} if fields else None)

    def _save(self) -> None:
        if self._state.token is not None:
            self._state.app_name = self.settings.app_name
        self.store.save(self._state)

    def _flush_metrics(self, force: bool = False) -> None:
        # Metrics are an aid: a full disk or a vanished directory must not stop the daemon mid-operation.
        try:
            self.metrics.flush(force=force)
        except OSError as exc:
            if not self._metrics_failing:
                self.log.warning("cannot write the metrics file: %s", exc)
            self._metrics_failing = True
        else:
            self._metrics_failing = False

    def _sleep_backoff(self) -> None:
        self.clock.sleep(self._backoff)
        self._backoff = min(self._backoff * 2, self.settings.backoff_max)

    def _call(
        self, request: str, retry_until: Optional[float] = None, attempts: Optional[int] = None
    ) -> Dict[str, Any]:
        """One RPC with capped exponential backoff on transport errors.

        Retries until it succeeds, ``attempts`` are used up, the next try would start after ``retry_until``
        (epoch seconds), or stopping is requested. A rejection is never retried: the same request would be
        rejected again.
        """
        verb = verb_of(request)
        attempt = 0
        while True:
            attempt += 1
            try:
                try:
                    outcome = self.transport(request)
                except TransportError:
                    raise
                except Exception as exc:  # an in-process transport may raise anything
                    raise TransportError("os-error", repr(exc)) from exc
                # Redacted here, not only by the daemon's log set-up: an embedding program's logging has no filter.
                self.log.debug("rpc %s -> exit %s, stdout %r, stderr %r", redact(request), outcome.exit_code,
                               redact(outcome.stdout), redact(outcome.stderr))
                obj = interpret(outcome.stdout, outcome.stderr, outcome.exit_code)
            except RpcRejected:
                self.metrics.inc("vmotion_handler_errors_total", kind="rejected")
                raise
            except TransportError as exc:
                self.metrics.inc("vmotion_handler_errors_total", kind=exc.kind)
                self.log.warning("%s failed (attempt %d): %s", verb, attempt, redact(str(exc)),
                                 extra={"fields": {"rpc": verb, "error": exc.kind}})
                if attempts is not None:
                    # Bounded retries (unregister at shutdown) go on even while stopping.
                    if attempt >= attempts:
                        raise
                elif self._stopping():
                    raise _Stopped() from exc
                elif retry_until is not None and self.clock.now() + self._backoff > retry_until:
                    raise
                self._sleep_backoff()
                continue
            self._backoff = self.settings.backoff_initial
            return obj

    # ----------------------------------------------------------------------------------- registration

    def _register(self) -> bool:
        while not self._stopping():
            try:
                reply = parse_register(self._call(register_request(self.settings.app_name)))
            except _Stopped:
                return False
            except TransportError as exc:
                # _call retries transport failures itself; this is a reply without a usable token.
                self.metrics.inc("vmotion_handler_errors_total", kind=exc.kind)
                self.log.error("register reply cannot be used: %s", exc)
                self._sleep_backoff()
                continue
            except RpcRejected as exc:
                self.log.error("register rejected: %s%s", exc.message, _REGISTER_ADVICE.get(exc.reason, ""))
                self._sleep_backoff()
                continue
            self._state.token = reply.unique_token
            self._empty_since = None  # a new queue: nothing is known of when its first events were made
            self._state.app_name = self.settings.app_name
            self._save()  # before anything else: a crash from here on must not leak the registration
            self.metrics.set("vmotion_handler_registered", 1)
            timeout = reply.notification_timeout
            self._info(
                f"registered app {self.settings.app_name!r}; notificationTimeoutInSec={timeout}; "
                f"polling every {self.settings.interval:g} s",
                notification_timeout=timeout,
            )
            return True
        return False

    def _probe(self, token: str) -> bool:
        """Is a token from the previous run still registered? A check-for-event tells; its event is kept.

        A refusal that does not show the registration gone (notifications disabled on the VM) keeps the
        token: dropping a valid one would leak it, and the one-app limit would refuse every new one.
        """
        try:
            obj = self._check_for_event(token)
        except RpcRejected as exc:
            if self._judge_refusal(exc) == LOST:
                return False
            self.log.warning("cannot tell whether the previous run's registration is still valid (%s): "
                             "keeping it and retrying", exc.message)
            self._state.token = token
            self.metrics.set("vmotion_handler_registered", 1)
            return True
        self._state.token = token
        self.metrics.set("vmotion_handler_registered", 1)
        self._buffer_reply(obj)
        return True

    def _unregister(self, token: str) -> bool:
        try:
            self._call(unregister_request(token), attempts=self.settings.shutdown_rpc_attempts)
        except RpcRejected as exc:
            if exc.reason == "unknown-token":
                self._info("the registration was already gone")
                return True
            self.log.error("unregister rejected: %s", exc.message)
            return False
        except (TransportError, _Stopped):
            return False
        self._info(f"unregistered app {self.settings.app_name!r}")
        return True

    def _unregister_quietly(self, token: str) -> None:
        with contextlib.suppress(RpcRejected, TransportError, _Stopped):
            self._call(unregister_request(token), attempts=1)

    def _judge_refusal(self, exc: RpcRejected) -> str:
        """A token call was refused: is the registration gone (LOST), or is it kept (KEEP)?

        A refusal naming the token decides at once. Otherwise ``list`` is asked: no app of this name
        means the registration is gone, whatever the refusal said; a refused or unusable ``list`` (the VM
        flag off) cannot tell, nor can a list that shows the name. "Not enabled" then keeps the token.
        Refusals nothing explains count as a loss after MAX_UNEXPLAINED_REFUSALS in a row: re-registering
        unregisters the old token first, so a wrong guess costs a re-registration, never a leak.
        """
        if exc.reason == "unknown-token":
            return LOST
        try:
            names = parse_list(self._call(list_request(), attempts=1))
        except (RpcError, _Stopped):
            names = None
        if names is not None and self.settings.app_name not in names:
            return LOST
        if exc.reason == "not-enabled":
            return KEEP  # no RPC works while the flag is off [S6 DOC]; the registration may well survive it
        self._unexplained += 1
        if self._unexplained >= MAX_UNEXPLAINED_REFUSALS:
            self.log.warning("%d refusals in a row that nothing explains: treating the registration as lost",
                             self._unexplained)
            return LOST
        return KEEP

    def _registration_lost(self, why: str) -> None:
        self.log.warning("the registration is gone (%s); registering again", why)
        self._unexplained = 0
        self._lost_while_busy = None
        old = self._state.token
        if old is not None:
            self._unregister_quietly(old)  # in case it is not gone after all: never leak it
        self._state.token = None
        self.metrics.set("vmotion_handler_registered", 0)
        # No end event will reach a new registration for an operation of the old one.
        self._unquiesce_all(reason="registration-lost")
        self._save()
        self._register()

    def _recover_operations(self, reused: bool) -> None:
        for op in list(self._state.operations):
            self._info(f"operation {op.operation_id} was left in phase {op.phase.value!r} by the previous run",
                       operation_id=op.operation_id, phase=op.phase.value)
            if not reused or op.phase is Phase.UNQUIESCING:
                # Without the old registration its end event will never come: unquiesce now.
                self._unquiesce(op, reason="recovery")
                continue
            if op.phase in (Phase.QUIESCING, Phase.QUIESCED) and self.clock.now() < op.hard_deadline:
                interrupted = op.phase is Phase.QUIESCING
                if interrupted and self.settings.on_quiesce_failure == NO_ACK:
                    op.phase = Phase.NOT_ACKED
                    self._save()
                    continue
                if interrupted:
                    op.phase = Phase.QUIESCED  # the crash ended the quiesce
                    self._save()
                if self._ack(op.operation_id, retry_until=op.hard_deadline, what="start"):
                    op.phase = Phase.ACKED
                    self._save()
            # Kept: its end event (still queued for this registration) triggers the unquiesce.

    # ---------------------------------------------------------------------------------------- polling

    def _fetch(self) -> Optional[Event]:
        token = self._state.token
        if token is None:
            if not self._register():
                return None
            token = self._state.token
            assert token is not None
        self.metrics.set("vmotion_handler_last_poll_timestamp_seconds", self.clock.now())
        try:
            obj = self._check_for_event(token)
        except _Stopped:
            return None
        except TransportError:
            return None  # a malformed event: already logged and counted
        except RpcRejected as exc:
            if self._judge_refusal(exc) == LOST:
                self._registration_lost(exc.message)
            else:
                self.log.error("check-for-event rejected: %s", exc.message)
                if exc.reason == "not-enabled" and self._state.operations:
                    # With the VM flag off, RPCs of registered apps stop working [S6 DOC]: the end event
                    # cannot be fetched, and waiting for it would leave the application quiesced indefinitely.
                    self.log.warning("notifications are disabled on this VM; unquiescing without the end event")
                    self._unquiesce_all(reason="notifications-disabled")
                self._sleep_backoff()
            return None
        self._unexplained = 0
        self._buffer_reply(obj)
        return self._pending.popleft() if self._pending else None

    def _check_for_event(self, token: str, attempts: Optional[int] = None) -> Dict[str, Any]:
        self._poll_began = self.clock.monotonic()
        return self._call(check_for_event_request(token), attempts=attempts)

    def _buffer_reply(self, obj: Dict[str, Any], first: bool = False) -> None:
        """Queue the event of a check-for-event reply; ``first``: a previous run's reply, ahead of the rest
        (when that poll was made is unknown, so it says nothing of when later events were made)."""
        try:
            event = parse_event(obj)
        except TransportError as exc:
            self.metrics.inc("vmotion_handler_errors_total", kind=exc.kind)
            self.log.error("check-for-event returned an event that cannot be used: %s", exc)
            return
        if event is None:
            if not first:
                self._empty_since = self._poll_began  # whatever is fetched from now on was made after this
            return
        if isinstance(event, StartEvent):
            earliest = None if first else self._empty_since
            self._sightings.setdefault(event.operation_id, (self.clock.monotonic(), earliest))
        if first:
            self._pending.appendleft(event)
        else:
            self._pending.append(event)

    # ------------------------------------------------------------------------------------- leftovers

    def _stop_leftover_hooks(self) -> None:
        """A hook of a run that was killed may still be running (it leads its own session): stop it before
        anything is acked or unquiesced, or a quiesce that finishes late leaves the application quiesced."""
        stop = getattr(self.hooks, "stop_leftovers", None)
        if stop is not None:
            what = stop()
            if what:
                self.log.warning("stopped the previous run's %s hook, still running", what)

    def _recover_last_call(self) -> Optional[Dict[str, Any]]:
        """The reply of the previous run's last vmtoolsd call, which outlives a run killed mid-call.

        A register reply's token is adopted (else that registration would leak); a check-for-event reply
        is returned, and its event handled if the registration it came from is reused. Handling it again
        when the previous run had already done so is harmless: a start seen again is skipped, an end of
        an operation no longer recorded unquiesces nothing.
        """
        recover = getattr(self.transport, "recover", None)
        call = recover() if recover is not None else None
        if call is None:
            return None
        if call.outcome is None:
            if call.verb in ("register", "check-for-event"):
                self.log.warning("the previous run died during a %s call that left no reply: %s", call.verb,
                                 _LOST_REPLY.get(call.verb, ""))
            return None
        try:
            obj = interpret(call.outcome.stdout, call.outcome.stderr, call.outcome.exit_code)
        except RpcError:
            return None
        if call.verb == "check-for-event":
            return obj
        if call.verb != "register":
            return None
        try:
            token = parse_register(obj).unique_token
        except TransportError:
            return None
        old = self._state.token
        if token == old:
            return None
        self._info("the previous run's last register succeeded after it stopped: adopting that registration")
        # Its appName was this run's unless the name changed in between; start() then unregisters it.
        self._state.app_name = self._state.app_name or self.settings.app_name
        self._state.token = token
        self.store.save(self._state)
        if old is not None:
            self._unregister_quietly(old)
        return None

    def _wait_polling(self, proc: RunningHook, time_left: Callable[[], float],
                      running: Optional[OperationRecord]) -> Optional[HookResult]:
        """Wait up to one interval for a running hook (its result, or None), then keep reading events: a
        hook may run for minutes, and the hypervisor does not wait (a timeout-change must re-plan a quiesce
        now; a start must be seen, and its deadline planned, when it comes).

        A hung vmtoolsd holds a poll for up to rpc_timeout: near the hook's time limit a poll could delay its
        kill (and so the ack) past the hypervisor's timeout, so the last stretch is not polled. Nor is the
        stop: events fetched then would not be acted on."""
        finished = proc.wait(min(time_left(), self.settings.interval))
        if finished is None and time_left() > self.settings.rpc_timeout and not self._stopping():
            self._poll_while_busy(running)
        return finished

    def _poll_while_busy(self, running: Optional[OperationRecord]) -> None:
        """While a hook runs, read what events came; timeout-changes are acted on now, the rest after it."""
        token = self._state.token
        if token is None:
            return
        for _ in range(MAX_DRAIN_WHILE_BUSY):
            try:
                obj = self._check_for_event(token, attempts=1)
            except RpcRejected as exc:
                if self._judge_refusal(exc) == LOST:
                    self._lost_while_busy = exc.message  # a running quiesce can stop: its ack cannot be sent
                return
            except (TransportError, _Stopped):
                return  # logged; the main loop deals with it after the hook
            before = len(self._pending)
            self._buffer_reply(obj)
            if len(self._pending) == before:
                return  # nothing pending
            event = self._pending.pop()
            if isinstance(event, TimeoutChangeEvent):
                self.metrics.inc("vmotion_handler_events_total", event_type=event.event_type)
                self._on_timeout_change(event, running)
            else:
                self._pending.append(event)

    # --------------------------------------------------------------------------------------- handling

    def _handle(self, event: Event) -> None:
        self.metrics.inc("vmotion_handler_events_total", event_type=event.event_type)
        if isinstance(event, StartEvent):
            self._on_start(event)
        elif isinstance(event, EndEvent):
            self._on_end(event)
        elif isinstance(event, TimeoutChangeEvent):
            self._on_timeout_change(event, None)
        elif isinstance(event, UnknownEvent):
            self.log.warning("unknown eventType %r (operationId %s) skipped", event.event_type,
                             event.operation_id, extra={"fields": {"event_type": event.event_type}})

    def _plan(self, event: StartEvent) -> StartPlan:
        now, mono = self.clock.now(), self.clock.monotonic()
        seen, earliest = self._sightings.pop(event.operation_id, (mono, None))
        plan = plan_start(event.event_gen_time, event.notification_timeout, self.settings.safety_margin,
                          seen_at=now - (mono - seen), earliest=None if earliest is None else now - (mono - earliest))
        if plan.clock_skew:
            self.log.warning(
                "clock skew: eventGenTimeInSec of operation %s is not when this guest saw the event made: the "
                "host's clock is %s by about %.0f s; its deadline is counted from the guest's own time instead",
                event.operation_id, "ahead" if plan.clock_skew > 0 else "behind", abs(plan.clock_skew),
                extra={"fields": {"operation_id": event.operation_id, "clock_skew": round(plan.clock_skew, 3)}},
            )
            self.metrics.set("vmotion_handler_clock_skew_seconds", plan.clock_skew)
        return plan

    def _on_start(self, event: StartEvent) -> None:
        now = self.clock.now()
        plan = self._plan(event)
        hard_deadline, deadline = plan.hard_deadline, plan.deadline
        op_id = event.operation_id
        self._info(
            f"start: operation {op_id} ({event.op_type}), notificationTimeoutInSec={event.notification_timeout}, "
            f"eventGenTimeInSec={event.event_gen_time}; quiesce deadline in {deadline - now:.1f} s",
            event_type="start", operation_id=op_id,
        )
        if self._state.find(op_id) is not None:
            self.log.warning("start for operation %s seen again; already handled, skipped", op_id)
            return
        if now >= deadline:
            self.log.warning(
                "stale start: operation %s's deadline passed %.1f s ago; quiesce skipped",
                op_id, now - deadline, extra={"fields": {"event_type": "start", "operation_id": op_id}},
            )
            if now < hard_deadline and not self.settings.dry_run:
                self._ack(op_id, retry_until=hard_deadline, what="start")  # releases the held migration now
            else:
                self.metrics.inc("vmotion_handler_forced_migrations_total")
            return
        if self.settings.dry_run:
            self._info(f"dry run: would run quiesce {self.settings.quiesce!r} and ack operation {op_id}",
                       operation_id=op_id)
            return
        op = OperationRecord(op_id, Phase.QUIESCING, event.event_gen_time, event.notification_timeout, deadline,
                             clock_skew=plan.clock_skew)
        self._state.operations.append(op)
        self._save()  # before acting: a crash during quiesce must lead to an unquiesce
        result: Optional[HookResult] = None
        if self.settings.quiesce:
            result = self._run_quiesce(op, event)
            if self._lost_while_busy is not None:
                self._registration_lost(self._lost_while_busy)  # unquiesces this operation too
                return
        else:
            self._info("no quiesce command configured; acking at once")
        if result is not None and not result.ok:
            if self.settings.on_quiesce_failure == NO_ACK:
                self.log.error(
                    "quiesce for operation %s %s; not acking (policy no-ack): the hypervisor forces the "
                    "migration at its timeout", op_id, result.describe(),
                )
                op.phase = Phase.NOT_ACKED
                self._save()
                self.metrics.inc("vmotion_handler_forced_migrations_total")
                return
            self.log.warning(
                "quiesce for operation %s %s; acking anyway (policy ack-anyway): the migration would be "
                "forced at the timeout regardless", op_id, result.describe(),
            )
        op.phase = Phase.QUIESCED
        self._save()
        if self._ack(op_id, retry_until=op.hard_deadline, what="start"):
            op.phase = Phase.ACKED
            self._save()
        else:
            self.metrics.inc("vmotion_handler_forced_migrations_total")

    def _run_quiesce(self, op: OperationRecord, event: StartEvent) -> HookResult:
        assert self.settings.quiesce is not None
        env = self._hook_env("quiesce", op, event_type="start", op_type=event.op_type, reason="start")
        started = self.clock.monotonic()
        self._info(f"quiesce: running {self.settings.quiesce!r}", hook="quiesce", operation_id=op.operation_id)
        proc = self.hooks.start("quiesce", self.settings.quiesce, env)
        outcome = "ok"
        self._lost_while_busy = None
        while True:
            remaining = quiesce_time_left(op, self.clock.now())
            if remaining <= 0:
                result = proc.kill()
                outcome = "killed"
                self.log.warning("quiesce still running at its deadline: killed", extra={"fields": {
                    "hook": "quiesce", "operation_id": op.operation_id}})
                break
            if self._stopping():
                result = proc.kill()
                outcome = "killed"
                self.log.warning("stop requested during quiesce: quiesce killed")
                break
            finished = self._wait_polling(proc, lambda: quiesce_time_left(op, self.clock.now()), op)
            if finished is not None:
                result = finished
                outcome = "ok" if result.ok else "failed"
                break
            if self._lost_while_busy is not None:
                result = proc.kill()
                outcome = "killed"
                self.log.warning("the registration is gone: the ack can no longer be sent, so the quiesce is killed",
                                 extra={"fields": {"hook": "quiesce", "operation_id": op.operation_id}})
                break
        seconds = self.clock.monotonic() - started
        self.metrics.observe_hook("quiesce", seconds, outcome)
        self._info(f"quiesce: {result.describe()} after {seconds:.1f} s", hook="quiesce",
                   operation_id=op.operation_id, seconds=round(seconds, 3))
        return result

    def _on_timeout_change(self, event: TimeoutChangeEvent, running: Optional[OperationRecord]) -> None:
        self._info(
            f"timeout-change: notificationTimeoutInSec {event.notification_timeout} -> "
            f"{event.new_notification_timeout}",
            event_type="timeout-change", operation_id=event.operation_id,
        )
        for op in self._state.operations:
            if op.phase is not Phase.QUIESCING:
                continue
            deadline = replanned_deadline(op, event.new_notification_timeout, self.settings.safety_margin)
            if deadline is None:
                self._info(f"operation {op.operation_id} keeps its quiesce deadline: the held migration may "
                           "still be forced at the old timeout", operation_id=op.operation_id)
                continue
            op.notification_timeout = event.new_notification_timeout
            op.deadline = deadline
            self._info(f"re-planned operation {op.operation_id}: quiesce deadline in "
                       f"{op.deadline - self.clock.now():.1f} s", operation_id=op.operation_id)
        if self._state.operations:
            self._save()
        if self.settings.ack_timeout_change and not self.settings.dry_run:
            until = running.deadline if running is not None else self.clock.now() + self.settings.backoff_max
            self._ack(event.operation_id, retry_until=until, what="timeout-change")

    def _on_end(self, event: EndEvent) -> None:
        op_id = event.operation_id
        if event.op_status == "success":
            self._info(f"end: operation {op_id} ({event.op_type}) opStatus=success",
                       event_type="end", operation_id=op_id, op_status=event.op_status)
        else:
            self.log.warning("end: operation %s opStatus=%s: the migration failed, the VM did not move",
                             op_id, event.op_status, extra={"fields": {
                                 "event_type": "end", "operation_id": op_id, "op_status": event.op_status}})
        op = self._state.find(op_id)
        if op is None:
            self._info(f"end: this handler did not quiesce for operation {op_id}; nothing to unquiesce",
                       operation_id=op_id)
            return
        self._unquiesce(op, reason="end", event_type="end", op_status=event.op_status)

    def _unquiesce_all(self, reason: str) -> None:
        for op in list(self._state.operations):
            self._unquiesce(op, reason=reason)

    def _unquiesce(self, op: OperationRecord, reason: str, event_type: str = "",
                   op_status: str = "") -> None:
        op.phase = Phase.UNQUIESCING
        self._save()
        command = self.settings.unquiesce
        if command:
            env = self._hook_env("unquiesce", op, event_type=event_type, reason=reason, op_status=op_status)
            self._info(f"unquiesce ({reason}): running {command!r}", hook="unquiesce",
                       operation_id=op.operation_id)
            started = self.clock.monotonic()
            proc = self.hooks.start("unquiesce", command, env)
            until = started + self.settings.unquiesce_timeout
            result: Optional[HookResult] = None
            while result is None and until - self.clock.monotonic() > 0:
                result = self._wait_polling(proc, lambda: until - self.clock.monotonic(), None)
            if result is None:
                result = proc.kill()
                self.log.error("unquiesce still running after %g s: killed", self.settings.unquiesce_timeout)
            seconds = self.clock.monotonic() - started
            outcome = "ok" if result.ok else ("killed" if result.killed else "failed")
            self.metrics.observe_hook("unquiesce", seconds, outcome)
            level = logging.INFO if result.ok else logging.ERROR
            self.log.log(level, "unquiesce: %s after %.1f s", result.describe(), seconds,
                         extra={"fields": {"hook": "unquiesce", "operation_id": op.operation_id}})
        self._state.drop(op.operation_id)
        self._save()

    def _ack(self, operation_id: int, retry_until: Optional[float], what: str) -> bool:
        token = self._state.token
        if token is None:
            return False
        try:
            reply = parse_ack(self._call(ack_event_request(token, operation_id), retry_until=retry_until))
        except RpcRejected as exc:
            self.metrics.inc("vmotion_handler_acks_total", result="rejected")
            self.log.warning("ack of %s %s rejected: %s", what, operation_id, exc.message)
            return False
        except (TransportError, _Stopped) as exc:
            self.metrics.inc("vmotion_handler_acks_total", result="failed")
            self.log.error("ack of %s %s failed: %s", what, operation_id, exc)
            return False
        self.metrics.inc("vmotion_handler_acks_total", result="ok")
        self._info(f"acked {what} {operation_id}: ackStatus={reply.ack_status}", operation_id=operation_id,
                   ack_status=reply.ack_status)
        return True

    def _hook_env(self, hook: str, op: OperationRecord, event_type: str, reason: str, op_type: str = "",
                  op_status: str = "") -> Mapping[str, str]:
        env = {
            ENV_HOOK: hook,
            ENV_APP_NAME: self.settings.app_name,
            ENV_EVENT_TYPE: event_type,
            ENV_OPERATION_ID: str(op.operation_id),
            ENV_TIMEOUT: str(op.notification_timeout),
            ENV_DEADLINE: format_epoch(op.deadline),
            ENV_EVENT_GEN_TIME: str(op.event_gen_time),
            ENV_REASON: reason,
        }
        if op_type:
            env[ENV_OP_TYPE] = op_type
        if op_status:
            env[ENV_OP_STATUS] = op_status
        return env


_LOST_REPLY = {
    "register": "if it registered, that registration is leaked until a VM reboot (the one-app limit will say so)",
    "check-for-event": "an event it fetched is lost (a start is forced at its timeout; an end is waited for "
    "until end_timeout)",
}

_REGISTER_ADVICE = {
    "limit-reached": (
        " (only one app may register per VM; if it is a registration leaked by a run whose state file is "
        "lost, only a VM reboot clears it)"
    ),
    "not-enabled": " (enable vmOpNotificationToAppEnabled on the VM and set VmOpNotificationToApp.Timeout > 0)",
}
