"""The scaled clock, the shared start libfaketime reads, and which programs cannot run at speed."""

from __future__ import annotations

import subprocess
import sys
import threading
from pathlib import Path
from typing import Iterator, List

import pytest

from simulator import ScaledClock, Simulator
from simulator.harness import SimulatedVM
from simulator.harness.ours import python_module
from simulator.speed import EXIT_UNAVAILABLE, SharedClock, SpeedUnavailable, check_program, program_reason


def test_a_scaled_clock_runs_k_times_faster_from_its_origin() -> None:
    wall = [1000.0]
    clock = ScaledClock(20, origin_wall=1000.0, wall=lambda: wall[0])
    assert clock.now() == 1000.0
    wall[0] = 1006.0
    assert clock.now() == 1000.0 + 120.0  # 6 real seconds are 120 on the scaled clock
    assert clock.at(1003.0) == 1060.0


def test_a_scaled_clock_refuses_a_speed_that_is_not_a_positive_number() -> None:
    for bad in (0.0, -2.0, float("nan"), float("inf")):
        with pytest.raises(ValueError):
            ScaledClock(bad)


def test_the_simulator_stamps_events_with_the_scaled_clock() -> None:
    wall = [1000.0]
    sim = Simulator(ScaledClock(20, origin_wall=1000.0, wall=lambda: wall[0]), host_timeout=120)
    sim.call('vm-operation-notification.register {"appName": "a", "notificationTypes": ["sla-miss"]}')
    op = sim.vmotion()
    wall[0] = 1005.9  # 118 s on the simulator's clock: still waiting
    assert sim.operation(op)["phase"] == "waiting-ack"
    wall[0] = 1006.0  # 120 s: forced, at its own time
    done = sim.operation(op)
    assert done["forced"] and done["migration_started_at"] == 1120.0


# ---------------------------------------------------------------------------------------------- agreement


@pytest.fixture
def shared(_speed_tools: None) -> Iterator[SharedClock]:
    with SharedClock(ScaledClock(20)) as clock:
        yield clock


def test_a_process_on_the_shared_clock_reads_the_simulator_s_time(shared: SharedClock) -> None:
    """A long-lived child answers each question with its time(): it is the scaled clock's, between the
    readings taken just before the question and just after the answer."""
    code = "import sys, time\nfor _ in sys.stdin:\n    print(repr(time.time()), flush=True)\n"
    child = subprocess.Popen([sys.executable, "-c", code], env=shared.env(), stdin=subprocess.PIPE,
                             stdout=subprocess.PIPE, text=True)
    assert child.stdin is not None and child.stdout is not None
    try:
        for _ in range(5):
            before = shared.clock.now()
            child.stdin.write("?\n")
            child.stdin.flush()
            seen = float(child.stdout.readline())
            after = shared.clock.now()
            assert before <= seen <= after
    finally:
        child.stdin.close()
        child.wait()


def test_a_timed_wait_ends_on_the_scaled_clock(shared: SharedClock) -> None:
    """Python's Event.wait(timeout) is sem_clockwait: without the shim it never ends under libfaketime 0.9.10."""
    code = (
        "import threading, time\n"
        "start = time.monotonic(); threading.Event().wait(3.0); print(time.monotonic() - start)\n"
    )
    done = subprocess.run([sys.executable, "-c", code], env=shared.env(), capture_output=True, text=True,
                          timeout=60)
    assert done.returncode == 0, done.stderr
    # 3 s on its own clock (0.15 s of wall time); on the real clock it would read 60 s. Up to 10 s more is a loaded
    # machine's scheduling (0.5 s of wall time): 1 s (50 ms) has been overrun under -n 4.
    assert 3.0 <= float(done.stdout) < 3.0 + 10.0


def test_every_child_shares_the_start_so_date_agrees_too(shared: SharedClock) -> None:
    before = shared.clock.now()
    done = subprocess.run(["sh", "-c", "sleep 2; date +%s.%N"], env=shared.env(), capture_output=True, text=True)
    after = shared.clock.now()
    assert before + 2.0 <= float(done.stdout) <= after


def test_the_shared_clock_leaves_nothing_behind(_speed_tools: None) -> None:
    with SharedClock(ScaledClock(5)) as clock:
        names = [clock.shm_name, clock.sem_name]
        assert Path(f"/dev/shm{clock.shm_name}").stat().st_mode & 0o777 == 0o600
    leftovers = [p.name for p in Path("/dev/shm").iterdir() if any(n.strip("/") in p.name for n in names)]
    assert leftovers == []


# ---------------------------------------------------------------------------------------------- what cannot


def test_a_statically_linked_program_is_named_as_such(static_program: Path) -> None:
    assert "statically linked" in (program_reason(str(static_program)) or "")
    with pytest.raises(SpeedUnavailable, match="statically linked"):
        check_program([str(static_program)])


def test_a_script_is_judged_by_its_interpreter(static_program: Path, tmp_path: Path) -> None:
    direct = tmp_path / "direct"
    direct.write_text(f"#!{static_program}\n")
    via_env = tmp_path / "via-env"
    via_env.write_text(f"#!/usr/bin/env -S {static_program.name} --flag\n")
    reason = program_reason(str(direct))
    assert reason is not None and "runs under" in reason and "statically linked" in reason
    assert "statically linked" in (program_reason(str(via_env), path=str(static_program.parent)) or "")


def test_dynamically_linked_programs_and_scripts_can_run_at_speed(tmp_path: Path) -> None:
    script = tmp_path / "handler.sh"
    script.write_text("#!/bin/sh\necho hi\n")
    assert program_reason("sh") is None
    assert program_reason(sys.executable) is None
    assert program_reason(str(script)) is None
    assert program_reason(str(Path(__file__).with_name("sh_handler.sh"))) is None


def test_a_go_program_is_named_as_such() -> None:
    candidates: List[Path] = [p for p in (Path("/usr/lib/go/bin/go"), Path("/usr/bin/go")) if p.exists()]
    if not candidates:
        pytest.skip("no Go toolchain binary on this machine")
    reason = program_reason(str(candidates[0].resolve()))
    assert reason is not None and ("Go program" in reason or "statically linked" in reason)


def _exec_on(directory: Path, argv: List[str], *serve_args: str) -> subprocess.CompletedProcess[str]:
    """``vmotion-sim exec -- ARGV`` against ``vmotion-sim serve SERVE_ARGS`` served in ``directory``."""
    with SimulatedVM.as_process(directory, *serve_args) as sim:
        return subprocess.run([*python_module("simulator"), "--socket", str(sim.socket), "exec", "--", *argv],
                              capture_output=True, text=True)


def test_exec_refuses_a_static_program_with_exit_4_and_one_line(
    _speed_tools: None, static_program: Path, short_dir: Path
) -> None:
    done = _exec_on(short_dir, [str(static_program)], "--speed", "10")
    assert done.returncode == EXIT_UNAVAILABLE
    assert done.stderr.count("\n") == 1 and "statically linked" in done.stderr and "Traceback" not in done.stderr


def test_exec_at_speed_1_runs_even_a_static_program(static_program: Path, short_dir: Path) -> None:
    done = _exec_on(short_dir, [str(static_program)])
    assert done.returncode == 0, done.stderr


def test_exec_passes_sigterm_on_and_returns_the_status(_speed_tools: None, short_dir: Path) -> None:
    sim = SimulatedVM.as_process(short_dir, "--speed", "10").start()
    ready = threading.Event()
    try:
        proc = subprocess.Popen(
            [*python_module("simulator"), "--socket", str(sim.socket), "exec", "--",
             "sh", "-c", "trap 'exit 7' TERM; echo up; while :; do sleep 1; done"],
            stdout=subprocess.PIPE, text=True,
        )
        assert proc.stdout is not None
        if proc.stdout.readline().strip() == "up":
            ready.set()
        proc.terminate()
        code = proc.wait(timeout=30)
    finally:
        sim.close()
    assert ready.is_set() and code == 7


def test_every_vmotion_sim_start_stays_light() -> None:
    """exec and soak are registered on every start (hook probes included): their machinery loads when they run."""
    code = ("import sys, simulator.cli; print(sorted(m for m in sys.modules if m.startswith("
            "('ctypes', 'concurrent', 'simulator.speed.', 'simulator.soak.runner')) or m == 'simulator.speed'))")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=True)
    assert done.stdout.strip() == "[]"
