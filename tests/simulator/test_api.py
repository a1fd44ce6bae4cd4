"""One protocol for both simulators: the same function, typed to take ``SimulatorAPI``, drives the in-process
``Simulator`` and a ``SimulatorClient`` over a served socket, and both answer alike (mypy checks the typing)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Dict, Iterator

import pytest

from simulator import Faults, Knobs, ManualClock, Simulator
from simulator.api import SimulatorAPI
from simulator.harness.journal import Journal
from simulator.harness.vm import SimulatedVM
from simulator.readside import OperationStatus, Status
from simulator.transport.client import SimulatorClient

REGISTER = 'vm-operation-notification.register {"appName": "demo", "notificationTypes": ["sla-miss"]}'


def one_of_each(sim: SimulatorAPI) -> Dict[str, Any]:
    """Every action once, by its one name; what a test would read back."""
    registered = sim.call(REGISTER)
    sim.set(host_timeout=30)
    knobs = sim.knobs(max_apps=2)
    faults = sim.fault(latency=0.0, remaining=1)
    op_id = sim.vmotion()
    sim.advance(31)
    mended = sim.fault()
    status = sim.status()
    return {
        "exit_code": registered.exit_code,
        "knobs": knobs,
        "faults": faults,
        "mended": mended,
        "effective_timeout": status["effective_timeout"],
        "forced": sim.operation(op_id)["forced"],
        "notes": [e.what for e in Journal(sim.journal()).notes()],
        "journal": [(type(e), e.as_dict()) for e in sim.journal()],
    }


@pytest.fixture
def served(tmp_path: Path) -> Iterator[SimulatedVM]:
    with SimulatedVM.in_process(tmp_path, Simulator(ManualClock(), seed=3)) as vm:
        yield vm


def test_the_in_process_simulator_and_the_socket_client_answer_every_action_alike(served: SimulatedVM) -> None:
    local = one_of_each(Simulator(ManualClock(), seed=3))
    remote = one_of_each(SimulatorClient(served.socket))
    assert remote == local
    assert isinstance(remote["knobs"], Knobs) and remote["knobs"].max_apps == 2  # typed, not a dict
    assert isinstance(remote["faults"], Faults) and remote["faults"].remaining == 1
    assert remote["mended"] == Faults()
    assert local["forced"] is True and local["effective_timeout"] == 30


def test_the_old_socket_op_names_are_still_accepted(served: SimulatedVM) -> None:
    client = SimulatorClient(served.socket)
    assert client.request("rpc", command="vm-operation-notification.list")["exit_code"] == 0
    assert client.request("faults", channel_down=True)["faults"]["channel_down"] is True
    assert client.status()["faults"]["channel_down"] is True


def test_status_is_typed_on_both_sides_and_its_json_form_round_trips(served: SimulatedVM) -> None:
    client = SimulatorClient(served.socket)
    client.call(REGISTER)
    op_id = client.vmotion()
    remote, local = client.status(), served.simulator.status()
    assert isinstance(remote, Status) and isinstance(remote.operations[0], OperationStatus)
    assert remote.operations[0].operation_id == op_id and remote.operations[0].phase == "waiting-ack"
    assert remote.registrations[0].app_name == "demo" and remote.knobs == Knobs()
    assert remote.as_dict() == local.as_dict()
    assert json.loads(json.dumps(remote.as_dict())) == remote.as_dict()
    assert client.operation(op_id)["acked"] is False  # and it still reads like its JSON form
