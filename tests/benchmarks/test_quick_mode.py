"""The benchmarks keep working: the quick mode runs as a user runs it and writes the documented JSON.

Nothing here looks at how fast anything was: numbers go in the benchmark's report, not in assertions.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any, Dict

import pytest

REPO = Path(__file__).resolve().parents[2]
ROW_KEYS = {
    "figure", "name", "unit", "n", "samples", "median", "p95", "floor_name", "floor_samples", "floor_median",
    "floor_n", "floor_p95", "ratio", "target", "target_ratio", "met", "note", "extra",
}


def run_benchmarks(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "benchmarks", *args], cwd=REPO, capture_output=True, text=True,
                          timeout=300, check=False)


@pytest.fixture(scope="module")
def quick(tmp_path_factory: pytest.TempPathFactory) -> Dict[str, Any]:
    out = tmp_path_factory.mktemp("bench") / "b.json"
    done = run_benchmarks("--quick", "--output", str(out))
    assert done.returncode == 0, done.stderr
    doc: Dict[str, Any] = json.loads(out.read_text())
    doc["_stdout"] = done.stdout
    return doc


def test_quick_mode_covers_every_figure_but_the_suite(quick: Dict[str, Any]) -> None:
    assert quick["mode"] == "quick"
    # The speed figure needs libfaketime and a C compiler: where they are missing it is skipped, saying why.
    assert set(quick["figures"]) | ({"speed"} & set(quick["skipped"])) == {
        "fake-vmtoolsd", "record-wrapper", "throughput", "handler", "virtual-time", "evacuation", "speed"
    }
    assert "suite" in quick["skipped"]
    assert quick["errors"] == {}
    assert {"nproc", "cpu_model", "python"} <= set(quick["machine"])


def test_every_row_has_its_value_floor_and_ratio(quick: Dict[str, Any]) -> None:
    rows = [row for figure in quick["figures"].values() for row in figure["rows"]]
    assert len(rows) >= 12
    for row in rows:
        assert set(row) == ROW_KEYS, row["name"]
        assert row["n"] == len(row["samples"]) > 0
        assert row["floor_samples"], row["name"]
        assert row["median"] is not None and row["floor_median"] is not None
        assert row["p95"] >= row["median"]
        assert row["met"] in (True, False, None)


def test_the_handler_figures_saw_what_they_measure(quick: Dict[str, Any]) -> None:
    rows = {row["name"]: row for row in quick["figures"]["handler"]["rows"]}
    drain = next(row for name, row in rows.items() if name.startswith("drain"))
    k = drain["extra"]["k"]
    assert all(d["acks"] == k for d in drain["extra"]["drains"])  # every queued timeout-change was acked
    sight = rows["first sight of a start (process)"]
    assert all(s >= 0 for s in sight["samples"])  # delivered after it was queued, per the journal


def test_table_is_printed_with_every_row(quick: Dict[str, Any]) -> None:
    table_rows = [line for line in quick["_stdout"].splitlines() if line.startswith("| ") and "---" not in line]
    names = [row["name"] for figure in quick["figures"].values() for row in figure["rows"]]
    assert len(table_rows) == len(names) + 1  # plus the header
    for name in names:
        assert name in quick["_stdout"]


def test_unknown_figure_is_a_one_line_error() -> None:
    done = run_benchmarks("--only", "nosuch")
    assert done.returncode == 2
    assert done.stderr.startswith("benchmarks: error: argument --only: invalid choice: 'nosuch'")
    assert len(done.stderr.strip().splitlines()) == 1
    assert "Traceback" not in done.stderr


def test_unwritable_output_is_a_one_line_error(tmp_path: Path) -> None:
    done = run_benchmarks("--quick", "--only", "virtual-time", "--output", str(tmp_path / "missing" / "b.json"))
    assert done.returncode == 2
    assert done.stderr.strip().splitlines()[-1].startswith("benchmarks: error: cannot write")
    assert "Traceback" not in done.stderr
