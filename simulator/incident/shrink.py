"""Shrink a failing scenario: the fewest actions and hook runs, then the shortest seconds, that still fail the
same way (delta debugging: Zeller and Hildebrandt's ddmin over the actions, then halving every duration).

"The same way" means the run still shows every outcome the scenario expects (or, if it expects none, every
outcome its first run shows). Each trial is one run: milliseconds on virtual time, the scenario's length on
real time, so shrinking against a handler command takes minutes, not hours, only for short scenarios.

The shrunk scenario is run once more, and its expectations are what that run shows. On real time a candidate
can fail by luck (a poll that came just in time in a run cut short) and not the next time: where that last run
no longer fails the same way, the shrinker steps back through the scenarios it kept, the latest first, until
one does.
"""

from __future__ import annotations

import copy
import math
from dataclasses import dataclass
from typing import Any, Callable, Dict, List, Optional, Sequence, Set, Tuple, TypeVar

from simulator.incident.reconstruct import Incident
from simulator.incident.scenario import Scenario

T = TypeVar("T")
Runner = Callable[[Scenario], Incident]
HALVINGS = 6  # per number: 1/64 of a duration is short enough for any incident
SHORTEST = 0.05  # seconds: shorter than this is noise on real time


class NothingToShrink(Exception):
    """The scenario does not fail to begin with."""


@dataclass
class Shrunk:
    scenario: Scenario
    failure: List[str]
    trials: int


def ddmin(items: Sequence[T], fails: Callable[[List[T]], bool]) -> List[T]:
    current = list(items)
    if current and fails([]):
        return []
    n = 2
    while len(current) >= 2:
        size = math.ceil(len(current) / n)
        chunks = [current[i : i + size] for i in range(0, len(current), size)]
        for i, chunk in enumerate(chunks):
            complement = [x for j, c in enumerate(chunks) if j != i for x in c]
            if fails(chunk):
                current, n = chunk, 2
                break
            if len(chunks) > 2 and fails(complement):
                current, n = complement, max(n - 1, 2)
                break
        else:
            if n >= len(current):
                break
            n = min(len(current), n * 2)
    return current


def shrink(scenario: Scenario, run: Runner, max_trials: Optional[int] = None) -> Shrunk:
    """``max_trials``: at most that many runs (the first, which checks the failure, included); once they are
    used up, the smallest scenario found so far is the result."""
    trials = 0
    first = run(scenario)
    trials += 1
    failure: Set[str] = set(scenario.expect) or set(first.outcome)
    if not failure or not failure <= _shows(first):
        shows = ", ".join(sorted(_shows(first))) or "nothing"
        raise NothingToShrink(f"the scenario does not fail as it expects (it shows: {shows})")

    def fails(candidate: Scenario) -> bool:
        nonlocal trials
        if max_trials is not None and trials >= max_trials - 1:  # one run kept for the result's check
            return False
        trials += 1
        return failure <= _shows(run(candidate))

    best = copy.deepcopy(scenario)
    kept: List[Scenario] = []  # each best before a smaller one replaced it: where a step back goes

    def accept(candidate: Scenario) -> None:
        nonlocal best
        kept.append(best)
        best = candidate

    def with_actions(actions: List[Dict[str, Any]]) -> Scenario:
        candidate = copy.deepcopy(best)
        candidate.actions = actions
        return candidate

    def with_runs(hook: str, runs: List[Dict[str, Any]]) -> Scenario:
        candidate = copy.deepcopy(best)
        candidate.hooks[hook] = runs
        return candidate

    def with_number(path: Tuple[Any, ...], value: float) -> Scenario:
        candidate = copy.deepcopy(best)
        _set(candidate, path, value)
        return candidate

    actions = ddmin(best.actions, lambda actions: fails(with_actions(actions)))
    if actions != best.actions:
        accept(with_actions(actions))
    for hook in list(best.hooks):
        runs = ddmin(best.hooks[hook], lambda runs, h=hook: fails(with_runs(h, runs)))  # type: ignore[misc]
        candidate = with_runs(hook, runs)
        if not runs:
            del candidate.hooks[hook]
        if candidate.hooks != best.hooks:
            accept(candidate)
    for path in _numbers(best):
        for _ in range(HALVINGS):
            value = _get(best, path)
            smaller = round(value / 2, 3)
            if value <= SHORTEST or smaller == value:
                break
            candidate = with_number(path, smaller)
            if not fails(candidate):
                break
            accept(candidate)
    # The run past the last action: as short as still fails.
    floor = max([float(a["at"]) for a in best.actions], default=0.0)
    for _ in range(HALVINGS):
        shorter = round(floor + (best.duration - floor) / 2, 3)
        if best.duration - shorter < SHORTEST:
            break
        candidate = copy.deepcopy(best)
        candidate.duration = shorter
        if not fails(candidate):
            break
        accept(candidate)
    if best.size() == scenario.size():
        return Shrunk(best, sorted(failure), trials)
    last = run(best)
    trials += 1
    while not failure <= _shows(last) and kept:  # it failed by luck: step back
        if max_trials is not None and trials >= max_trials:
            best, last = kept[0], first  # no runs left: the scenario as given, as its first run showed it
            break
        best = kept.pop()
        last = run(best)
        trials += 1
    best = copy.deepcopy(best)
    best.expect = sorted(set(last.outcome) | (set(last.invariants) & failure))
    best.name = f"{scenario.name} (shrunk)"
    return Shrunk(best, sorted(failure), trials)


def _shows(incident: Incident) -> Set[str]:
    """What a run shows: its outcomes and the soak's invariants it broke (``invariant:NAME``)."""
    return set(incident.outcome) | set(incident.invariants)


def _numbers(scenario: Scenario) -> List[Tuple[Any, ...]]:
    paths: List[Tuple[Any, ...]] = []
    for hook, runs in scenario.hooks.items():
        paths += [("hooks", hook, i, "seconds") for i, r in enumerate(runs) if float(r.get("seconds", 0)) > 0]
    paths += [("actions", i, "migration_seconds") for i, a in enumerate(scenario.actions) if "migration_seconds" in a]
    return paths


def _get(scenario: Scenario, path: Tuple[Any, ...]) -> float:
    node: Any = getattr(scenario, path[0])
    for key in path[1:]:
        node = node[key]
    return float(node)


def _set(scenario: Scenario, path: Tuple[Any, ...], value: float) -> None:
    node: Any = getattr(scenario, path[0])
    for key in path[1:-1]:
        node = node[key]
    node[path[-1]] = value
