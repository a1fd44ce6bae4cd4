"""What must hold after each step of a soak run, read from the simulator's journal and status (pure functions).

Each check returns None, or one line saying what broke. ``Run`` is what the runner tells the checks: when each
step happened on the simulated clock and what it disturbed.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any, Callable, Dict, List, Optional, Sequence, Tuple

from simulator.harness.journal import Journal
from simulator.journal_entry import Entry
from simulator.readside import OperationStatus, Status

# Steps after which a handler may rightly miss a start or be slow to act: a "clean" operation has none near it.
DISTURBING = ("timeout", "reboot", "fault", "disable", "kill-restart", "kill")
SLOW_HOOK = ("near-deadline", "past-deadline", "slow")  # hook behaviours that take a good part of a timeout
# Every invariant by name: a scenario file's ``expect`` lists a broken one as ``invariant:NAME``.
NAMES = ("handler-starts", "clean-start-acked", "unquiesce-follows-quiesce", "restart-leaks-nothing",
         "sigterm-clean", "nothing-left-quiesced")


@dataclass
class Run:
    timeout: float
    restart_bound: float  # simulated seconds a restarted handler may take to be registered and polling again
    steps: List[Tuple[float, Dict[str, Any]]] = field(default_factory=list)  # (simulated time, step)
    quiesce_fast_since: Optional[float] = 0.0  # None while the quiesce hook is not "fast"
    origin: float = 0.0  # the simulated second messages count from (the soak: the handler's first register)

    def disturbed(self, start: float, end: float) -> bool:
        return any(start <= t <= end for t, s in self.steps if s["do"] in DISTURBING or
                   (s["do"] == "hook" and s["hook"] == "quiesce" and s["behaviour"] != "fast"))

    def slow_unquiesce(self, start: float, end: float) -> bool:
        """Was the unquiesce hook slow at any time in [start, end]? A handler runs one hook at a time, so a slow
        unquiesce holds back the quiesce of the next start, however fast that quiesce is."""
        slow_since: Optional[float] = None
        for t, s in self.steps:
            if s["do"] != "hook" or s["hook"] != "unquiesce":
                continue
            if s["behaviour"] in SLOW_HOOK:
                slow_since = t if slow_since is None else slow_since
            elif slow_since is not None:
                if slow_since <= end and t >= start:
                    return True
                slow_since = None
        return slow_since is not None and slow_since <= end

    def kills(self) -> List[float]:
        return [t for t, s in self.steps if s["do"] in ("kill", "kill-restart")]

    def at(self, when: float) -> str:
        return f"{when - self.origin:.1f} s" if self.origin else f"{when:.1f}"

    def guard(self) -> float:
        return max(2 * self.timeout, 40.0)  # the handler's retry backoff reaches 30 s


def _probe_starts(journal: Journal[Entry], name: str) -> List[float]:
    return [float(e.time) for e in journal.probes(name, "started")]


def _hook_starts(journal: Journal[Entry]) -> List[Tuple[float, str, str]]:
    """(time, hook, operation id) of every quiesce and unquiesce start, in time order."""
    starts = [(float(e.time), e.name, e.env.get("VMOTION_OPERATION_ID", ""))
              for name in ("quiesce", "unquiesce") for e in journal.probes(name, "started")]
    return sorted(starts, key=lambda s: (s[0], s[1] == "unquiesce"))


def unquiesce_follows_quiesce(
    journal: Journal[Entry], run: Run, operations: Sequence[OperationStatus] = ()
) -> Optional[str]:
    """Each unquiesce is for an operation quiesced for before it, once.

    A crash during the operation is the one excuse: a handler killed during an unquiesce cannot know whether
    that hook finished, so its next run unquiesces again (unquiesce hooks must be idempotent); and a quiesce
    hook killed with its handler may die before its probe reports, leaving an unquiesce without a recorded
    quiesce. A probe reports when the hook has started running, which can be after the handler launched it
    and was killed, so the crash counts from the operation's quiesce (or its request), not from the first
    unquiesce."""
    kills = run.kills()
    open_quiesces: Dict[str, int] = {}  # per operation id ("" when the handler does not pass it on)
    since: Dict[str, float] = {str(o.operation_id): o.requested_at for o in operations}
    unquiesced: Dict[str, float] = {}
    for when, hook, op in _hook_starts(journal):
        if hook == "quiesce":
            open_quiesces[op] = open_quiesces.get(op, 0) + 1
            since[op] = when
            unquiesced.pop(op, None)
            continue
        if open_quiesces.get(op, 0) > 0:
            open_quiesces[op] -= 1
            unquiesced[op] = when
            continue
        if not any(since.get(op, -math.inf) < k <= when for k in kills):
            if op not in unquiesced:
                return f"an unquiesce of operation {op or '?'} ran at {run.at(when)} with no quiesce for it before"
            return (f"operation {op or '?'} was unquiesced twice ({run.at(unquiesced[op])} and {run.at(when)}) "
                    "with no crash during the operation")
        unquiesced[op] = when
    return None


def nothing_left_quiesced(journal: Journal[Entry], run: Optional[Run] = None) -> Optional[str]:
    unquiesces = sorted(_probe_starts(journal, "unquiesce"))
    for when in sorted(_probe_starts(journal, "quiesce")):
        later = [u for u in unquiesces if u >= when]
        if not later:
            return f"the quiesce of {run.at(when) if run else f'{when:.1f}'} was never followed by an unquiesce"
        unquiesces.remove(later[0])
    return None


def clean_starts_acked(operations: Sequence[OperationStatus], run: Run) -> Optional[str]:
    """A start whose quiesce fits in the deadline, with nothing disturbing near it (a slow unquiesce included:
    it comes first), is acked before it."""
    for op in operations:
        if op.phase != "done" or run.quiesce_fast_since is None or op.deadline is None:
            continue
        requested, deadline = op.requested_at, op.deadline
        if requested < run.quiesce_fast_since or run.disturbed(requested - run.guard(), deadline) or \
                run.slow_unquiesce(requested - run.guard(), deadline):
            continue
        if op.forced:  # it waited for the handler's ack, and the timeout forced it
            return f"operation {op.operation_id}, undisturbed and with a fast quiesce, was forced, not acked"
    return None


def restarted_handler_registered(
    journal: Journal[Entry], status: Status, run: Run, now: float
) -> Optional[str]:
    """A handler restarted after SIGKILL leaks no registration: it is registered and polling again."""
    restarts = [t for t, s in run.steps if s["do"] == "kill-restart"]
    if not restarts:
        return None
    last = restarts[-1]
    if now < last + run.restart_bound or run.disturbed(last + 1e-6, last + run.restart_bound):
        return None
    # How many registrations there are now says something of the restart only if nothing has disturbed them
    # since (a later reboot rightly leaves none until the handler notices); the polls in its window always do.
    if not run.disturbed(last + 1e-6, now) and len(status.registrations) != 1:
        return f"{len(status.registrations)} registrations {run.restart_bound:.0f} s after a restart"
    # The second half of the window: a vmtoolsd call the killed handler had under way may still land early on.
    since = last + run.restart_bound / 2
    polled = journal.rpcs("check-for-event").succeeded().where(lambda e: float(e.time) > since)
    if not polled:
        window = f"{run.restart_bound / 2:.0f} to {run.restart_bound:.0f} s"
        return f"no successful check-for-event from {window} after a restart"
    return None


def sigterm_clean(exit_code: Optional[int], status: Status) -> Optional[str]:
    if exit_code != 0:
        return f"SIGTERM: exit status {exit_code}, not 0"
    if status.registrations:
        return "SIGTERM: the registration was left behind"
    return None


def after_step(journal: Journal[Entry], status: Status, run: Run, now: float) -> Optional[Tuple[str, str]]:
    """The invariants checked after every step: the first broken one (name, what broke), or None."""
    checks: Tuple[Tuple[str, Callable[[], Optional[str]]], ...] = (
        ("unquiesce-follows-quiesce", lambda: unquiesce_follows_quiesce(journal, run, status.operations)),
        ("clean-start-acked", lambda: clean_starts_acked(status.operations, run)),
        ("restart-leaks-nothing", lambda: restarted_handler_registered(journal, status, run, now)),
    )
    for name, check in checks:
        broken = check()
        if broken:
            return name, broken
    return None


def after_sigterm(exit_code: Optional[int], journal: Journal[Entry], status: Status) -> Optional[Tuple[str, str]]:
    """The invariants checked once the handler is stopped with SIGTERM."""
    for name, broken in (("sigterm-clean", sigterm_clean(exit_code, status)),
                         ("nothing-left-quiesced", nothing_left_quiesced(journal))):
        if broken:
            return name, broken
    return None
