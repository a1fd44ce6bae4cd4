"""JUnit XML in the shape GitLab, Jenkins and GitHub's test reporters read: one ``testsuite``, one ``testcase``
per scenario, the reason as the failure ``message``, the text timeline as ``system-out``, and the knobs and
versions as ``properties``.
"""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from typing import Any

from simulator.report.results import CheckResults
from simulator.timeline import redact, render

SUITE_NAME = "vmotion-notification-check"


# What XML 1.0 cannot hold at all, not even as a character reference: a garbled reply's ESC or NUL would make
# the whole file unreadable, so such a character is written as its Python escape instead.
_NOT_XML = re.compile("[^\t\n\r\x20-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")


def _text(text: str) -> str:
    return _NOT_XML.sub(lambda m: m.group().encode("unicode_escape").decode("ascii"), text)


def _value(value: Any) -> str:
    return "" if value is None else _text(str(value))


def junit_xml(results: CheckResults) -> bytes:
    suites = ET.Element("testsuites")
    suite = ET.SubElement(
        suites, "testsuite", name=SUITE_NAME, tests=str(len(results.scenarios)),
        failures=str(len(results.failed)), errors="0", skipped="0",
        time=f"{sum(s.timings.get('total_s', 0.0) for s in results.scenarios):.3f}",
    )
    props = ET.SubElement(suite, "properties")
    ET.SubElement(props, "property", name="harness_version", value=_value(results.version))
    ET.SubElement(props, "property", name="handler_command", value=redact(_value(results.handler_command)))
    for name, value in sorted(results.knobs.items()):
        ET.SubElement(props, "property", name=_value(f"knob.{name}"), value=_value(value))
    for scenario in results.scenarios:
        feature, _, title = scenario.name.partition(": ")
        case = ET.SubElement(
            suite, "testcase", classname=_value(feature if title else SUITE_NAME), name=_value(title or scenario.name),
            time=f"{scenario.timings.get('total_s', 0.0):.3f}",
        )
        if not scenario.passed:
            reason = _text(scenario.full_reason())
            failure = ET.SubElement(case, "failure", message=reason, type="ScenarioFailed")
            failure.text = reason
        if scenario.warnings:
            ET.SubElement(case, "system-err").text = _text("".join(f"warning: {w}\n" for w in scenario.warnings))
        if scenario.journal:
            ET.SubElement(case, "system-out").text = _text("\n".join(render(scenario.journal)) + "\n")
    ET.indent(suites)  # 3.9+
    body: bytes = ET.tostring(suites, encoding="unicode").encode("utf-8")
    return b'<?xml version="1.0" encoding="UTF-8"?>\n' + body + b"\n"
