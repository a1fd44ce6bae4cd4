"""Figure: what the recording wrapper (``vmotion-record install``) adds to one ``check-for-event``.

The call it wraps is the floor: the fake ``vmtoolsd`` against a real ``vmotion-sim serve``, run directly. The
wrapped call runs the installed launcher, which starts the real (here: fake) vmtoolsd and appends the record.
Both are started the same way and interleaved, so noise hits both alike. Target: at most 2 ms added.

A Python wrapper cannot avoid one interpreter start of its own, so the third series times that
(``python -I -S -c pass``, what the launcher's shebang runs); the second row is the wrapper's own work beyond
it (spawning, capturing, redacting, appending).
"""

from __future__ import annotations

import subprocess
import tempfile
from pathlib import Path
from typing import List

from benchmarks.fake_vmtoolsd import floor_argv, run_fake
from benchmarks.measure import Row, median, time_call
from benchmarks.simproc import REGISTER, check_for_event, token_of
from simulator.harness.vm import SimulatedVM
from simulator.incident.record_cli import install

FIGURE = "record-wrapper"
TARGET_ADDED_MS = 2.0


def run(quick: bool) -> List[Row]:
    reps = 5 if quick else 200
    floor_cmd = floor_argv()
    with tempfile.TemporaryDirectory(prefix="bench-record-") as tmp, SimulatedVM.as_process(Path(tmp)) as sim:
        recording = Path(tmp) / "recording.jsonl"
        wrapper = install(Path(tmp) / "wrap", str(sim.vmtoolsd), str(recording))["launcher"]
        command = check_for_event(token_of(sim.client.call(REGISTER)))
        direct = run_fake(sim.vmtoolsd, command)
        wrapped = run_fake(wrapper, command)
        if (wrapped.stdout, wrapped.stderr, wrapped.returncode) != (direct.stdout, direct.stderr, direct.returncode):
            raise RuntimeError(f"the wrapper changed the call: {wrapped!r} vs {direct!r}")
        for _ in range(3):  # warm the page cache
            run_fake(wrapper, command)
            run_fake(sim.vmtoolsd, command)
        calls: List[float] = []
        floors: List[float] = []
        starts: List[float] = []
        for _ in range(reps):
            calls.append(time_call(lambda: run_fake(wrapper, command)))
            floors.append(time_call(lambda: run_fake(sim.vmtoolsd, command)))
            starts.append(time_call(lambda: subprocess.run(floor_cmd, capture_output=True, check=False)))
        records = len(recording.read_text().splitlines())
    added = median(calls) - median(floors)
    own = added - median(starts)
    note = (f"adds {added:.1f} ms per call, of which {median(starts):.1f} ms is the interpreter start every "
            f"Python wrapper pays; {records} records written")
    return [
        Row(
            figure=FIGURE,
            name="check-for-event via the recording wrapper",
            unit="ms",
            samples=calls,
            floor_name="the same call, unwrapped",
            floor_samples=floors,
            target=f"<= floor + {TARGET_ADDED_MS:g} ms",
            met_override=added <= TARGET_ADDED_MS,
            note=note,
            extra={"added_ms": added, "interpreter_start_ms": median(starts), "own_work_ms": own},
        ),
        Row(
            figure=FIGURE,
            name="the wrapper's own work, beyond its interpreter start",
            unit="ms",
            samples=[c - f for c, f in zip(calls, floors)],
            floor_name="python -I -S -c pass",
            floor_samples=starts,
            target=f"<= floor + {TARGET_ADDED_MS:g} ms",
            met_override=own <= TARGET_ADDED_MS,
            note="spawning the real vmtoolsd, capturing its output, redacting, appending the record",
        ),
    ]
