"""A soak run as a scenario file of the incident package (``vmotion-sim run FILE -- COMMAND`` replays it).

Each step the run played becomes actions at the simulated second it happened (from the handler's registration), a hook
behaviour an action that changes the hook from then on, the end of the run a ``terminate``; ``expect`` names the
broken invariant as ``invariant:NAME``, and the handler command and the speed go with it.
"""

from __future__ import annotations

from typing import Any, Dict, List, Optional, Tuple

from simulator.incident.scenario import Scenario

Action = Dict[str, Any]


def step_actions(step: Dict[str, Any], timeout: float, seconds: float, exit_code: int) -> List[Action]:
    """The scenario actions of one soak step (``seconds``/``exit_code``: a hook step's behaviour)."""
    kind = step["do"]
    if kind == "vmotion":
        return [{"do": "vmotion", "outcome": step["outcome"]}]
    if kind == "timeout":
        return [{"do": "set", "host_timeout": int(step["host_timeout"])}]
    if kind == "reboot":
        return [{"do": "reboot"}]
    if kind == "fault":
        value: Any = 0.05 * timeout if step["fault"] == "latency" else True
        return [{"do": "fault", step["fault"]: value, "count": int(step["count"])}]
    if kind == "disable":
        return [{"do": "set", "enabled": False}]
    if kind == "kill-restart":
        return [{"do": "kill"}, {"do": "restart"}]
    if kind == "hook":
        return [{"do": "hook", "hook": step["hook"], "seconds": round(seconds, 3), "exit_code": exit_code,
                 "behaviour": step["behaviour"]}]
    return []  # "wait": only time passes


def to_scenario(
    name: str, timed: List[Tuple[float, Action]], timeout: int, migration_seconds: float, speed: Optional[float],
    command: Optional[str], invariant: str, end: float, seed: Optional[int] = None,
) -> Scenario:
    """``timed``: (simulated seconds from the handler's start, action); ``end``: when the invariant was seen broken,
    where the replay checks it last (the soak checks after each step's wait, so the end is past the last action);
    ``seed``: the run's simulator seed, so the replay draws the same operation ids."""
    actions = [{"at": round(max(0.0, at), 3), **action} for at, action in timed]
    last = max([a["at"] for a in actions] + [end])
    settings: Dict[str, Any] = {"host_timeout": timeout, "vm_timeout": None, "migration_seconds": migration_seconds}
    if seed is not None:
        settings["seed"] = seed
    return Scenario(
        name=name, settings=settings,
        actions=actions, duration=round(last + 0.001, 3), expect=[f"invariant:{invariant}"], source="soak",
        command=command, speed=speed, begin="registered",
    )
