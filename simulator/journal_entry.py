"""A journal entry as a typed object: ``entry.time``, ``entry.verb``, ``entry.what`` (mypy sees their types).

The simulator writes four kinds: ``rpc`` (a guest RPC and its reply), ``model`` (what the hypervisor did; ``what``
is a :class:`JournalEvent`), ``probe`` (a hook probe reporting in) and ``control`` (the tester switched faults).
``as_dict()`` is the JSON form, keys in the order the simulator has always written them, which the socket,
``vmotion-sim journal --json``, saved journals, reports and incident files carry; ``JournalEntry.from_dict`` reads
it back from untrusted JSON (whatever is not an entry is a ``ValueError`` saying why). Like the read side's other
records, an entry also reads like its JSON form (``e["time"]``, ``e.get("verb")``): a read-only mapping, for tests
written before these types.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Callable, ClassVar, Dict, Iterator, Optional, Union

from simulator.model.journal_events import JournalEvent

Details = Dict[str, Any]  # an entry's other fields, as written (what a note or a probe reported)


@dataclass(frozen=True, eq=False)
class JournalEntry(Mapping):  # type: ignore[type-arg]  # Mapping[str, Any]: subscripting it needs 3.9 at run time
    """What every entry has: its place in the order of writing (``seq``) and its time on the simulator's clock."""

    kind: ClassVar[str] = ""
    seq: int
    time: float

    def as_dict(self) -> Dict[str, Any]:
        raise NotImplementedError

    @staticmethod
    def from_dict(data: Any) -> Entry:
        """One entry of a journal's JSON form, which may come from anywhere: a ``ValueError`` says what is wrong."""
        if not isinstance(data, Mapping):
            raise ValueError("not a JSON object")
        reader = _READERS.get(data.get("kind"))  # type: ignore[arg-type]
        if reader is None:
            raise ValueError(f"kind is not one of {', '.join(_READERS)}")
        return reader(data, _integer(data, "seq"), _number(data, "time"))

    def __getitem__(self, key: str) -> Any:
        return self.as_dict()[key]

    def __iter__(self) -> Iterator[str]:
        return iter(self.as_dict())

    def __len__(self) -> int:
        return len(self.as_dict())


@dataclass(frozen=True, eq=False)
class RpcEntry(JournalEntry):
    """One guest RPC. ``via`` (``argv`` or ``file``) and ``token_in_argv`` only when the fake vmtoolsd said how
    the command reached it."""

    kind: ClassVar[str] = "rpc"
    verb: Optional[str]  # None: the request did not name a vm-operation-notification verb
    request: str
    stdout: str
    stderr: str
    exit_code: int
    via: Optional[str] = None
    token_in_argv: Optional[bool] = None

    def as_dict(self) -> Dict[str, Any]:
        out: Dict[str, Any] = {"verb": self.verb, "request": self.request, "stdout": self.stdout,
                               "stderr": self.stderr, "exit_code": self.exit_code}
        if self.via is not None:
            out["via"] = self.via
        if self.token_in_argv is not None:
            out["token_in_argv"] = self.token_in_argv
        return {**out, "seq": self.seq, "time": self.time, "kind": self.kind}


@dataclass(frozen=True, eq=False)
class ModelEntry(JournalEntry):
    """What the hypervisor did; ``details`` holds what it says about it (``app``, ``operation_id``, ...)."""

    kind: ClassVar[str] = "model"
    what: JournalEvent
    details: Details = field(default_factory=dict)

    @property
    def app(self) -> Optional[str]:
        app = self.details.get("app")
        return app if isinstance(app, str) else None

    @property
    def operation_id(self) -> Optional[int]:
        op = self.details.get("operation_id")
        return op if isinstance(op, int) and not isinstance(op, bool) else None

    def as_dict(self) -> Dict[str, Any]:
        return {"time": self.time, "kind": self.kind, "what": self.what.value, **self.details, "seq": self.seq}


@dataclass(frozen=True, eq=False)
class ProbeEntry(JournalEntry):
    """A hook probe's report: hook ``name``, ``phase`` (started, finished, terminated, ...), the ``VMOTION_*``
    environment it ran with, and whatever else it told (``exit_code``, ``pid``) in ``details``."""

    kind: ClassVar[str] = "probe"
    name: str
    phase: str
    env: Dict[str, str] = field(default_factory=dict)
    details: Details = field(default_factory=dict)

    @property
    def exit_code(self) -> Optional[int]:
        code = self.details.get("exit_code")
        return code if isinstance(code, int) and not isinstance(code, bool) else None

    def as_dict(self) -> Dict[str, Any]:
        return {"name": self.name, "phase": self.phase, "env": self.env, **self.details,
                "seq": self.seq, "time": self.time, "kind": self.kind}


@dataclass(frozen=True, eq=False)
class ControlEntry(JournalEntry):
    """The tester changed the guest channel (``what``: ``faults``); ``details`` holds the new settings."""

    kind: ClassVar[str] = "control"
    what: str
    details: Details = field(default_factory=dict)

    def as_dict(self) -> Dict[str, Any]:
        return {"what": self.what, **self.details, "seq": self.seq, "time": self.time, "kind": self.kind}


Entry = Union[RpcEntry, ModelEntry, ProbeEntry, ControlEntry]
_OWN = {"seq", "time", "kind"}


def _number(data: Mapping, key: str) -> float:  # type: ignore[type-arg]
    value = data.get(key)
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise ValueError(f"{key} is not a number")
    return value


def _integer(data: Mapping, key: str) -> int:  # type: ignore[type-arg]
    value = data.get(key)
    if isinstance(value, bool) or not isinstance(value, int):
        raise ValueError(f"{key} is not an integer")
    return value


def _text(data: Mapping, key: str, *, optional: bool = False) -> Any:  # type: ignore[type-arg]
    value = data.get(key)
    if not isinstance(value, str) and not (optional and value is None):
        raise ValueError(f"{key} is not a string")
    return value


def _rpc(data: Mapping, seq: int, time: float) -> RpcEntry:  # type: ignore[type-arg]
    token_in_argv = data.get("token_in_argv")
    if token_in_argv is not None and not isinstance(token_in_argv, bool):
        raise ValueError("token_in_argv is not true or false")
    return RpcEntry(seq, time, _text(data, "verb", optional=True), _text(data, "request"), _text(data, "stdout"),
                    _text(data, "stderr"), _integer(data, "exit_code"), _text(data, "via", optional=True),
                    token_in_argv)


def _model(data: Mapping, seq: int, time: float) -> ModelEntry:  # type: ignore[type-arg]
    name = _text(data, "what")
    try:
        what = JournalEvent(name)
    except ValueError:
        raise ValueError("what is not a hypervisor event") from None
    return ModelEntry(seq, time, what, {k: v for k, v in data.items() if k not in _OWN and k != "what"})


def _probe(data: Mapping, seq: int, time: float) -> ProbeEntry:  # type: ignore[type-arg]
    env = data.get("env", {})
    if not isinstance(env, dict) or not all(isinstance(k, str) and isinstance(v, str) for k, v in env.items()):
        raise ValueError("env does not map names to strings")
    details = {k: v for k, v in data.items() if k not in _OWN and k not in ("name", "phase", "env")}
    return ProbeEntry(seq, time, _text(data, "name"), _text(data, "phase"), env, details)


def _control(data: Mapping, seq: int, time: float) -> ControlEntry:  # type: ignore[type-arg]
    details = {k: v for k, v in data.items() if k not in _OWN and k != "what"}
    return ControlEntry(seq, time, _text(data, "what"), details)


_Reader = Callable[[Mapping, int, float], Entry]  # type: ignore[type-arg]
_READERS: Dict[str, _Reader] = {"rpc": _rpc, "model": _model, "probe": _probe, "control": _control}

