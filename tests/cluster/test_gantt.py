"""The Gantt chart: a self-contained SVG with one row per VM, the forced ones marked, the host's slots shown."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from pathlib import Path
from typing import List

from tests.cluster.run import evacuate

SVG = "{http://www.w3.org/2000/svg}"


def chart(tmp_path: Path, *argv: str) -> tuple[ET.Element, dict[str, object]]:
    path = tmp_path / "evacuation.svg"
    outcome = evacuate(*argv, "--json", "--svg", str(path))
    return ET.fromstring(path.read_text(encoding="utf-8")), outcome.json()


def rows(svg: ET.Element) -> List[ET.Element]:
    return [g for g in svg.iter(f"{SVG}g") if "vm-row" in g.get("class", "").split()]


def test_one_row_per_vm_in_inventory_order_each_with_its_slot(tmp_path: Path) -> None:
    svg, out = chart(tmp_path, "--vms", "11", "--concurrency", "4", "--quiesce", "uniform:1:9")
    assert [g.get("data-vm") for g in rows(svg)] == [f"vm-{i:02d}" for i in range(1, 12)]
    vms = out["vms"]
    assert isinstance(vms, list)
    assert [g.get("data-slot") for g in rows(svg)] == [str(v["slot"]) for v in vms]
    lanes = [g.get("data-slot") for g in svg.iter(f"{SVG}g") if g.get("class") == "slot-lane"]
    assert lanes == ["1", "2", "3", "4"]


def test_forced_vms_are_marked_and_cut_quiesces_have_their_own_colour(tmp_path: Path) -> None:
    svg, out = chart(tmp_path, "--timeout", "30,30,30,30", "--quiesce", "60", "--concurrency", "2",
                     "--on-quiesce-failure", "no-ack")
    forced = [g.get("data-vm") for g in rows(svg) if g.get("data-forced") == "true"]
    assert forced == out["forced"] == ["vm-1", "vm-2", "vm-3", "vm-4"]
    for row in rows(svg):
        kinds = {r.get("class") for r in row.iter(f"{SVG}rect")}
        assert "span quiesce-cut" in kinds and "span forced" in kinds and "span migrating" not in kinds
        assert "forced" in [t.text for t in row.iter(f"{SVG}text")]


def test_the_chart_is_self_contained_with_a_legend_and_a_time_axis(tmp_path: Path) -> None:
    svg, _ = chart(tmp_path, "--vms", "3")
    text = ET.tostring(svg, encoding="unicode")
    assert "href" not in text and "<script" not in text and "@import" not in text
    legend = [t.text for t in svg.iter(f"{SVG}text") if t.get("class") == "legend"]
    assert "migration forced by the timeout" in legend and "quiesce" in legend
    assert any(t.get("class") == "axis" and t.text == "0 s" for t in svg.iter(f"{SVG}text"))


def test_names_from_an_inventory_are_escaped(tmp_path: Path) -> None:
    from simulator.cluster import EvacuationPlan
    from simulator.cluster import evacuate as run
    from simulator.cluster.gantt import render_svg

    svg = ET.fromstring(render_svg(run(EvacuationPlan(vms=2, names=('db "primary" <1>', "a&b")))))
    assert [g.get("data-vm") for g in rows(svg)] == ['db "primary" <1>', "a&b"]


def test_a_host_with_more_slots_than_vms_shows_only_the_lanes_it_can_use(tmp_path: Path) -> None:
    svg, _ = chart(tmp_path, "--vms", "3", "--concurrency", "1000000000")
    lanes = [g for g in svg.iter(f"{SVG}g") if g.get("class") == "slot-lane"]
    assert len(lanes) == 3 and len(rows(svg)) == 3
