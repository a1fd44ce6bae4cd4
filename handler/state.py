"""The handler's state machine and its crash-safety record.

Each operation this handler acted on moves through the phases of ``Phase``; which phase may follow which is
data (``TRANSITIONS``), checked on every change and when the state file is loaded. The functions at the end
answer "what is due now" from the state and the time alone; the core decides what to do about it.

The record is written atomically (temporary file, fsync, rename) with mode 0600 *before* each action, so a
restarted handler knows which registration to reuse or unregister and which operation left the application
quiesced.
"""

from __future__ import annotations

import contextlib
import copy
import json
import math
import os
from dataclasses import dataclass, field
from enum import Enum
from typing import Any, Dict, FrozenSet, List, Mapping, Optional, Protocol

from handler.atomic import write_atomically

FORMAT_VERSION = 1
MAX_OPERATION_ID = 2**64 - 1


class Phase(str, Enum):
    """Where one operation stands. Every phase means the application may be quiesced: an operation leaves
    the record only once its unquiesce is over. The values are the state file's words."""

    QUIESCING = "quiescing"  # the quiesce command runs (or ran when a crash came)
    QUIESCED = "quiesced"  # the quiesce is over (ok, failed or killed); not yet acked
    NOT_ACKED = "not-acked"  # the quiesce is over and the policy said not to ack: the migration is forced
    ACKED = "acked"
    UNQUIESCING = "unquiescing"

    def __str__(self) -> str:
        return self.value


# Which phase may follow which. An operation is created in QUIESCING and dropped after UNQUIESCING; a crashed
# unquiesce is run again (UNQUIESCING -> UNQUIESCING). Stopping, a lost registration or a lost end can
# unquiesce from any phase.
FIRST_PHASE = Phase.QUIESCING
TRANSITIONS: Mapping[Phase, FrozenSet[Phase]] = {
    Phase.QUIESCING: frozenset({Phase.QUIESCED, Phase.NOT_ACKED, Phase.UNQUIESCING}),
    Phase.QUIESCED: frozenset({Phase.ACKED, Phase.UNQUIESCING}),
    Phase.NOT_ACKED: frozenset({Phase.UNQUIESCING}),
    Phase.ACKED: frozenset({Phase.UNQUIESCING}),
    Phase.UNQUIESCING: frozenset({Phase.UNQUIESCING}),
}

# Kept for code written against the phases as strings (``Phase`` members compare equal to them).
QUIESCING = Phase.QUIESCING
QUIESCED = Phase.QUIESCED
NOT_ACKED = Phase.NOT_ACKED
ACKED = Phase.ACKED
UNQUIESCING = Phase.UNQUIESCING


class IllegalTransition(Exception):
    """A phase change the state machine does not allow: a bug in the handler, never bad input."""


class StateError(Exception):
    pass


@dataclass
class OperationRecord:
    operation_id: int
    phase: Phase
    event_gen_time: int  # eventGenTimeInSec: the host's clock
    notification_timeout: int
    deadline: float  # when the quiesce must be over (guest epoch seconds, safety margin included)
    # The host's clock minus the guest's, when the start's eventGenTimeInSec was implausible (0: trusted).
    clock_skew: float = 0.0

    def __setattr__(self, name: str, value: Any) -> None:
        # Every phase change, however it is written, goes through the transition table.
        if name == "phase":
            new = Phase(value)
            old = self.__dict__.get("phase")
            if old is not None and new not in TRANSITIONS[old]:
                raise IllegalTransition(f"operation {self.__dict__.get('operation_id')}: {old} -> {new}")
            value = new
        object.__setattr__(self, name, value)

    @property
    def hard_deadline(self) -> float:
        """When the hypervisor forces the migration without our ack (guest epoch seconds)."""
        return float(self.event_gen_time + self.notification_timeout) - self.clock_skew

    def to_json(self) -> Dict[str, Any]:
        obj: Dict[str, Any] = {
            "operation_id": self.operation_id,
            "phase": self.phase.value,
            "event_gen_time": self.event_gen_time,
            "notification_timeout": self.notification_timeout,
            "deadline": self.deadline,
        }
        if self.clock_skew:
            obj["clock_skew"] = self.clock_skew
        return obj

    @classmethod
    def from_json(cls, obj: Any) -> OperationRecord:
        """A record from the state file; ValueError for anything a handler could not have written."""
        if not isinstance(obj, dict):
            raise ValueError("an operation is not an object")
        try:
            phase = Phase(obj["phase"])
        except ValueError:
            raise ValueError(f"unknown phase {obj['phase']!r}") from None
        return cls(
            operation_id=_integer(obj, "operation_id", 0, MAX_OPERATION_ID),
            phase=phase,
            event_gen_time=_integer(obj, "event_gen_time", 0, MAX_OPERATION_ID),
            notification_timeout=_integer(obj, "notification_timeout", 0, MAX_OPERATION_ID),
            deadline=_number(obj, "deadline"),
            clock_skew=_number(obj, "clock_skew", 0.0),
        )


def _integer(obj: Mapping[str, Any], key: str, low: int, high: int) -> int:
    value = obj[key]
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        raise ValueError(f"{key} is not an integer in [{low}, {high}]: {value!r:.40}")
    return value


def _number(obj: Mapping[str, Any], key: str, default: Optional[float] = None) -> float:
    value = obj.get(key, default) if default is not None else obj[key]
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        raise ValueError(f"{key} is not a finite number: {value!r:.40}")
    return float(value)


def _optional_text(obj: Mapping[str, Any], key: str) -> Optional[str]:
    value = obj.get(key)
    if value is not None and not isinstance(value, str):
        raise ValueError(f"{key} is not a string")
    return value


@dataclass
class HandlerState:
    app_name: Optional[str] = None
    token: Optional[str] = None
    operations: List[OperationRecord] = field(default_factory=list)

    def find(self, operation_id: int) -> Optional[OperationRecord]:
        for op in self.operations:
            if op.operation_id == operation_id:
                return op
        return None

    def drop(self, operation_id: int) -> None:
        self.operations = [op for op in self.operations if op.operation_id != operation_id]

    def to_json(self) -> Dict[str, Any]:
        return {
            "version": FORMAT_VERSION,
            "app_name": self.app_name,
            "token": self.token,
            "operations": [op.to_json() for op in self.operations],
        }

    @classmethod
    def from_json(cls, obj: Any) -> HandlerState:
        if not isinstance(obj, dict):
            raise ValueError("not a JSON object")
        if obj.get("version", FORMAT_VERSION) != FORMAT_VERSION:
            raise ValueError(f"unknown format version {obj.get('version')!r:.40}")
        operations = obj.get("operations", [])
        if not isinstance(operations, list):
            raise ValueError("operations is not a list")
        state = cls(app_name=_optional_text(obj, "app_name"), token=_optional_text(obj, "token"),
                    operations=[OperationRecord.from_json(o) for o in operations])
        ids = [op.operation_id for op in state.operations]
        if len(set(ids)) != len(ids):
            raise ValueError("an operation is recorded twice")
        return state


def _no_constant(name: str) -> Any:
    raise ValueError(f"{name} is not a number a handler writes")


def parse_state(text: str) -> HandlerState:
    """The state file's text as a HandlerState; ValueError for anything a handler could not have written
    (bad JSON, NaN or Infinity, absurd nesting, unknown phases, out-of-range numbers)."""
    try:
        obj = json.loads(text, parse_constant=_no_constant)
    except RecursionError:
        raise ValueError("nested too deeply") from None
    return HandlerState.from_json(obj)


class StateStore(Protocol):
    def load(self) -> HandlerState: ...

    def save(self, state: HandlerState) -> None: ...

    def clear(self) -> None: ...


class FileStateStore:
    def __init__(self, path: str) -> None:
        self.path = path

    def load(self) -> HandlerState:
        try:
            with open(self.path, encoding="utf-8") as fh:
                text = fh.read()
        except FileNotFoundError:
            return HandlerState()
        except OSError as exc:
            raise StateError(f"cannot read state file {self.path}: {exc}") from exc
        except ValueError as exc:  # not UTF-8
            raise StateError(f"state file {self.path} is not a handler state: {exc}") from None
        try:
            return parse_state(text)
        except (KeyError, TypeError, ValueError) as exc:
            raise StateError(f"state file {self.path} is not a handler state: {exc}") from None

    def save(self, state: HandlerState) -> None:
        # The token is a secret: the file is 0600 from its first byte, in a 0700 directory.
        text = json.dumps(state.to_json(), indent=1) + "\n"
        write_atomically(self.path, text, mode=0o600, durable=True, dir_mode=0o700)

    def clear(self) -> None:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(self.path)


class MemoryStateStore:
    """For dry runs without a state file, and for tests that look at nothing but the protocol."""

    def __init__(self) -> None:
        self.state = HandlerState()

    def load(self) -> HandlerState:
        return copy.deepcopy(self.state)

    def save(self, state: HandlerState) -> None:
        self.state = copy.deepcopy(state)

    def clear(self) -> None:
        self.state = HandlerState()


# ------------------------------------------------------------------------------------ what is due now


# How far eventGenTimeInSec may stray outside the window in which the start was generated before the clocks
# count as skewed: it is whole seconds (truncated), and two NTP-synchronised clocks differ by well under a second.
SKEW_TOLERANCE = 2.0


@dataclass(frozen=True)
class StartPlan:
    deadline: float  # when the quiesce must be over (guest epoch seconds, safety margin included)
    hard_deadline: float  # when the hypervisor forces the migration (guest epoch seconds)
    clock_skew: float  # the host's clock minus the guest's; 0 when eventGenTimeInSec was plausible


def plan_start(event_gen_time: int, notification_timeout: int, safety_margin: float, seen_at: float,
               earliest: Optional[float]) -> StartPlan:
    """The deadlines of a start event, in the guest's time.

    ``eventGenTimeInSec`` is the host's clock. It is trusted when it falls in the window in which the event
    can have been generated: not after ``seen_at`` (when this handler first fetched it), and not before
    ``earliest`` (the start of the last poll that found the queue empty, which bounds it from below; None
    when no such poll was made since registering, and then only the upper end is checked). Outside the
    window the clocks disagree: the deadline is then counted from the earliest moment the event can have
    been generated, which is never later than the hypervisor's real deadline.
    """
    low = -math.inf if earliest is None else earliest - SKEW_TOLERANCE
    skew = 0.0
    if not low <= event_gen_time <= seen_at + SKEW_TOLERANCE:
        skew = event_gen_time - (seen_at if earliest is None else earliest)
    hard_deadline = event_gen_time - skew + notification_timeout
    return StartPlan(hard_deadline - safety_margin, hard_deadline, skew)


def quiesce_time_left(op: OperationRecord, now: float) -> float:
    """Seconds until a running quiesce must be over (0 or less: it is overdue and must be killed)."""
    return op.deadline - now


def replanned_deadline(op: OperationRecord, new_timeout: int, safety_margin: float) -> Optional[float]:
    """After a timeout-change: the quiesce deadline it moves ``op`` to, or None if ``op`` keeps its own.

    Whether the hypervisor moves the deadline of an operation already held is UNKNOWN (protocol.md §10.7),
    so the earlier of the two is kept: a shrunk timeout counted from the start event, or the deadline
    already planned (a hypervisor that keeps it would force the migration mid-quiesce).
    """
    if op.phase is not Phase.QUIESCING:
        return None
    deadline = op.event_gen_time - op.clock_skew + new_timeout - safety_margin
    return deadline if deadline < op.deadline else None


def ends_overdue(state: HandlerState, now: float, end_timeout: float) -> List[OperationRecord]:
    """Operations whose end event is ``end_timeout`` seconds past the hypervisor's deadline and still
    missing (0: wait for ever). A running hook is not interrupted: its own deadline comes first."""
    if end_timeout <= 0:
        return []
    return [op for op in state.operations
            if op.phase not in (Phase.QUIESCING, Phase.UNQUIESCING) and now >= op.hard_deadline + end_timeout]
