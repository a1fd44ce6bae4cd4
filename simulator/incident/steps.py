"""pytest-bdd steps for the Gherkin form of a scenario (``feature.to_feature``): the Givens build a
``Scenario``, the When runs it on virtual time against the bundled handler's core, the Then reads its outcome.
Imported only by a test module (it needs pytest-bdd, a test dependency)."""

from __future__ import annotations

import json
from typing import Any, Dict, Optional

from pytest_bdd import given, parsers, then, when

from simulator.incident.feature import NOTHING
from simulator.incident.reconstruct import Incident
from simulator.incident.scenario import Scenario, from_dict
from simulator.incident.virtual import run_virtual

# No __all__: pytest-bdd registers each step as a fixture in this module, and `import *` must bring those.


@given("an incident on virtual time", target_fixture="incident_scenario")
def incident() -> Scenario:
    return Scenario(settings={"host_timeout": 120, "vm_timeout": None, "migration_seconds": 15.0})


@given(parsers.parse("the host timeout is {seconds:d} seconds"))
def host_timeout(incident_scenario: Scenario, seconds: int) -> None:
    incident_scenario.settings["host_timeout"] = seconds


@given(parsers.parse("the VM timeout is {seconds:d} seconds"))
def vm_timeout(incident_scenario: Scenario, seconds: int) -> None:
    incident_scenario.settings["vm_timeout"] = seconds


@given(parsers.parse("migrations take {seconds:g} seconds"))
def migrations_take(incident_scenario: Scenario, seconds: float) -> None:
    incident_scenario.settings["migration_seconds"] = seconds


@given(parsers.parse("the knob {name} is {value}"))
def knob(incident_scenario: Scenario, name: str, value: str) -> None:
    incident_scenario.knobs[name] = json.loads(value)


@given(parsers.parse("the handler's {name} is {value}"))
def handler_setting(incident_scenario: Scenario, name: str, value: str) -> None:
    incident_scenario.handler[name] = json.loads(value)


@given(parsers.parse("{hook} run {n:d} takes {seconds:g} seconds and exits {code:d}"))
def hook_run(incident_scenario: Scenario, hook: str, n: int, seconds: float, code: int) -> None:
    incident_scenario.hooks.setdefault(hook, []).append({"seconds": seconds, "exit_code": code})


@given(parsers.re(r"at second (?P<at>[\d.]+) a vMotion (?P<fails>that fails )?is requested"
                  r"(?: taking (?P<seconds>[\d.]+) seconds)?$"))
def a_vmotion(incident_scenario: Scenario, at: str, fails: Optional[str], seconds: Optional[str]) -> None:
    action: Dict[str, Any] = {"at": float(at), "do": "vmotion"}
    if fails:
        action["outcome"] = "failure"
    if seconds:
        action["migration_seconds"] = float(seconds)
    incident_scenario.actions.append(action)


@given(parsers.parse("at second {at:g} the {what} changes to {value}"))
def a_change(incident_scenario: Scenario, at: float, what: str, value: str) -> None:
    key = {"host timeout": "host_timeout", "VM timeout": "vm_timeout", "VM flag": "enabled"}[what]
    incident_scenario.actions.append({"at": at, "do": "set", key: json.loads(value)})


@given(parsers.parse("at second {at:g} the VM reboots"))
def a_reboot(incident_scenario: Scenario, at: float) -> None:
    incident_scenario.actions.append({"at": at, "do": "reboot"})


@when(parsers.parse("the bundled handler runs for {seconds:g} seconds"), target_fixture="incident_run")
def the_handler_runs(incident_scenario: Scenario, seconds: float) -> Incident:
    incident_scenario.duration = seconds
    checked = from_dict(incident_scenario.as_dict())  # the same validation as a scenario file
    return run_virtual(checked)


@then(parsers.parse("the outcome is {outcomes}"))
def the_outcome_is(incident_run: Incident, outcomes: str) -> None:
    expected = [] if outcomes == NOTHING else sorted(o.strip() for o in outcomes.split(","))
    assert sorted(incident_run.outcome) == expected, f"the run shows {incident_run.outcome or 'nothing wrong'}"
