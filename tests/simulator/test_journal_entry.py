"""Journal entries are typed objects whose JSON form is the one the journal has always had, read back safely."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any, List

import pytest

from simulator import ManualClock, Simulator
from simulator.harness.journal import Journal
from simulator.journal_entry import ControlEntry, Entry, JournalEntry, ModelEntry, ProbeEntry, RpcEntry
from simulator.model.journal_events import JournalEvent
from tests.simulator.guest import Guest

T0 = 1_700_000_000.0


def _one_of_each_kind() -> List[Entry]:
    sim = Simulator(ManualClock(T0), seed=3)
    guest = Guest(sim)
    token = guest.register("app")
    op_id = sim.vmotion()
    sim.call(f'vm-operation-notification.check-for-event {{"uniqueToken": "{token}"}}', via="argv")
    sim.record_probe("quiesce", "started", {"VMOTION_OPERATION_ID": str(op_id)}, pid=42)
    guest.ack(token, op_id)
    sim.fault(garble=True, remaining=1)
    return sim.journal()


def test_each_kind_of_entry_is_typed_and_its_json_form_keeps_the_key_order_the_simulator_always_wrote() -> None:
    journal = Journal(_one_of_each_kind())
    register = journal.rpcs("register").first()
    acked = journal.notes(JournalEvent.ACKED).first()
    probe = journal.probes("quiesce").first()
    control = next(e for e in journal if isinstance(e, ControlEntry))
    polled = journal.rpcs("check-for-event").first()
    assert register is not None and acked is not None and probe is not None
    assert polled is not None
    assert (register.verb, register.exit_code, register.via, register.token_in_argv) == ("register", 0, None, None)
    assert (polled.via, polled.token_in_argv) == ("argv", True)
    assert (acked.what, acked.app, acked.operation_id) == (JournalEvent.ACKED, "app", acked.details["operation_id"])
    assert (probe.name, probe.phase, probe.exit_code, probe.details) == ("quiesce", "started", None, {"pid": 42})
    assert (control.what, control.details["garble"]) == ("faults", True)
    assert list(register.as_dict()) == ["verb", "request", "stdout", "stderr", "exit_code", "seq", "time", "kind"]
    assert list(polled.as_dict())[5:7] == ["via", "token_in_argv"]
    assert list(acked.as_dict()) == ["time", "kind", "what", "app", "operation_id", "waited", "seq"]
    assert list(probe.as_dict()) == ["name", "phase", "env", "pid", "seq", "time", "kind"]
    control_keys = list(control.as_dict())
    assert control_keys[:2] == ["what", "latency"] and control_keys[-3:] == ["seq", "time", "kind"]
    assert acked.as_dict()["what"] == "acked" and type(acked.as_dict()["what"]) is str


def test_every_entry_read_back_from_its_json_form_is_the_same_entry() -> None:
    for entry in _one_of_each_kind():
        again = JournalEntry.from_dict(json.loads(json.dumps(entry.as_dict())))
        assert type(again) is type(entry) and again.as_dict() == entry.as_dict()


def test_an_entry_still_reads_like_its_json_form() -> None:
    entry = Journal(_one_of_each_kind()).rpcs("register").first()
    assert entry is not None
    assert (entry["verb"], entry.get("what"), dict(entry)) == ("register", None, entry.as_dict())


GOOD = {"seq": 1, "time": T0, "kind": "rpc", "verb": "list", "request": "r", "stdout": "", "stderr": "", "exit_code": 0}


@pytest.mark.parametrize(("data", "message"), [
    ([GOOD], "not a JSON object"),
    ({**GOOD, "kind": "gossip"}, "kind is not one of rpc, model, probe, control"),
    ({**GOOD, "time": "noon"}, "time is not a number"),
    ({**GOOD, "time": True}, "time is not a number"),
    ({**GOOD, "seq": 1.5}, "seq is not an integer"),
    ({k: v for k, v in GOOD.items() if k != "stdout"}, "stdout is not a string"),
    ({**GOOD, "token_in_argv": "yes"}, "token_in_argv is not true or false"),
    ({"seq": 1, "time": T0, "kind": "model", "what": "exploded"}, "what is not a hypervisor event"),
    ({"seq": 1, "time": T0, "kind": "probe", "name": "q", "phase": "started", "env": {"A": 1}},
     "env does not map names to strings"),
])
def test_what_is_not_a_journal_entry_is_refused_saying_why(data: Any, message: str) -> None:
    with pytest.raises(ValueError) as refused:
        JournalEntry.from_dict(data)
    assert str(refused.value) == message


def test_entries_as_a_saved_journal_may_hold_them_are_read() -> None:
    model = JournalEntry.from_dict({"time": T0, "kind": "model", "what": "forced", "operation_id": 7, "seq": 3})
    assert isinstance(model, ModelEntry) and (model.what, model.operation_id) == (JournalEvent.FORCED, 7)
    probe = JournalEntry.from_dict({"name": "q", "phase": "finished", "env": {}, "exit_code": 2, "seq": 4,
                                    "time": T0, "kind": "probe"})
    assert isinstance(probe, ProbeEntry) and probe.exit_code == 2
    rpc = JournalEntry.from_dict({**GOOD, "verb": None})
    assert isinstance(rpc, RpcEntry) and rpc.verb is None


def test_replaying_a_saved_journal_skips_what_is_not_an_entry_and_says_which(tmp_path: Path) -> None:
    saved: List[Any] = [e.as_dict() for e in _one_of_each_kind()]
    saved[1:1] = [{"seq": 77, "time": "noon", "kind": "rpc"}, ["x"], {"seq": 78, "time": T0, "kind": "model",
                                                                       "what": "exploded"}]
    (tmp_path / "journal.json").write_text(json.dumps(saved))
    done = subprocess.run([sys.executable, "-m", "simulator", "replay", "journal.json"], capture_output=True,
                          text=True, cwd=tmp_path, timeout=60, check=False)
    assert (done.returncode, done.stderr) == (0, "")
    assert "skipped 3 line(s) that are not a simulator journal (vmotion-sim journal --json): line 2, 3, 4" in done.stdout
    assert "acks: ok at 0.0 s" in done.stdout  # the entries around them are read
