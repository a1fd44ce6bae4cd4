"""The HTML report: one self-contained page (inline CSS and SVG, nothing fetched), a summary table, and per
scenario its verdict, its reason next to the picture, and the text timeline. For each failed scenario the
journal (JSON) and the handler's log are written beside the page and linked from it.
"""

from __future__ import annotations

import json
import re
from html import escape
from pathlib import Path
from typing import Dict, Iterable, Mapping, Optional

from simulator.journal_entry import Entry
from simulator.report.operations import operation_spans
from simulator.report.results import CheckResults, ScenarioResult
from simulator.report.timeline_svg import timeline_svg
from simulator.timeline import redact, render

CSS = """
body{font:14px/1.45 'DejaVu Sans',Arial,sans-serif;margin:24px;color:#1d2329;background:#fff}
h1{font-size:20px;margin:0 0 4px}h2{font-size:16px;margin:28px 0 6px}
.meta{color:#5b6570;margin-bottom:14px}
table{border-collapse:collapse;margin:8px 0 18px}th,td{padding:4px 10px;border-bottom:1px solid #e3e6ea;
text-align:left;vertical-align:top}th{background:#f3f5f7}
.passed{color:#1f7a3d;font-weight:bold}.failed{color:#b3261e;font-weight:bold}
.warning{background:#fff6dd;border-left:4px solid #c98a00;padding:6px 10px;margin:6px 0;max-width:860px}
.reason{background:#fdecea;border-left:4px solid #b3261e;padding:6px 10px;margin:6px 0;max-width:860px}
section{border-top:1px solid #e3e6ea;padding-top:4px}
pre{background:#f7f8fa;padding:8px;overflow-x:auto;font-size:12px}
.files a{margin-right:14px}
"""


def slug(name: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", name.lower()).strip("-")[:80] or "scenario"


def _fmt(value: Optional[float], unit: str = " s") -> str:
    return "-" if value is None else f"{value:.2f}{unit}"


def _scenario_section(s: ScenarioResult, anchor: str, files: Dict[str, str]) -> str:
    parts = [f"<section class='scenario' id='{anchor}' data-verdict='{s.verdict}'>",
             f"<h2><span class='name'>{escape(s.name)}</span> "
             f"<span class='verdict {s.verdict}'>{s.verdict}</span></h2>"]
    if not s.passed:
        parts.append(f"<div class='reason'>{escape(redact(s.full_reason()))}</div>")
    parts += [f"<div class='warning'>warning: {escape(w)}</div>" for w in s.warnings]
    if s.journal:
        parts.append(timeline_svg(s.journal, title=s.name))
        parts.append("<details><summary>text timeline</summary><pre>"
                     + escape("\n".join(render(s.journal))) + "</pre></details>")
    else:
        parts.append("<p class='meta'>no journal was recorded for this scenario</p>")
    if files:
        links = " ".join(f"<a href='{escape(path)}'>{escape(label)}</a>" for label, path in files.items())
        parts.append(f"<p class='files'>{links}</p>")
    parts.append("</section>")
    return "\n".join(parts)


def _summary_row(s: ScenarioResult, anchor: str) -> str:
    measured = s.measured()
    forced = sum(1 for op in operation_spans(s.journal) if op.forced)
    return (f"<tr><td><a href='#{anchor}'>{escape(s.name)}</a></td><td class='{s.verdict}'>{s.verdict}</td>"
            f"<td>{_fmt(measured.get('start_to_ack_s'))}</td><td>{_fmt(measured.get('margin_s'))}</td>"
            f"<td>{forced}</td><td>{escape(redact(s.full_reason())) or '-'}</td></tr>")


def render_page(results: CheckResults, files: Optional[Mapping[str, Dict[str, str]]] = None) -> str:
    anchors = {id(s): f"s{i}-{slug(s.name)}" for i, s in enumerate(results.scenarios)}
    failed = len(results.failed)
    knobs = ", ".join(f"{k}={v!r}" for k, v in sorted(results.knobs.items())) or "defaults"
    head = (f"<h1>vMotion notification check: {len(results.scenarios) - failed} passed, {failed} failed</h1>"
            f"<div class='meta'>handler: <code>{escape(redact(results.handler_command or 'bundled vmotion-handler'))}"
            f"</code> · harness {escape(results.version)} · knobs: {escape(knobs)}</div>")
    table = ("<table class='summary'><tr><th>scenario</th><th>verdict</th><th>start to ack</th>"
             "<th>least margin</th><th>forced</th><th>why</th></tr>"
             + "".join(_summary_row(s, anchors[id(s)]) for s in results.scenarios) + "</table>")
    sections = [_scenario_section(s, anchors[id(s)], dict((files or {}).get(s.name, {})))
                for s in results.scenarios]
    warnings = "".join(f"<div class='warning'>warning: {escape(w)}</div>" for w in results.warnings)
    return _page("vMotion notification check", head + warnings + table + "\n".join(sections))


def _page(title: str, body: str) -> str:
    return (f"<!DOCTYPE html><html lang='en'><head><meta charset='utf-8'><title>{escape(title)}</title>"
            f"<style>{CSS}</style></head><body>{body}</body></html>\n")


def write_report(results: CheckResults, directory: Path) -> Path:
    """Write ``DIR/index.html``, and beside it the journal and handler log of every failed scenario."""
    directory.mkdir(parents=True, exist_ok=True)
    files: Dict[str, Dict[str, str]] = {}
    for i, s in enumerate(results.failed):
        stem = f"{i:02d}-{slug(s.name)}"
        links: Dict[str, str] = {}
        if s.journal:
            saved = json.dumps([e.as_dict() for e in s.journal], indent=1)
            (directory / f"{stem}.journal.json").write_text(redact(saved) + "\n")
            links["journal (JSON)"] = f"{stem}.journal.json"
        if s.handler_log is not None:
            (directory / f"{stem}.handler.log").write_text(redact(s.handler_log))
            links["handler log"] = f"{stem}.handler.log"
        files[s.name] = links
    index = directory / "index.html"
    index.write_text(render_page(results, files), encoding="utf-8")
    return index


def journal_page(journal: Iterable[Entry], title: str = "vMotion notification timeline") -> str:
    """The same picture for any run: a journal (``vmotion-sim journal --json``) as a page of its own."""
    entries = list(journal)
    ops = operation_spans(entries)
    rows = "".join(
        f"<tr><td>{op.operation_id}</td><td>{'forced' if op.forced else ('acked' if op.acked_at else '-')}</td>"
        f"<td>{_fmt(op.margin_s)}</td><td>{escape(op.op_status or '-')}</td></tr>" for op in ops
    )
    body = (f"<h1>{escape(title)}</h1><table class='summary'><tr><th>operation</th><th>outcome</th>"
            f"<th>margin</th><th>status</th></tr>{rows}</table>" + timeline_svg(entries, title=title)
            + "<pre>" + escape("\n".join(render(entries))) + "</pre>")
    return _page(title, body)

