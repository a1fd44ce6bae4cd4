"""S2: tokens are bearer credentials; the journal never holds one, so no output of it can leak one."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from simulator import Knobs, ManualClock, Simulator
from simulator.harness.journal import Journal
from simulator.harness.vm import SimulatedVM
from tests.simulator.guest import Guest


def _cycle(sim: Simulator) -> list[str]:
    guest = Guest(sim)
    tokens = [guest.register("first"), guest.register("second")]
    op_id = sim.vmotion()
    for token in tokens:
        guest.check(token)
        guest.ack(token, op_id)
    guest.unregister(tokens[0])
    sim.call('vm-operation-notification.check-for-event {"uniqueToken": "not-a-real-one"}')
    return tokens


def test_the_journal_holds_no_token_but_tells_the_apps_apart() -> None:
    sim = Simulator(ManualClock(1_666_994_660.0), knobs=Knobs(max_apps=2), seed=3)
    tokens = _cycle(sim)
    journal = sim.journal()
    text = json.dumps([e.as_dict() for e in journal])
    assert not [t for t in tokens if t in text]
    assert "not-a-real-one" not in text  # whatever a guest sends as a token is a secret too
    registered = [json.loads(e.stdout)["uniqueToken"] for e in Journal(journal).rpcs("register")]
    assert len(set(registered)) == 2  # one stable placeholder per token
    acks = [json.loads(e.request.split(" ", 1)[1])["uniqueToken"] for e in Journal(journal).rpcs("ack-event")]
    assert acks == registered


def test_journal_and_status_json_over_the_socket_show_no_token(tmp_path: Path) -> None:
    proc = SimulatedVM.as_process(tmp_path, "--clock", "manual", "--seed", "5").start()
    try:
        reply = subprocess.run(
            [str(proc.bin_dir / "vmtoolsd"), "--cmd",
             'vm-operation-notification.register {"appName": "a", "notificationTypes": ["sla-miss"]}'],
            capture_output=True, text=True, timeout=30,
        )
        token = json.loads(reply.stdout)["uniqueToken"]
        outputs = [
            subprocess.run(
                [sys.executable, "-m", "simulator", "--socket", str(proc.socket), verb, *extra],
                capture_output=True, text=True, timeout=30, check=True,
            ).stdout
            for verb in ("journal", "status")
            for extra in ((), ("--json",))
        ]
    finally:
        proc.close()
    assert "registered" in outputs[0] and '"register"' in outputs[1]
    assert not [out for out in outputs if token in out]
