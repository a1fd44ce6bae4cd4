"""What a check produced, for people and for CI: JSON, JUnit XML, an HTML page with a timeline per scenario,
and a timing baseline to gate regressions. Pure functions of the verdicts and journals; no test runner here."""

from simulator.report.baseline import BaselineError, apply_baseline, load_baseline, save_baseline
from simulator.report.html import journal_page, render_page, write_report
from simulator.report.junit import junit_xml
from simulator.report.results import CheckResults, ScenarioResult

__all__ = [
    "BaselineError", "CheckResults", "ScenarioResult", "apply_baseline", "journal_page", "junit_xml",
    "load_baseline", "render_page", "save_baseline", "write_report",
]
