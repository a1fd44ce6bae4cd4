"""Every behaviour that no source pins down (an UNKNOWN in the README's evidence section) is a knob, here only.

Each knob has a default and a one-line reason for it. The README lists them; ``vmotion-sim serve --knob
NAME=VALUE`` and ``Simulator(knobs=Knobs(...))`` set them. Where a default had to be invented, it is chosen to
be the *stricter* of the plausible behaviours, so a handler tested here does not depend on leniency that a real
ESXi may not show.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any, Dict, Iterable, Optional, Tuple

ERROR_ENVELOPES = ("json-stdout", "json-stderr", "text-stderr")


@dataclass(frozen=True)
class Knobs:
    # How a refused RPC is printed (UNKNOWN). VMware's own daemon parses a JSON object with a false
    # `result` and an `errorMessage` [S2]: the RPC itself succeeded, so stdout and exit 0.
    error_envelope: str = "json-stdout"
    # Concurrent registrations per VM. S2 quotes the limit message with "1" [S2 VMW-CODE].
    max_apps: int = 1
    # The `guaranteed` field of the register reply; only `true` was ever seen [S1 OBS].
    guaranteed: bool = True
    # notificationTypes a register may name; only "sla-miss" was ever seen [S1-S5]. None accepts any.
    accepted_notification_types: Optional[Tuple[str, ...]] = ("sla-miss",)
    # Reason when the effective timeout is <= 0: registration is impossible [S6 DOC]; wire text UNKNOWN.
    zero_timeout_reason: str = "VM operation notification timeout is not configured"
    # Reason for a token this VM does not know (check-for-event, ack-event): reuses S2's unregister text (INF).
    unknown_token_reason: str = "Could not find application with the token."
    # ack-event of an id this app was never sent: "error", or an ackStatus to reply with (UNKNOWN).
    ack_unknown_operation: str = "error"
    # ack-event after the operation stopped waiting (forced or already acked by all): UNKNOWN.
    ack_after_timeout: str = "error"
    # A second ack of the same start by the same app while still waiting: harmless, so accepted (INF).
    ack_duplicate: str = "ack_received"
    # opStatus of the end event of a failed migration; only "success" was ever seen (UNKNOWN).
    failure_op_status: str = "failure"
    # Whether an app registering while an operation waits for acks also gets its start (UNKNOWN).
    deliver_start_to_late_registrants: bool = False
    # Whether undelivered start events whose deadline passed are dropped from the queue. S2's staleness
    # check implies they are still delivered (INF), so no.
    purge_stale_starts: bool = False
    # Whether a timeout change moves the deadline of an operation already waiting (UNKNOWN).
    timeout_change_moves_deadline: bool = False
    # Whether a change of the effective timeout queues a timeout-change event (trigger UNKNOWN).
    emit_timeout_change: bool = True
    # Whether turning the VM flag off also forgets registrations (UNKNOWN; S6 only says RPCs stop working).
    disable_drops_registrations: bool = False
    # Events kept per registration; None is unbounded (UNKNOWN). When full, new events are dropped.
    queue_limit: Optional[int] = None
    # What the hypervisor answers to a verb it does not know under the prefix (RPCI_UNKNOWN_COMMAND [S8]).
    unknown_verb_reply: str = "Unknown command"
    # Whether request objects with keys the verb does not define are refused (UNKNOWN).
    reject_unknown_fields: bool = False

    def __post_init__(self) -> None:
        for f in dataclasses.fields(self):
            value = getattr(self, f.name)
            if f.name == "accepted_notification_types":
                ok = value is None or (isinstance(value, tuple) and all(isinstance(t, str) for t in value))
            elif f.name == "queue_limit":
                ok = value is None or (isinstance(value, int) and not isinstance(value, bool))
            else:
                kind = type(f.default)  # bool, int or str: a knob keeps the type of its default
                ok = type(value) is kind
            if not ok:
                raise TypeError(f"knob {f.name} has the wrong type: {value!r}")
        if self.error_envelope not in ERROR_ENVELOPES:
            raise ValueError(f"error_envelope must be one of {', '.join(ERROR_ENVELOPES)}")
        if self.max_apps < 1:
            raise ValueError("max_apps must be at least 1")
        if self.queue_limit is not None and self.queue_limit < 1:
            raise ValueError("queue_limit must be at least 1 (or unset)")

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Knobs:
        """The knobs from their JSON form (``as_dict`` sent over the socket: tuples arrive as lists)."""
        values = dict(data)
        if isinstance(values.get("accepted_notification_types"), list):
            values["accepted_notification_types"] = tuple(values["accepted_notification_types"])
        return cls(**values)

    def replace(self, **changes: Any) -> Knobs:
        return dataclasses.replace(self, **changes)

    def as_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


def knob_docs(table: Any = Knobs) -> list[tuple[str, str, str]]:
    """(name, default, reason) for each knob, read from the comments above: the README table's source.

    ``table`` is another frozen dataclass written the same way (the cluster's knobs), default ``Knobs``.
    """
    import inspect

    source = inspect.getsource(table)
    reasons: dict[str, str] = {}
    pending: list[str] = []
    for line in source.splitlines():
        stripped = line.strip()
        if stripped.startswith("#"):
            pending.append(stripped.lstrip("# "))
        elif ":" in stripped and "=" in stripped and not stripped.startswith(("def", "@", "class")):
            reasons[stripped.split(":", 1)[0]] = " ".join(pending)
            pending = []
        else:
            pending = []
    defaults = table()
    return [(f.name, repr(getattr(defaults, f.name)), reasons.get(f.name, "")) for f in dataclasses.fields(table)]


def parse_knob(name: str, text: str, table: Any = Knobs) -> tuple[str, Any]:
    """Turn ``NAME=VALUE`` text from a command line into a typed knob value (of ``table``, default ``Knobs``)."""
    fields = {f.name: f for f in dataclasses.fields(table)}
    if name not in fields:
        raise ValueError(f"unknown knob {name!r} (known: {', '.join(sorted(fields))})")
    default = getattr(table(), name)
    if name == "accepted_notification_types":
        return name, None if text in ("", "any", "none") else tuple(t for t in text.split(",") if t)
    if name == "queue_limit":
        return name, None if text in ("", "none") else int(text)
    if isinstance(default, bool):
        if text.lower() not in ("true", "false", "1", "0", "yes", "no"):
            raise ValueError(f"knob {name} takes true or false, not {text!r}")
        return name, text.lower() in ("true", "1", "yes")
    if isinstance(default, int):
        return name, int(text)
    return name, text


def parse_knob_assignments(words: Iterable[str], table: Any = Knobs) -> Dict[str, Any]:
    """``NAME=VALUE`` words (``serve --knob``, ``check --knob``, ``knobs``, ...) as typed values of ``table``."""
    values: Dict[str, Any] = {}
    for word in words:
        name, sep, text = word.partition("=")
        if not sep:
            raise ValueError(f"a knob is set with NAME=VALUE, not {word!r}")
        key, value = parse_knob(name, text, table)
        values[key] = value
    return values
