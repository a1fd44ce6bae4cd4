"""The README's cluster section is what users copy: its command, its output, its example and its knob table."""

from __future__ import annotations

import re
import shlex
from pathlib import Path

import pytest

from simulator.cluster import ClusterKnobs
from simulator.knobs import knob_docs
from tests.cluster.run import evacuate

README = (Path(__file__).parents[2] / "README.md").read_text()
SECTION = README.split("## Cluster what-if: `vmotion-sim evacuate`", 1)[1].split("\n## ", 1)[0]


def blocks(kind: str) -> list[str]:
    """The fenced blocks of the section opened with ```KIND (an empty KIND: plain ``` blocks)."""
    fenced = re.findall(r"^```(\w*)\n(.*?)^```$", SECTION, flags=re.S | re.M)
    return [body for opener, body in fenced if opener == kind]


def test_the_cluster_knob_table_is_the_knobs_with_their_defaults_and_reasons() -> None:
    table = SECTION.split("<!-- cluster-knobs-table:", 1)[1].split("\n\n", 1)[0]
    rows = re.findall(r"^\| `(\w+)` \| `([^`]*)` \| (.*) \|$", table, flags=re.M)
    assert rows == list(knob_docs(ClusterKnobs))


def test_the_example_command_prints_what_the_readme_shows(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (command,) = blocks("sh")
    argv = shlex.split(command.replace("\\\n", " "))
    assert argv[:2] == ["vmotion-sim", "evacuate"]
    shown = blocks("")[0]
    monkeypatch.chdir(tmp_path)
    outcome = evacuate(*argv[2:])
    assert outcome.exit_code == 0, outcome.stderr
    assert outcome.stdout == shown
    assert (tmp_path / "evacuation.svg").read_text().startswith("<svg")


def test_the_python_example_runs() -> None:
    (block,) = blocks("python")
    exec(compile(block, "README.md", "exec"), {})  # the example asserts its own outcome
