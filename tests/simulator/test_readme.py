"""The README is documentation users rely on: its knob table and its in-process example must stay true."""

from __future__ import annotations

import re
from pathlib import Path

from simulator.model.knobs import knob_docs

README = (Path(__file__).parents[2] / "README.md").read_text()


def test_every_knob_is_in_the_readme_table_with_its_default() -> None:
    rows = dict(re.findall(r"^\| `(\w+)` \| `([^`]*)` \|", README, flags=re.M))
    for name, default, _reason in knob_docs():
        assert rows.get(name) == default, f"README knob table: {name} should show default {default}"


def test_the_in_process_example_runs() -> None:
    block = README.split("**2. In-process, on virtual time**", 1)[1].split("```python", 1)[1].split("```", 1)[0]
    namespace: dict[str, object] = {}
    exec(compile(block, "README.md", "exec"), namespace)  # the example asserts its own outcome
