"""The sequence of a soak run, drawn from its seed: pure data, the same for the same seed.

A step is a dict: ``do`` (what happens), its parameters, and ``wait`` (simulated seconds to let pass after it).
Every run starts with a clean cycle (a fast quiesce and a vMotion left alone for 1.5 timeouts), so a handler that
cannot do the basics fails at step 1; then come the random steps, drawn with weights.
"""

from __future__ import annotations

import random
from typing import Any, Dict, List

Step = Dict[str, Any]
KINDS = ("vmotion", "timeout", "reboot", "fault", "disable", "kill-restart", "hook", "wait")
_WEIGHTS = (5, 2, 1, 2, 1, 2, 3, 2)


def run_seed(seed: int, run: int) -> int:
    """Each run of a campaign has its own seed, so one run replays alone."""
    return random.Random(f"vmotion-soak:{seed}:{run}").randrange(1 << 32)


def _draw(rng: random.Random, timeout: int) -> Step:
    kind = rng.choices(KINDS, _WEIGHTS)[0]
    step: Step = {"do": kind}
    if kind == "vmotion":
        step["outcome"] = rng.choice(("success", "success", "success", "failure"))
    elif kind == "timeout":
        step["host_timeout"] = rng.choice((max(2, timeout // 2), timeout, timeout * 2))
    elif kind == "fault":
        step["fault"] = rng.choice(("channel_down", "garble", "truncate", "latency"))
        step["count"] = rng.randint(1, 4)
    elif kind == "hook":
        step["hook"] = rng.choice(("quiesce", "quiesce", "unquiesce"))
        step["behaviour"] = rng.choice(("fast", "near-deadline", "past-deadline", "failing"))
    step["wait"] = round(rng.uniform(0.05, 0.8) * timeout, 3)
    return step


def draw_steps(seed: int, count: int, timeout: int) -> List[Step]:
    """``count`` random steps after the clean cycle, from ``seed``."""
    rng = random.Random(seed)
    steps: List[Step] = [
        {"do": "hook", "hook": "quiesce", "behaviour": "fast", "wait": 0.0},
        {"do": "vmotion", "outcome": "success", "wait": round(1.5 * timeout, 3)},
    ]
    steps += [_draw(rng, timeout) for _ in range(count)]
    return steps
