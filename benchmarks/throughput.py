"""Figure: simulator throughput, guest RPCs per second, in-process and over the control socket.

Each call is one ``check-for-event`` that delivers one ``timeout-change`` event, measured with 1 event queued
and with 1,000 queued (the cost must not grow with the queue). Events are queued between timed calls by
flipping the host timeout, which queues one ``timeout-change`` per change.

Floors, measured in the same run:
- in-process: parsing the request and rendering a reply with the json module, the least any RPC costs;
- over the socket: the control protocol's ``ping`` round trip (connect, one line each way, no model work).
The 1,000-deep rows use the 1-deep row's median as their floor: their ratio is the growth with depth.
"""

from __future__ import annotations

import json
import tempfile
import time
from pathlib import Path
from typing import Callable, List, Tuple

from benchmarks.measure import Row, median
from benchmarks.simproc import REGISTER, check_for_event, token_of
from simulator import ManualClock, Simulator
from simulator.harness.vm import SimulatedVM

FIGURE = "throughput"
DEEP = 1000
_US = 1e6


class _Flipper:
    """Queues one timeout-change per call by moving the host timeout between two values."""

    def __init__(self, set_: Callable[..., object]) -> None:
        self._set = set_
        self._n = 0

    def queue(self, count: int = 1) -> None:
        for _ in range(count):
            self._n += 1
            self._set(host_timeout=120 + self._n % 2)


def _timed(call: Callable[[str], object], command: str) -> float:
    start = time.perf_counter()
    call(command)
    return (time.perf_counter() - start) * _US


def _measure(
    call: Callable[[str], object], flipper: _Flipper, command: str, reps: int
) -> Tuple[List[float], List[float]]:
    """Per-call microseconds at depth 1 and at depth >= 1,000."""
    shallow: List[float] = []
    for _ in range(reps):
        flipper.queue()  # depth 1
        shallow.append(_timed(call, command))
    flipper.queue(DEEP + reps)
    deep = [_timed(call, command) for _ in range(reps)]  # depth goes from DEEP + reps down to DEEP + 1
    return shallow, deep


def _json_floor(command: str, reps: int) -> List[float]:
    argument = command.split(" ", 1)[1]
    reply = {"version": "1.0.0", "result": True, "eventType": "timeout-change", "operationId": 1 << 60}
    samples = []
    for _ in range(reps):
        start = time.perf_counter()
        json.loads(argument)
        json.dumps(reply)
        samples.append((time.perf_counter() - start) * _US)
    return samples


def _rows(where: str, shallow: List[float], deep: List[float], floor_name: str, floor: List[float]) -> List[Row]:
    per_s = 1e6 / median(shallow)
    per_s_deep = 1e6 / median(deep)
    return [
        Row(FIGURE, f"{where}, 1 queued", "us", shallow, floor_name, floor,
            note=f"{per_s:,.0f} RPCs/s", extra={"rpcs_per_second": per_s}),
        Row(FIGURE, f"{where}, {DEEP:,} queued", "us", deep, f"{where}, 1 queued", shallow,
            target="no growth with depth (<= 1.2x)", target_ratio=1.2,
            note=f"{per_s_deep:,.0f} RPCs/s", extra={"rpcs_per_second": per_s_deep}),
    ]


def run(quick: bool) -> List[Row]:
    reps_local = 100 if quick else 5000
    reps_socket = 30 if quick else 2000

    sim = Simulator(clock=ManualClock(), host_timeout=120, seed=1)
    token = json.loads(sim.call(REGISTER).stdout)["uniqueToken"]
    command = check_for_event(token)
    local = _measure(sim.call, _Flipper(sim.set), command, reps_local)
    rows = _rows("in-process", *local, "json parse + render", _json_floor(command, reps_local))

    with tempfile.TemporaryDirectory(prefix="bench-throughput-") as tmp, SimulatedVM.as_process(Path(tmp)) as server:
        client = server.client
        command = check_for_event(token_of(client.call(REGISTER)))
        remote = _measure(client.call, _Flipper(client.set), command, reps_socket)
        pings: List[float] = []
        for _ in range(reps_socket):
            start = time.perf_counter()
            client.request("ping")
            pings.append((time.perf_counter() - start) * _US)
        delivered = '"eventType": "timeout-change"' in client.call(command).stdout
    if not delivered:
        raise RuntimeError("the socket benchmark did not deliver timeout-change events")
    rows += _rows("control socket", *remote, "ping round trip", pings)
    return rows
