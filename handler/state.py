"""The crash-safety record: the registration token and the operations this handler acted on.

Written atomically (temporary file, fsync, rename) with mode 0600 *before* each action, so a restarted
handler knows which registration to reuse or unregister and which operation left the application quiesced.
"""

from __future__ import annotations

import contextlib
import copy
import json
import os
from dataclasses import dataclass, field
from typing import Any, Dict, List, Optional, Protocol

from handler.atomic import write_atomically

FORMAT_VERSION = 1

# Phases of one operation, in order. Everything from "quiescing" on means the application may be quiesced.
QUIESCING = "quiescing"
QUIESCED = "quiesced"  # the quiesce command is over (ok, failed or killed); not yet acked
ACKED = "acked"
UNQUIESCING = "unquiescing"


@dataclass
class OperationRecord:
    operation_id: int
    phase: str
    event_gen_time: int
    notification_timeout: int
    deadline: float  # when the quiesce must be over (epoch seconds, safety margin included)

    @property
    def hard_deadline(self) -> float:
        """When the hypervisor forces the migration without our ack."""
        return float(self.event_gen_time + self.notification_timeout)

    def to_json(self) -> Dict[str, Any]:
        return {
            "operation_id": self.operation_id,
            "phase": self.phase,
            "event_gen_time": self.event_gen_time,
            "notification_timeout": self.notification_timeout,
            "deadline": self.deadline,
        }

    @classmethod
    def from_json(cls, obj: Dict[str, Any]) -> OperationRecord:
        return cls(
            operation_id=int(obj["operation_id"]),
            phase=str(obj["phase"]),
            event_gen_time=int(obj["event_gen_time"]),
            notification_timeout=int(obj["notification_timeout"]),
            deadline=float(obj["deadline"]),
        )


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


class StateError(Exception):
    pass


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
                obj = json.load(fh)
        except FileNotFoundError:
            return HandlerState()
        except (OSError, ValueError) as exc:
            raise StateError(f"cannot read state file {self.path}: {exc}") from exc
        try:
            return HandlerState(
                app_name=obj.get("app_name"),
                token=obj.get("token"),
                operations=[OperationRecord.from_json(o) for o in obj.get("operations", [])],
            )
        except (KeyError, TypeError, ValueError, AttributeError) as exc:
            raise StateError(f"state file {self.path} is not a handler state: {exc}") from exc

    def save(self, state: HandlerState) -> None:
        payload = {
            "version": FORMAT_VERSION,
            "app_name": state.app_name,
            "token": state.token,
            "operations": [op.to_json() for op in state.operations],
        }
        # The token is a secret: the file is 0600 from its first byte, in a 0700 directory.
        text = json.dumps(payload, indent=1) + "\n"
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
