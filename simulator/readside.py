"""What a test reads from a simulator, as typed objects: its status, its registrations and its operations.

``sim.status().operations[0].forced`` is typed (mypy sees a ``bool``); ``as_dict()`` is the JSON form the socket
and ``vmotion-sim status --json`` carry, and ``from_dict`` reads it back, so the in-process ``Simulator`` and the
socket's ``SimulatorClient`` hand out the same objects. Each object also reads like its JSON form
(``op["forced"]``, a read-only mapping), which is how tests written before these types read it.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Dict, Iterator, List, Optional, TypeVar

from simulator.faults import Faults
from simulator.model.knobs import Knobs

R = TypeVar("R", bound="_Record")


def _plain(value: Any) -> Any:
    if isinstance(value, _Record):
        return value.as_dict()
    if isinstance(value, (Faults, Knobs)):
        return {k: _plain(v) for k, v in value.as_dict().items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]  # JSON has lists only: the dict form is the JSON form
    return value


class _Record(Mapping):  # type: ignore[type-arg]  # Mapping[str, Any]: subscripting it needs 3.9 at run time
    """A typed record that reads like its JSON form."""

    def as_dict(self) -> Dict[str, Any]:
        return {f.name: _plain(getattr(self, f.name)) for f in dataclasses.fields(self)}  # type: ignore[arg-type]

    @classmethod
    def from_dict(cls: type[R], data: Mapping) -> R:  # type: ignore[type-arg]
        names = {f.name for f in dataclasses.fields(cls)}  # type: ignore[arg-type]
        return cls(**{k: v for k, v in data.items() if k in names})

    def __getitem__(self, key: str) -> Any:
        if not any(f.name == key for f in dataclasses.fields(self)):  # type: ignore[arg-type]
            raise KeyError(key)
        return _plain(getattr(self, key))

    def __iter__(self) -> Iterator[str]:
        return iter(f.name for f in dataclasses.fields(self))  # type: ignore[arg-type]

    def __len__(self) -> int:
        return len(dataclasses.fields(self))  # type: ignore[arg-type]


@dataclass(frozen=True, eq=False)
class RegistrationStatus(_Record):
    """One registered application, never its token."""

    app_name: str
    notification_types: List[str]
    registered_at: float
    queue_depth: int
    queued: List[str]


@dataclass(frozen=True, eq=False)
class OperationStatus(_Record):
    """One vMotion: its phase (waiting-ack, migrating, done), whether it was acked or forced, and when."""

    operation_id: int
    phase: str
    outcome: str
    notified: bool
    acked: bool
    forced: bool
    acks: int
    awaiting_acks: int
    notification_timeout: int
    requested_at: float
    deadline: Optional[float]
    migration_started_at: Optional[float]
    ended_at: Optional[float]


@dataclass(frozen=True, eq=False)
class ConfigStatus(_Record):
    """The settings as vCenter holds them."""

    enabled: bool
    host_timeout: int
    vm_timeout: Optional[int]
    dest_host_timeout: Optional[int]


@dataclass(frozen=True, eq=False)
class Status(_Record):
    time: float
    config: ConfigStatus
    effective_timeout: int
    dest_effective_timeout: int
    registrations: List[RegistrationStatus]
    operations: List[OperationStatus]
    faults: Faults
    knobs: Knobs

    @classmethod
    def from_dict(cls, data: Mapping) -> Status:  # type: ignore[type-arg]
        return cls(
            time=data["time"],
            config=ConfigStatus.from_dict(data["config"]),
            effective_timeout=data["effective_timeout"],
            dest_effective_timeout=data["dest_effective_timeout"],
            registrations=[RegistrationStatus.from_dict(r) for r in data["registrations"]],
            operations=[OperationStatus.from_dict(o) for o in data["operations"]],
            faults=Faults(**data["faults"]),
            knobs=Knobs.from_json(data["knobs"]),
        )

    def operation(self, operation_id: int) -> Optional[OperationStatus]:
        return next((op for op in self.operations if op.operation_id == operation_id), None)
