"""``vmotion-sim evacuate`` as a user runs it: its options, its output, and one-line errors with exit 2."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from tests.cluster.run import evacuate, evacuate_json


@pytest.mark.parametrize("argv", [
    ["--vms", "0"],
    ["--vms", "-3"],
    ["--vms", "many"],
    ["--vms", "1000000000"],
    [],  # how many VMs?
    ["--vms", "2", "--concurrency", "0"],
    ["--vms", "2", "--quiesce", "soon"],
    ["--vms", "2", "--quiesce", "-1"],
    ["--vms", "2", "--quiesce", "uniform:9:1"],
    ["--vms", "2", "--quiesce", "uniform:1"],
    ["--vms", "2", "--migration-seconds", "lognormal:2:-1"],
    ["--vms", "2", "--migration-seconds", "lognormal:99:1"],
    ["--vms", "2", "--migration-seconds", "nan"],
    ["--vms", "2", "--quiesce", "empirical:/no/such/recording"],
    ["--vms", "3", "--timeout", "60,90"],
    ["--vms", "2", "--timeout", "-5"],
    ["--vms", "2", "--timeout", "/no/such/file"],
    ["--vms", "2", "--interval", "0"],
    ["--vms", "2", "--safety-margin", "-1"],
    ["--vms", "2", "--on-quiesce-failure", "panic"],
    ["--vms", "2", "--svg", "/no/such/dir/chart.svg"],
])
def test_bad_input_is_one_line_on_stderr_and_exit_2(argv: list[str]) -> None:
    outcome = evacuate(*argv)
    assert outcome.exit_code == 2, outcome
    lines = outcome.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("vmotion-sim: "), outcome.stderr
    assert outcome.stdout == ""


def test_the_text_summary_names_the_total_the_forced_and_the_critical_path() -> None:
    outcome = evacuate("--vms", "6", "--concurrency", "2", "--timeout", "30,30,30,30,30,5", "--quiesce", "10",
                       "--aligned-polls")
    assert outcome.exit_code == 0, outcome.stderr
    text = outcome.stdout
    assert "evacuated 6 VMs in" in text
    assert "quiesce cut at the deadline: 1 (vm-6)" in text
    assert "critical path (3 VMs): " in text


def test_one_timeout_per_vm_from_a_comma_list_or_a_file_sets_the_number_of_vms(tmp_path: Path) -> None:
    listed = evacuate_json("--timeout", "30,0,30", "--quiesce", "40", "--aligned-polls")
    assert [row["timeout"] for row in listed["vms"]] == [30, 0, 30]
    # 0: notifications off for that VM, so it migrates at once, without a guest's say.
    assert listed["not_notified"] == ["vm-2"]
    assert listed["vms"][1]["released"] == listed["vms"][1]["admitted"] and listed["vms"][1]["quiesce"] is None
    assert listed["quiesce_cut"] == ["vm-1", "vm-3"]
    timeouts = tmp_path / "timeouts.txt"
    timeouts.write_text("# per VM\n30\n\n0\n30  # the database\n")
    from_file = evacuate_json("--timeout", str(timeouts), "--quiesce", "40", "--aligned-polls")
    assert from_file["vms"] == listed["vms"]


def test_a_seed_makes_a_run_repeatable_and_another_seed_makes_another_run() -> None:
    argv = ["--vms", "30", "--quiesce", "uniform:1:20", "--migration-seconds", "lognormal:2.5:0.4"]
    first, again, other = evacuate_json(*argv, "--seed", "1"), evacuate_json(*argv, "--seed", "1"), \
        evacuate_json(*argv, "--seed", "2")
    assert first == again
    assert first["total_seconds"] != other["total_seconds"]
    quiesces = [row["quiesce_seconds"] for row in first["vms"]]
    assert min(quiesces) >= 1 and max(quiesces) <= 20 and len(set(quiesces)) == 30


def test_the_json_has_every_figure_the_issue_asks_for() -> None:
    out = evacuate_json("--vms", "9", "--concurrency", "4", "--quiesce", "uniform:1:8")
    for key in ("total_seconds", "forced", "quiesce_cut", "critical_path", "margins", "all_slots_waiting_seconds"):
        assert key in out
    assert set(out["margins"]) == {"count", "min", "p10", "median", "p90", "max", "mean"}
    assert out["margins"]["count"] == 9
    assert out["critical_path"]["vms"][-1] == max(out["vms"], key=lambda r: r["migration"][1])["vm"]
    assert sum(out["critical_path"]["seconds"].values()) == pytest.approx(out["total_seconds"])


def test_the_installed_command_runs_it_too() -> None:
    done = subprocess.run([sys.executable, "-m", "simulator", "evacuate", "--vms", "3", "--json"],
                          capture_output=True, text=True, timeout=120, check=False)
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["vm_count"] == 3


def test_registering_the_subcommand_does_not_load_the_what_if_on_every_vmotion_sim_start() -> None:
    # vmotion-sim also runs as every hook probe of the conformance scenarios: its start must stay light.
    code = "import sys, simulator.cli; print(sorted(m for m in sys.modules if m.startswith(('handler.core', 'simulator.cluster.evacuation'))))"
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=True)
    assert done.stdout.strip() == "[]"
