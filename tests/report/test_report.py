"""The check's outputs read off real journals: the simulator on a manual clock, with this test as the guest."""

from __future__ import annotations

import json
import subprocess
import sys
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Any, Dict, List

import junitparser
import pytest

from simulator import ManualClock, Simulator
from simulator.journal_entry import Entry, RpcEntry
from simulator.report import (
    CheckResults,
    ScenarioResult,
    apply_baseline,
    journal_page,
    junit_xml,
    load_baseline,
    save_baseline,
    write_report,
)
from simulator.report.baseline import BaselineError, regressions
from simulator.report.operations import operation_spans
from simulator.report.timeline_svg import timeline_svg

REGISTER = 'vm-operation-notification.register {"appName": "app", "notificationTypes": ["sla-miss"]}'
SVG = "{http://www.w3.org/2000/svg}"


class Guest:
    """This test plays the guest: each call is an RPC at the clock's current time."""

    def __init__(self, timeout: int = 10, migration_seconds: float = 2.0) -> None:
        self.clock = ManualClock()
        self.t0 = self.clock.now()
        self.sim = Simulator(self.clock, host_timeout=timeout, migration_seconds=migration_seconds)
        self.token = json.loads(self.sim.call(REGISTER).stdout)["uniqueToken"]

    def at(self, offset: float) -> Guest:
        self.clock.advance(self.t0 + offset - self.clock.now())
        return self

    def check(self) -> Dict[str, Any]:
        reply = self.sim.call(f'vm-operation-notification.check-for-event {{"uniqueToken": "{self.token}"}}')
        return dict(json.loads(reply.stdout))

    def ack(self, operation_id: Any) -> None:
        self.sim.call(f'vm-operation-notification.ack-event {{"uniqueToken": "{self.token}", '
                      f'"operationId": {operation_id}}}')

    def hook(self, name: str, phase: str) -> None:
        self.sim.record_probe(name, phase)

    def journal(self) -> List[Entry]:
        return self.sim.journal()


def acked_cycle(quiesce_s: float = 1.0) -> Guest:
    g = Guest()
    op = g.sim.vmotion()
    g.at(0.5).check()
    g.hook("quiesce", "started")
    g.at(0.5 + quiesce_s).hook("quiesce", "finished")
    g.at(0.6 + quiesce_s).ack(op)
    g.at(5.0).check()  # the end
    g.hook("unquiesce", "started")
    g.at(5.5).hook("unquiesce", "finished")
    return g


def forced_cycle() -> Guest:
    g = Guest()
    g.sim.vmotion()
    g.at(0.5).check()
    g.hook("quiesce", "started")
    g.at(11).hook("quiesce", "terminated")
    g.at(14).check()
    return g


def test_an_acked_operation_has_its_margin_before_the_deadline() -> None:
    [op] = operation_spans(acked_cycle().journal())
    assert not op.forced
    assert op.margin_s == pytest.approx(10 - 1.6)
    assert op.timings() == {"start_to_ack_s": 1.1, "quiesce_s": 1.0, "end_to_unquiesce_s": 0.5, "margin_s": 8.4}
    assert op.op_status == "success"


def test_an_operation_never_acked_is_forced_at_its_deadline_and_has_no_margin() -> None:
    [op] = operation_spans(forced_cycle().journal())
    assert op.forced and op.forced_at == pytest.approx(op.requested_at + 10)
    assert op.margin_s is None
    assert op.hook("quiesce") is not None and op.hook("quiesce").outcome == "terminated"  # type: ignore[union-attr]


def test_an_ack_of_an_id_rounded_through_a_float_is_named_as_such() -> None:
    g = Guest()
    op = g.sim.vmotion()
    g.at(0.5).check()
    rounded = int(float(op))
    assert rounded != op  # ids are above 2^53: the simulator makes sure of it
    g.at(1).ack(rounded)
    g.at(11)
    result = ScenarioResult("Feature: a scenario", passed=False, reason="it never acked", journal=g.journal())
    assert result.mistakes == [
        f"it acked operation {rounded}, which the VM never sent: the VM sent {op}, the same number once "
        "rounded through a 64-bit float (parse operationId as an integer)"
    ]
    assert result.full_reason().startswith("it never acked; the journal shows it acked operation")


def test_a_second_register_and_an_ack_after_the_end_are_named() -> None:
    g = acked_cycle()
    op = operation_spans(g.journal())[0].operation_id
    g.at(6).ack(op)
    g.sim.call(REGISTER)
    mistakes = ScenarioResult("F: s", passed=False, journal=g.journal()).mistakes
    assert "after that operation had already ended" in mistakes[0]
    assert mistakes[1] == "it sent a second register while already registered (refused: one app per VM)"


def test_the_timeline_picture_has_lanes_spans_deadline_and_margin() -> None:
    root = ET.fromstring(timeline_svg(acked_cycle().journal(), title="acked"))
    classes = [el.get("class") for el in root.iter() if el.get("class")]
    for expected in ("span-wait", "span-migration", "span-quiesce", "span-unquiesce", "marker-deadline",
                     "marker-ack", "marker-margin"):
        assert expected in classes, expected
    texts = [el.text for el in root.iter(f"{SVG}text")]
    assert {"hypervisor", "guest", "hooks"} <= set(texts)
    assert "margin 8.40 s" in texts


def test_a_forced_migration_is_marked_forced_in_the_picture() -> None:
    root = ET.fromstring(timeline_svg(forced_cycle().journal()))
    classes = [el.get("class") or "" for el in root.iter()]
    assert "span-migration forced" in classes and "marker-forced" in classes
    assert "marker-margin" not in classes
    assert "no ack before the deadline" in [el.text for el in root.iter(f"{SVG}text")]


def results() -> CheckResults:
    return CheckResults(
        scenarios=[
            ScenarioResult("Acked: a vMotion acked in time", True, timings={"total_s": 1.5},
                           journal=acked_cycle().journal()),
            ScenarioResult("Forced: a quiesce that outlasts the timeout", False, reason="the migration was forced",
                           timings={"total_s": 2.0}, journal=forced_cycle().journal(), handler_log="quiesce> hi\n"),
        ],
        knobs={"error_envelope": "json-stderr"},
        handler_command="./my-handler --on-start {quiesce}",
    )


def test_the_json_form_is_versioned_and_names_no_paths() -> None:
    data = results().as_dict()
    assert (data["format"], data["format_version"]) == ("vmotion-check", 1)
    assert data["knobs"] == {"error_envelope": "json-stderr"}
    assert data["summary"] == {"passed": 1, "failed": 1, "warnings": []}
    acked, forced = data["scenarios"]
    assert acked["name"] == "Acked: a vMotion acked in time" and acked["verdict"] == "passed"
    assert acked["operations"][0]["margin_s"] == 8.4 and acked["operations"][0]["forced"] is False
    assert forced["verdict"] == "failed" and forced["reason"] == "the migration was forced"
    assert forced["operations"][0]["forced"] is True and forced["operations"][0]["margin_s"] is None
    json.dumps(data)  # every value is JSON


def test_junit_output_is_read_by_a_junit_library(tmp_path: Path) -> None:
    path = tmp_path / "junit.xml"
    path.write_bytes(junit_xml(results()))
    xml = junitparser.JUnitXml.fromfile(str(path))
    [suite] = list(xml)
    assert (suite.tests, suite.failures) == (2, 1)
    cases = {case.name: case for case in suite}
    forced = cases["a quiesce that outlasts the timeout"]
    assert forced.classname == "Forced"
    [failure] = forced.result
    assert isinstance(failure, junitparser.Failure) and failure.message == "the migration was forced"
    assert "timeout: migration forced" in (forced.system_out or "")
    assert cases["a vMotion acked in time"].is_passed
    props = {p.name: p.value for p in suite.properties()}
    assert props["knob.error_envelope"] == "json-stderr" and "harness_version" in props


def test_junit_output_stays_well_formed_xml_when_the_journal_holds_control_characters() -> None:
    # A garbled channel answers with ESC and NUL; XML 1.0 cannot hold them, and one such reply made the soak's
    # whole JUnit file unreadable. They are shown escaped instead.
    g = Guest()
    g.sim.fault(garble=True)
    g.at(1).sim.call(f'vm-operation-notification.check-for-event {{"uniqueToken": "{g.token}"}}')
    bad = ScenarioResult(name="Channel: garbled \x1b reply", passed=False, reason="reply \x00 unreadable",
                         journal=g.journal())
    root = ET.fromstring(junit_xml(CheckResults(scenarios=[bad])))
    [case] = root.iter("testcase")
    assert case.get("name") == "garbled \\x1b reply"
    out = case.findtext("system-out") or ""
    assert "\\x1b[?garbled\\x00 reply" in out
    assert case.find("failure").get("message") == "reply \\x00 unreadable"  # type: ignore[union-attr]


def test_the_report_page_links_the_journal_and_log_of_each_failed_scenario(tmp_path: Path) -> None:
    index = write_report(results(), tmp_path / "report")
    page = index.read_text()
    assert page.count("<section class='scenario'") == 2 and page.count("<svg") == 2
    assert "http" not in page.replace("http://www.w3.org/2000/svg", "")  # nothing fetched from anywhere
    failed = sorted(p.name for p in index.parent.iterdir() if p.name != "index.html")
    assert failed == ["00-forced-a-quiesce-that-outlasts-the-timeout.handler.log",
                      "00-forced-a-quiesce-that-outlasts-the-timeout.journal.json"]
    for name in failed:
        assert f"href='{name}'" in page
    journal = json.loads((index.parent / failed[1]).read_text())
    assert any(e.get("what") == "forced" for e in journal)


def test_the_journal_page_renders_any_run() -> None:
    page = journal_page(forced_cycle().journal(), title="incident 42")
    assert "<h1>incident 42</h1>" in page and "forced" in page and "<svg" in page


def test_the_baseline_gate_fails_a_slower_quiesce_and_passes_an_unchanged_run(tmp_path: Path) -> None:
    path = tmp_path / "baseline.json"
    fast = CheckResults([ScenarioResult("A: acked", True, journal=acked_cycle(quiesce_s=1.0).journal())])
    save_baseline(fast, path)
    same = CheckResults([ScenarioResult("A: acked", True, journal=acked_cycle(quiesce_s=1.0).journal())])
    apply_baseline(same, load_baseline(path))
    assert same.scenarios[0].passed
    slow = CheckResults([ScenarioResult("A: acked", True, journal=acked_cycle(quiesce_s=2.0).journal())])
    apply_baseline(slow, load_baseline(path), tolerance_pct=20)
    [s] = slow.scenarios
    assert not s.passed
    assert s.reason == ("slower than the baseline: start to ack 2.10 s vs baseline 1.10 s (+91%); "
                        "quiesce 2.00 s vs baseline 1.00 s (+100%)")  # the margin shrank 12%: within 20%


def test_a_hook_process_starting_late_is_noise_but_a_second_more_is_not() -> None:
    # Seen on a loaded CI machine with an unchanged handler: end to unquiesce 0.07 s, then 0.15 s (+114 %).
    assert regressions({"end_to_unquiesce_s": 0.15}, {"end_to_unquiesce_s": 0.07}, 20) == []
    assert regressions({"end_to_unquiesce_s": 1.07}, {"end_to_unquiesce_s": 0.07}, 20) == [
        "end to unquiesce 1.07 s vs baseline 0.07 s (+1429%)"]


def test_a_wider_tolerance_lets_the_same_slowdown_pass(tmp_path: Path) -> None:
    path = tmp_path / "baseline.json"
    save_baseline(CheckResults([ScenarioResult("A: acked", True, journal=acked_cycle(1.0).journal())]), path)
    slow = CheckResults([ScenarioResult("A: acked", True, journal=acked_cycle(1.2).journal())])
    apply_baseline(slow, load_baseline(path), tolerance_pct=50)
    assert slow.scenarios[0].passed


@pytest.mark.parametrize("content", ["not json", "[]", '{"format": "other"}', "[" * 100_000])
def test_a_file_that_is_not_a_baseline_is_refused_with_its_reason(tmp_path: Path, content: str) -> None:
    path = tmp_path / "b.json"
    path.write_text(content)
    with pytest.raises(BaselineError, match=r"b\.json"):
        load_baseline(path)


def test_the_report_renders_in_a_real_browser(tmp_path: Path) -> None:
    from tests.browser import distinct_colours, rendered_dom, screenshot

    index = write_report(results(), tmp_path / "report")
    dom = rendered_dom(index)
    root_sections = dom.count("class=\"scenario\"")
    assert root_sections == 2
    for s in results().scenarios:
        assert s.name in dom
    assert dom.count('data-verdict="passed"') == 1 and dom.count('data-verdict="failed"') == 1
    assert dom.count("<svg") == 2 and 'class="timeline"' in dom
    png = screenshot(index, tmp_path / "shot.png")
    assert distinct_colours(png) > 10


def _sim_cli(*argv: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "simulator", *argv], capture_output=True, text=True, cwd=cwd,
                          timeout=60, stdin=subprocess.DEVNULL)


def test_vmotion_sim_report_renders_a_saved_journal(tmp_path: Path) -> None:
    (tmp_path / "journal.json").write_text(json.dumps([e.as_dict() for e in forced_cycle().journal()]))
    done = _sim_cli("report", "journal.json", "-o", "page.html", "--title", "db-07", cwd=tmp_path)
    assert (done.returncode, done.stderr) == (0, "")
    page = (tmp_path / "page.html").read_text()
    assert "<h1>db-07</h1>" in page and "span-migration forced" in page


@pytest.mark.parametrize(("content", "message"), [
    ("nope", "journal.json is not JSON: save a journal with `vmotion-sim journal --json`"),
    ('{"a": 1}', "journal.json is not a journal (a JSON list of entries with time and kind)"),
    ("[" * 100_000, "journal.json is not JSON: save a journal with `vmotion-sim journal --json`"),
    ('[{"seq": 1, "time": 1.0, "kind": "model", "what": "acked"}, {"seq": 2, "time": "noon", "kind": "rpc"}]',
     "journal.json is not a journal: its entry 2: time is not a number"),
])
def test_vmotion_sim_report_refuses_what_is_not_a_journal_in_one_line(tmp_path: Path, content: str,
                                                                      message: str) -> None:
    (tmp_path / "journal.json").write_text(content)
    done = _sim_cli("report", "journal.json", "-o", "page.html", cwd=tmp_path)
    assert (done.returncode, done.stderr) == (2, f"vmotion-sim: {message}\n")
    assert not (tmp_path / "page.html").exists()


def test_a_journal_holding_json_nested_past_the_parsers_limit_is_read_without_a_traceback(tmp_path: Path) -> None:
    """The simulator journals a guest's request as sent, however deep; a saved journal may hold anything."""
    g = acked_cycle()
    deep = "[" * 100_000
    journal = [
        *g.journal(),
        RpcEntry(999, g.clock.now(), "ack-event", "vm-operation-notification.ack-event " + deep, deep, "", 0),
    ]
    result = ScenarioResult("F: deep", passed=False, reason="r", journal=journal)
    assert result.mistakes == []
    assert operation_spans(journal)[0].margin_s == pytest.approx(8.4)
    (tmp_path / "journal.json").write_text(json.dumps([e.as_dict() for e in journal]))
    done = _sim_cli("report", "journal.json", "-o", "page.html", cwd=tmp_path)
    assert (done.returncode, done.stderr) == (0, "")
