"""A recording made through the wrapper against `vmotion-sim serve` compares with the simulator: no differences
at the same knobs; a server with another knob value is named, with that value.

The four sessions (one per server) mostly wait on real time, so a module fixture records them all at once; the
comparisons of the knob values call vmotion-sim's main in this process, the default one runs it as a process.
"""

from __future__ import annotations

import contextlib
import json
import re
import subprocess
import sys
import time
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path
from typing import Callable, Dict, Iterator, Optional

import pytest

from simulator.harness.vm import SimulatedVM
from simulator.harness.wait import wait_until
from simulator.incident.record_cli import install
from simulator.transport.client import SimulatorClient
from tests.incident.test_cli import sim_here
from tests.simulator.obs import REGISTER_DEMO

TOKEN = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")
PREFIX = "vm-operation-notification."


def wait_for(condition: Callable[[], object]) -> None:
    assert wait_until(condition, 10), "timed out"


def session(sim: SimulatedVM, wrapper: Path) -> None:
    """A short session through the wrapper: register, poll, a vMotion acked in time, its end, a late ack of a
    second one, an unknown verb, a refused register, unregister. Real time, 1 s timeouts."""
    control = SimulatorClient(sim.socket)

    def call(rpc: str) -> str:
        return subprocess.run([str(wrapper), "--cmd", rpc], capture_output=True, text=True, timeout=30).stdout

    token = TOKEN.search(call(REGISTER_DEMO)).group(0)  # type: ignore[union-attr]
    check = PREFIX + f'check-for-event {{"uniqueToken": "{token}"}}'
    call(check)
    op = control.vmotion(migration_seconds=0.2)
    call(check)
    call(PREFIX + f'ack-event {{"uniqueToken": "{token}", "operationId": {op}}}')
    wait_for(lambda: control.operation(op)["ended_at"])  # the 0.2 s migration ends
    call(check)
    late = control.vmotion(migration_seconds=0.2)
    # Forced at its 1 s timeout, then migrated: the ack below is late (what ack_after_timeout is about), also to a
    # comparison that knows when it was requested only to the second (eventGenTimeInSec): 2 s past that second.
    second = int(control.operation(late)["requested_at"])
    wait_for(lambda: control.operation(late)["ended_at"] and time.time() >= second + 2)
    call(check)
    call(PREFIX + f'ack-event {{"uniqueToken": "{token}", "operationId": {late}}}')
    call(PREFIX + "frobnicate {}")
    call(REGISTER_DEMO)
    call(PREFIX + f'unregister {{"uniqueToken": "{token}"}}')


KNOBS = (None, "error_envelope=text-stderr", "ack_after_timeout=ack_received", "unknown_verb_reply=disabled")


def recorded(vm: SimulatedVM, wrapper: Path, recording: Path) -> Path:
    session(vm, wrapper)
    return recording


@pytest.fixture(scope="module")
def recordings(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Dict[Optional[str], Future[Path]]]:
    """{knob: its session's recording}: four sessions against ``vmotion-sim serve`` with a 1-s timeout and the
    knob (NAME=VALUE) if given, recorded at once. Every executable is written before any session starts: a
    process forked by one thread while another writes a script holds it open for writing, and exec of the
    script then fails (ETXTBSY)."""
    with contextlib.ExitStack() as stack:
        sessions = []
        for knob in KNOBS:
            directory = tmp_path_factory.mktemp("compare")
            vm = SimulatedVM.as_process(directory, "--host-timeout", "1", *(("--knob", knob) if knob else ()))
            stack.callback(vm.close)
            recording = directory / "recording.jsonl"
            wrapper = install(directory / "wrap", str(vm.bin_dir / "vmtoolsd"), str(recording))["launcher"]
            sessions.append((knob, vm, wrapper, recording))
        for _, vm, _, _ in sessions:
            vm.start()
        with ThreadPoolExecutor(len(KNOBS)) as pool:
            yield {knob: pool.submit(recorded, vm, wrapper, recording) for knob, vm, wrapper, recording in sessions}


def compare(recording: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "simulator", "compare", str(recording), "--json"],
                          capture_output=True, text=True, timeout=120, check=False)


def test_a_recording_against_default_knobs_compares_with_no_differences(
    recordings: Dict[Optional[str], Future[Path]]
) -> None:
    done = compare(recordings[None].result())
    result = json.loads(done.stdout)
    assert result["differences"] == [] and done.returncode == 0, result["differences"]
    assert result["calls"] == 10 and result["would_agree_with"] == {}
    supported = {(k["name"], k["value"]) for k in result["knobs"] if k["verdict"] == "supports"}
    assert ("error_envelope", "json-stdout") in supported and ("ack_after_timeout", "error") in supported


@pytest.mark.parametrize("served", [knob for knob in KNOBS if knob])
def test_a_recording_against_another_knob_value_names_that_knob(
    recordings: Dict[Optional[str], Future[Path]], capsys: pytest.CaptureFixture[str], served: str
) -> None:
    knob, value = served.split("=")
    done = sim_here(capsys, "compare", str(recordings[served].result()), "--json")
    result = json.loads(done.stdout)
    assert done.returncode == 5 and result["differences"]
    assert result["would_agree_with"] == {knob: value} and result["differences_left_with_those"] == 0, done.stdout
    assert {"name": knob, "value": value, "differences": 0, "verdict": "supports"} in result["knobs"]
