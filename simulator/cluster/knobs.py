"""The cluster's knobs: how vCenter schedules an evacuation around the notifications, where no source says.

How notifications meet maintenance-mode evacuation and concurrent migrations is an open question
(protocol.md §10.9). What is published: vCenter gives each host a maximum cost of concurrent migrations, a
vMotion costs 1, and a migration that would exceed a limit "does not proceed immediately, but is queued until
other operations complete" [S16 DOC: 4 vMotions per host on 1 GbE, 8 on 10 GbE and faster]. Written like
``simulator.knobs.Knobs`` (a comment of reasons above each field), so the README's cluster knob table is
generated the same way. Defaults are the slower plausible behaviour: a what-if must not promise an
evacuation faster than a real host may give.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any, Dict

NOTIFY_AT_TASK_START = "task-start"
NOTIFY_AT_MAINTENANCE_START = "maintenance-start"
NOTIFY_CHOICES = (NOTIFY_AT_TASK_START, NOTIFY_AT_MAINTENANCE_START)


@dataclass(frozen=True)
class ClusterKnobs:
    # When a VM's start event is queued (UNKNOWN): `task-start`, when its migration is admitted under the
    # host's limit, or `maintenance-start`, to every VM at once. The notification belongs to the migration
    # [S9 DOC] and a migration over the limit is queued before it proceeds [S16 DOC] (INF).
    notify: str = NOTIFY_AT_TASK_START
    # Whether a migration held for its ack keeps one of the host's concurrent-vMotion slots (UNKNOWN). The
    # hold is part of the migration, which took its cost when it proceeded (INF); also the slower choice.
    wait_holds_slot: bool = True

    def __post_init__(self) -> None:
        for f in dataclasses.fields(self):
            if type(getattr(self, f.name)) is not type(f.default):
                raise TypeError(f"knob {f.name} has the wrong type: {getattr(self, f.name)!r}")
        if self.notify not in NOTIFY_CHOICES:
            raise ValueError(f"knob notify must be one of {', '.join(NOTIFY_CHOICES)}, not {self.notify!r}")

    def replace(self, **changes: Any) -> ClusterKnobs:
        return dataclasses.replace(self, **changes)

    def as_dict(self) -> Dict[str, Any]:
        return dataclasses.asdict(self)
