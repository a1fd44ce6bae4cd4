"""A scenario written as a Gherkin scenario, so an incident becomes a regression test in a user's CI.

The steps are ``simulator.incident.steps`` (pytest-bdd). A test module of three lines runs the file:

    from pytest_bdd import scenarios
    from simulator.incident.steps import *  # noqa: F403  (the incident steps)
    scenarios("incident.feature")
"""

from __future__ import annotations

import json
from typing import List

from simulator.incident.scenario import Scenario

NOTHING = "nothing wrong"


def _number(value: float) -> str:
    return f"{float(value):g}"


def outcome_text(outcomes: List[str]) -> str:
    return ", ".join(sorted(outcomes)) or NOTHING


def to_feature(scenario: Scenario) -> str:
    steps = ["Given an incident on virtual time"]
    settings = scenario.settings
    steps.append(f"And the host timeout is {int(settings.get('host_timeout', 120))} seconds")
    if settings.get("vm_timeout") is not None:
        steps.append(f"And the VM timeout is {int(settings['vm_timeout'])} seconds")
    steps.append(f"And migrations take {_number(settings.get('migration_seconds', 15))} seconds")
    steps += [f"And the knob {name} is {json.dumps(value)}" for name, value in scenario.knobs.items()]
    steps += [f"And the handler's {name} is {json.dumps(value)}" for name, value in scenario.handler.items()]
    for hook, runs in scenario.hooks.items():
        for n, run in enumerate(runs, start=1):
            steps.append(f"And {hook} run {n} takes {_number(run.get('seconds', 0))} seconds and exits "
                         f"{int(run.get('exit_code', 0))}")
    for action in scenario.actions:
        at = _number(action["at"])
        if action["do"] == "vmotion":
            how = "that fails " if action.get("outcome") == "failure" else ""
            taking = f" taking {_number(action['migration_seconds'])} seconds" if "migration_seconds" in action else ""
            steps.append(f"And at second {at} a vMotion {how}is requested{taking}")
        elif action["do"] == "reboot":
            steps.append(f"And at second {at} the VM reboots")
        else:
            for key, value in action.items():
                if key in ("at", "do"):
                    continue
                what = {"host_timeout": "host timeout", "vm_timeout": "VM timeout", "enabled": "VM flag"}[key]
                steps.append(f"And at second {at} the {what} changes to {json.dumps(value)}")
    steps.append(f"When the bundled handler runs for {_number(scenario.duration)} seconds")
    steps.append(f"Then the outcome is {outcome_text(scenario.expect)}")
    name = scenario.name.replace("\n", " ")
    body = "\n".join(f"    {step}" for step in steps)
    return f"Feature: Incident {name}\n\n  Scenario: {name}\n{body}\n"
