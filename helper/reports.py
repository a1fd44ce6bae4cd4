"""What each command tells its user, as text for people and as JSON (``--json``) for scripts."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Optional

from helper.changes import VmChange, VmSettings
from helper.host_option import OPTION_KEY
from helper.preflight import Preflight, VmFacts
from helper.timeouts import describe_vm_timeout
from helper.versions import ApiVersion, format_api_version


def _settings_json(settings: VmSettings) -> dict[str, Any]:
    return {"vmOpNotificationToAppEnabled": settings.enabled, "vmOpNotificationTimeout": settings.timeout}


def _outcome(changed: bool, planned: bool, dry_run: bool) -> str:
    if not planned:
        return "no change needed: already set, no task started"
    return "dry run: would change the above, changed nothing" if dry_run else "changed"


@dataclass(frozen=True)
class VmReport:
    vm: str
    api_version: ApiVersion
    before: VmSettings
    after: VmSettings  # on a dry run: what the VM would read back
    change: VmChange
    dry_run: bool
    requested: bool  # --enable/--disable/--timeout given (False: the command only shows the fields)

    @property
    def changed(self) -> bool:
        return not self.change.is_empty and not self.dry_run

    def to_json(self) -> dict[str, Any]:
        change: dict[str, Any] = {}
        if self.change.enabled is not None:
            change["vmOpNotificationToAppEnabled"] = self.change.enabled
        if self.change.timeout is not None:
            change["vmOpNotificationTimeout"] = self.change.timeout
        return {
            "vm": self.vm,
            "api_version": format_api_version(self.api_version),
            "before": _settings_json(self.before),
            "after": _settings_json(self.after),
            "change": change,
            "changed": self.changed,
            "dry_run": self.dry_run,
        }

    def to_text(self) -> str:
        lines = [f"VM {self.vm}"]
        rows = (
            ("vmOpNotificationToAppEnabled", str(self.before.enabled).lower(), str(self.after.enabled).lower()),
            (
                "vmOpNotificationTimeout",
                describe_vm_timeout(self.before.timeout),
                describe_vm_timeout(self.after.timeout),
            ),
        )
        for field, before, after in rows:
            lines.append(f"  {field}: {before}" if before == after else f"  {field}: {before} -> {after}")
        if self.requested:
            lines.append(_outcome(self.changed, not self.change.is_empty, self.dry_run))
        return "\n".join(lines)


@dataclass(frozen=True)
class HostReport:
    host: str
    before: Optional[int]  # None: option absent, which behaves as 0
    after: Optional[int]
    change: Optional[int]  # the value written (or to write on a dry run); None: nothing to write
    dry_run: bool
    requested: bool  # a value was asked for (False: the command only shows the option)

    @property
    def changed(self) -> bool:
        return self.change is not None and not self.dry_run

    def to_json(self) -> dict[str, Any]:
        return {
            "host": self.host,
            "option": OPTION_KEY,
            "before": self.before,
            "after": self.after,
            "change": self.change,
            "changed": self.changed,
            "dry_run": self.dry_run,
        }

    def value_text(self) -> str:
        def shown(value: Optional[int]) -> str:
            return "absent (default 0)" if value is None else str(value)

        if self.before == self.after:
            return shown(self.before)
        return f"{shown(self.before)} -> {shown(self.after)}"

    def outcome(self) -> str:
        return _outcome(self.changed, self.change is not None, self.dry_run) if self.requested else ""

    def to_text(self) -> str:
        lines = [f"host {self.host}", f"  {OPTION_KEY}: {self.value_text()}"]
        if self.requested:
            lines.append(self.outcome())
        return "\n".join(lines)


@dataclass(frozen=True)
class ClusterReport:
    cluster: str
    timeout: Optional[int]
    hosts: list[HostReport]
    dry_run: bool

    @property
    def changed(self) -> bool:
        return any(h.changed for h in self.hosts)

    def to_json(self) -> dict[str, Any]:
        return {
            "cluster": self.cluster,
            "option": OPTION_KEY,
            "timeout": self.timeout,
            "hosts": [h.to_json() for h in self.hosts],
            "changed": self.changed,
            "dry_run": self.dry_run,
        }

    def to_text(self) -> str:
        lines = [f"cluster {self.cluster}: {OPTION_KEY} on {len(self.hosts)} host(s)"]
        for h in self.hosts:
            lines.append(f"  {h.host}: {h.value_text()}" + (f"  ({h.outcome()})" if h.requested else ""))
        return "\n".join(lines)


@dataclass(frozen=True)
class CheckReport:
    facts: VmFacts
    result: Preflight

    @property
    def works(self) -> bool:
        return self.result.works

    def to_json(self) -> dict[str, Any]:
        f = self.facts
        return {
            "vm": f.name,
            "api_version": format_api_version(f.api_version),
            "hardware_version": f.hardware_version,
            "tools_version": None if f.tools_version is None else ".".join(map(str, f.tools_version)),
            "vmOpNotificationToAppEnabled": f.enabled,
            "vmOpNotificationTimeout": f.vm_timeout if f.vm_timeout is None or f.vm_timeout >= 0 else None,
            "current_host": f.current_host,
            "hosts": [
                {"host": h.name, OPTION_KEY: h.timeout, "effective_timeout": self.result.effective_by_host[h.name]}
                for h in f.hosts
            ],
            "effective_timeout": self.result.effective_timeout,
            "verdicts": [{"item": v.item, "status": v.status, "detail": v.detail} for v in self.result.verdicts],
            "works": self.works,
        }

    def to_text(self) -> str:
        lines = [f"check VM {self.facts.name}"]
        for v in self.result.verdicts:
            lines.append(f"  [{v.status:4}] {v.item}: {v.detail}")
        eff = self.result.effective_timeout
        where = f" on {self.facts.current_host}" if self.facts.current_host else ""
        lines.append(f"effective timeout{where}: {'unknown' if eff is None else f'{eff} s'}")
        lines.append(
            "verdict: notifications would work"
            if self.works
            else "verdict: notifications would NOT work (see [fail] above)"
        )
        return "\n".join(lines)
