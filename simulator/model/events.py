"""The three event types a `check-for-event` can return."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Tuple, Union

OP_TYPE_HOST_MIGRATION = "host-migration"


@dataclass(frozen=True)
class StartEvent:
    operation_id: int
    event_gen_time: int
    notification_timeout: int
    dest_notification_timeout: int
    notification_types: Tuple[str, ...]
    op_type: str = OP_TYPE_HOST_MIGRATION
    event_type: str = "start"

    @property
    def deadline(self) -> int:
        return self.event_gen_time + self.notification_timeout


@dataclass(frozen=True)
class EndEvent:
    operation_id: int
    event_gen_time: int
    op_status: str
    notification_types: Tuple[str, ...]
    op_type: str = OP_TYPE_HOST_MIGRATION
    event_type: str = "end"


@dataclass(frozen=True)
class TimeoutChangeEvent:
    operation_id: int
    event_gen_time: int
    notification_timeout: int
    new_notification_timeout: int
    notification_types: Tuple[str, ...]
    event_type: str = "timeout-change"


Event = Union[StartEvent, EndEvent, TimeoutChangeEvent]
