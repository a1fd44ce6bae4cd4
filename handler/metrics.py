"""Counters for the Prometheus node-exporter textfile collector (written atomically, only when enabled)."""

from __future__ import annotations

from typing import Dict, Optional, Tuple

from handler.atomic import write_atomically

Labels = Tuple[Tuple[str, str], ...]

_HELP = {
    "vmotion_handler_events_total": ("counter", "Events fetched with check-for-event, by eventType."),
    "vmotion_handler_acks_total": ("counter", "ack-event calls, by what came of them (ok, rejected, failed)."),
    "vmotion_handler_forced_migrations_total": (
        "counter",
        "Operations this handler did not ack before their notification timeout (the migration was forced).",
    ),
    "vmotion_handler_hook_runs_total": ("counter", "Hook runs, by hook and outcome (ok, failed, killed)."),
    "vmotion_handler_hook_duration_seconds_sum": ("counter", "Total seconds spent in hooks, by hook."),
    "vmotion_handler_hook_duration_seconds_count": ("counter", "Number of hook runs timed, by hook."),
    "vmotion_handler_errors_total": ("counter", "RPC and handler errors, by kind."),
    "vmotion_handler_registered": ("gauge", "1 while the handler holds a registration."),
    "vmotion_handler_last_poll_timestamp_seconds": ("gauge", "Epoch seconds of the last check-for-event."),
    "vmotion_handler_clock_skew_seconds": (
        "gauge",
        "The host's clock minus the guest's, as last measured from an implausible eventGenTimeInSec "
        "(an upper bound; absent while the clocks agree).",
    ),
}


class Metrics:
    def __init__(self, path: Optional[str] = None) -> None:
        self.path = path
        self._values: Dict[Tuple[str, Labels], float] = {}
        self._dirty = False

    def inc(self, name: str, amount: float = 1.0, **labels: str) -> None:
        key = (name, tuple(sorted(labels.items())))
        self._values[key] = self._values.get(key, 0.0) + amount
        self._dirty = True

    def set(self, name: str, value: float, **labels: str) -> None:
        self._values[(name, tuple(sorted(labels.items())))] = value
        self._dirty = True

    def get(self, name: str, **labels: str) -> float:
        return self._values.get((name, tuple(sorted(labels.items()))), 0.0)

    def observe_hook(self, hook: str, seconds: float, outcome: str) -> None:
        self.inc("vmotion_handler_hook_runs_total", hook=hook, outcome=outcome)
        self.inc("vmotion_handler_hook_duration_seconds_sum", seconds, hook=hook)
        self.inc("vmotion_handler_hook_duration_seconds_count", hook=hook)

    def render(self) -> str:
        lines = []
        for name in sorted({n for n, _ in self._values}):
            kind, text = _HELP.get(name, ("untyped", name))
            lines.append(f"# HELP {name} {text}")
            lines.append(f"# TYPE {name} {kind}")
            for (n, labels), value in sorted(self._values.items()):
                if n != name:
                    continue
                label_text = ",".join(f'{k}="{_escape(v)}"' for k, v in labels)
                lines.append(f"{name}{{{label_text}}} {value:g}" if labels else f"{name} {value:g}")
        return "\n".join(lines) + "\n"

    def flush(self, force: bool = False) -> None:
        if self.path is None or not (self._dirty or force):
            return
        # The collector must never read half a file.
        write_atomically(self.path, self.render(), mode=0o644, durable=False)
        self._dirty = False


def _escape(value: str) -> str:
    return value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")
