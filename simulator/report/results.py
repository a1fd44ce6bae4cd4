"""The results of a check: one object, three outputs (JSON, JUnit XML, the HTML page).

The JSON form is versioned (``format_version``): a CI script can rely on its keys. Scenario names are the
Gherkin ``Feature: Scenario`` titles, never file paths.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Dict, List, Mapping, Optional

from simulator.journal_entry import Entry, JournalEntry
from simulator.report.mistakes import guest_mistakes, token_exposures
from simulator.report.operations import operation_spans

FORMAT = "vmotion-check"
FORMAT_VERSION = 1
GROWING = ("start_to_ack_s", "quiesce_s", "end_to_unquiesce_s")  # a handler is worse when these grow
SHRINKING = ("margin_s",)  # ... and when this shrinks


def harness_version() -> str:
    from importlib import metadata

    try:
        return metadata.version("vmotion-notification-harness")
    except metadata.PackageNotFoundError:
        return "unknown"


@dataclass
class ScenarioResult:
    name: str
    passed: bool
    reason: str = ""
    timings: Dict[str, float] = field(default_factory=dict)
    journal: List[Entry] = field(default_factory=list)
    handler_log: Optional[str] = None  # None: no handler process ran; "" : it ran and wrote nothing

    @property
    def verdict(self) -> str:
        return "passed" if self.passed else "failed"

    @property
    def mistakes(self) -> List[str]:
        return guest_mistakes(self.journal)

    @property
    def warnings(self) -> List[str]:
        """What the handler did that is unsafe but does not fail a scenario."""
        return token_exposures(self.journal)

    def full_reason(self) -> str:
        """The failure as a reader needs it: the expectation that failed, then what the journal shows."""
        if self.passed:
            return ""
        found = self.mistakes
        return self.reason + ("; the journal shows " + "; ".join(found) if found else "")

    def measured(self) -> Dict[str, float]:
        """The timings a reader and the baseline gate compare: the scenario's own, completed by its worst
        operation's from the journal (longest start to ack, quiesce and end to unquiesce; least margin)."""
        out = {k: v for k, v in self.timings.items() if k in GROWING + SHRINKING}
        for op in operation_spans(self.journal):
            for key, value in op.timings().items():
                if key in GROWING:
                    out[key] = max(out.get(key, value), value)
                elif key in SHRINKING:
                    out[key] = min(out.get(key, value), value)
        return out

    def as_dict(self) -> Dict[str, Any]:
        return {
            "name": self.name,
            "verdict": self.verdict,
            "reason": self.full_reason(),
            "timings": {**self.timings, **self.measured()},
            "operations": [
                {"operation_id": op.operation_id, "forced": op.forced,
                 "margin_s": None if op.margin_s is None else round(op.margin_s, 3),
                 "timeout_s": op.timeout, **op.timings()}
                for op in operation_spans(self.journal)
            ],
            "mistakes": self.mistakes,
            "warnings": self.warnings,
        }

    @classmethod
    def from_verdict(cls, verdict: Mapping[str, Any]) -> ScenarioResult:
        """From the plugin's per-scenario verdict (``scenario``, ``passed``, ``reason``, ``timings``, ...)."""
        return cls(
            name=str(verdict.get("scenario", verdict.get("name", "?"))),
            passed=bool(verdict.get("passed")),
            reason=str(verdict.get("reason") or ""),
            timings={k: float(v) for k, v in dict(verdict.get("timings") or {}).items()},
            journal=[JournalEntry.from_dict(e) for e in verdict.get("journal") or []],
            handler_log=None if verdict.get("handler_log") is None else str(verdict["handler_log"]),
        )


@dataclass
class CheckResults:
    scenarios: List[ScenarioResult]
    knobs: Dict[str, Any] = field(default_factory=dict)
    handler_command: Optional[str] = None  # None: the bundled handler
    version: str = field(default_factory=harness_version)

    @property
    def failed(self) -> List[ScenarioResult]:
        return [s for s in self.scenarios if not s.passed]

    @property
    def warnings(self) -> List[str]:
        """Every scenario's warnings, each once."""
        return list(dict.fromkeys(w for s in self.scenarios for w in s.warnings))

    def as_dict(self) -> Dict[str, Any]:
        return results_dict([s.as_dict() for s in self.scenarios], self.knobs, self.handler_command, self.version)


def results_dict(scenarios: List[Dict[str, Any]], knobs: Mapping[str, Any], handler_command: Optional[str],
                 version: str) -> Dict[str, Any]:
    """The check's JSON object from its scenarios' JSON forms: also for a caller that keeps those and drops the
    journals (a long soak)."""
    failed = sum(1 for s in scenarios if s["verdict"] == "failed")
    return {
        "format": FORMAT,
        "format_version": FORMAT_VERSION,
        "harness_version": version,
        "handler_command": handler_command,
        "knobs": dict(knobs),
        "summary": {"passed": len(scenarios) - failed, "failed": failed,
                    "warnings": list(dict.fromkeys(w for s in scenarios for w in s["warnings"]))},
        "scenarios": scenarios,
    }
