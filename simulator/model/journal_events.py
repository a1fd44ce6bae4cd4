"""The names of what the hypervisor does, as the journal records them (entries of kind ``model``, field ``what``).

One enum, so the model that writes them and the timeline, the harness and the scenarios that read them agree on
each name. A ``str`` enum: an entry's ``what`` is the plain string (``"acked"``), equal to its member.
"""

from __future__ import annotations

from enum import Enum


class JournalEvent(str, Enum):
    REGISTERED = "registered"
    UNREGISTERED = "unregistered"
    QUEUED = "queued"
    QUEUE_FULL = "queue-full"
    PURGED_STALE_START = "purged-stale-start"
    DELIVERED = "delivered"
    ACKED = "acked"
    ACKED_TIMEOUT_CHANGE = "acked-timeout-change"
    LATE_ACK = "late-ack"
    VMOTION_REQUESTED = "vmotion-requested"
    DEADLINE_MOVED = "deadline-moved"
    FORCED = "forced"
    HOLD_RELEASED = "hold-released"
    MIGRATION_STARTED = "migration-started"
    MIGRATION_ENDED = "migration-ended"
    CONFIGURED = "configured"
    REBOOTED = "rebooted"
