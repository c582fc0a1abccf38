"""The alert engine: conditions in, notices out. Pure: time is an argument, nothing is sent.

A condition says, for one subject (a point, a kelurahan, the collector), whether something is
wrong (`active`), since when, or that nothing can be said now (`active is None`: hold).

- It becomes an alert once active for `after_s` (short blips never page anyone).
- A firing alert is announced once (de-duplication by key: rule + subject).
- It recovers only after staying clear for `clear_s`; a subject that flaps inside that window
  keeps one alert open instead of sending a message per flap. The recovery carries the outage
  from the condition's start to the moment it cleared.
- Inhibition: a kelurahan alert silences the point alerts of its points that have not fired
  yet (one message for the kelurahan, not ten); when the collector or InfluxDB is the problem,
  alerts that only say "no data" (silent points, dark kelurahan) wait, because the data stopped
  at the centre, not at the sites; once the centre recovers they wait a full `after_s` more,
  so the backlog the sites kept can arrive before anyone blames them.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, replace
from typing import Literal

PROVIDER_DOWN = "provider_down"
UNREACHABLE = "unreachable"
SILENT = "silent"
KELURAHAN_DOWN = "kelurahan_down"
CAPACITY_LOW = "capacity_low"
COLLECTOR_BEHIND = "collector_behind"
COLLECTOR_BUFFER = "collector_buffer"
COLLECTOR_DOWN = "collector_down"
INFLUX_UNREACHABLE = "influx_unreachable"
EVIDENCE_REWRITE = "evidence_rewrite"
NO_THROUGHPUT = "no_throughput"

# Evaluated in this order, so an inhibiting alert fires before the ones it inhibits.
ORDER = (
    INFLUX_UNREACHABLE,
    COLLECTOR_DOWN,
    COLLECTOR_BEHIND,
    COLLECTOR_BUFFER,
    KELURAHAN_DOWN,
    PROVIDER_DOWN,
    UNREACHABLE,
    SILENT,
    CAPACITY_LOW,
    EVIDENCE_REWRITE,
    NO_THROUGHPUT,
)
CENTRAL = frozenset({INFLUX_UNREACHABLE, COLLECTOR_DOWN, COLLECTOR_BEHIND, COLLECTOR_BUFFER})
NO_DATA_RULES = frozenset({SILENT, KELURAHAN_DOWN})
POINT_OUTAGE_RULES = frozenset({PROVIDER_DOWN, UNREACHABLE, SILENT})


@dataclass(frozen=True, slots=True)
class Timing:
    after_s: float
    clear_s: float


@dataclass(frozen=True, slots=True)
class Condition:
    rule: str
    subject: str
    active: bool | None
    since_ms: int | None = None  # active: when it began; inactive: when it cleared
    title: str = ""
    detail: str = ""
    kelurahan: str | None = None
    point: str | None = None
    began_ms: int | None = None  # inactive: when, by the data known now, the trouble began

    @property
    def key(self) -> str:
        return f"{self.rule}:{self.subject}"


@dataclass(frozen=True, slots=True)
class Alert:
    """A condition the engine is tracking: pending (not yet announced) or firing."""

    rule: str
    subject: str
    since_ms: int
    title: str
    detail: str = ""
    kelurahan: str | None = None
    point: str | None = None
    fired_ms: int | None = None
    clear_since_ms: int | None = None

    @property
    def key(self) -> str:
        return f"{self.rule}:{self.subject}"

    @property
    def firing(self) -> bool:
        return self.fired_ms is not None


@dataclass(frozen=True, slots=True)
class Notice:
    kind: Literal["firing", "resolved"]
    alert: Alert
    at_ms: int
    until_ms: int | None = None  # resolved: when the condition cleared

    @property
    def duration_s(self) -> float | None:
        if self.until_ms is None:
            return None
        return max(0.0, (self.until_ms - self.alert.since_ms) / 1000)


class Engine:
    def __init__(self, timings: Mapping[str, Timing]) -> None:
        self.timings = dict(timings)
        self.alerts: dict[str, Alert] = {}
        self.central_clear_ms = 0  # when the centre's last fault ended

    def restore(self, alerts: Iterable[Alert]) -> None:
        """Take back alerts announced before a restart, so they are not announced again."""
        for alert in alerts:
            if alert.firing:
                self.alerts[alert.key] = alert

    def firing(self) -> list[Alert]:
        return [a for a in self.alerts.values() if a.firing]

    def evaluate(self, conditions: Iterable[Condition], now_ms: int) -> list[Notice]:
        by_key = {c.key: c for c in conditions}
        notices: list[Notice] = []
        rank = {rule: i for i, rule in enumerate(ORDER)}
        keys = set(by_key) | set(self.alerts)
        for key in sorted(keys, key=lambda k: (rank.get(k.split(":", 1)[0], len(ORDER)), k)):
            condition = by_key.get(key)
            notice = self._step(key, condition, now_ms)
            if notice is not None:
                notices.append(notice)
                if notice.kind == "resolved" and notice.alert.rule in CENTRAL:
                    self.central_clear_ms = now_ms
        return notices

    def _step(self, key: str, condition: Condition | None, now_ms: int) -> Notice | None:
        alert = self.alerts.get(key)
        if condition is None or condition.active is None:
            return None  # nothing to judge by: hold what we have
        if condition.rule not in self.timings:
            return None  # rule switched off
        timing = self.timings[condition.rule]
        if condition.active:
            since = condition.since_ms if condition.since_ms is not None else now_ms
            if alert is None:
                alert = Alert(
                    condition.rule,
                    condition.subject,
                    min(since, now_ms),
                    condition.title,
                    condition.detail,
                    condition.kelurahan,
                    condition.point,
                )
            elif alert.firing:
                alert = replace(alert, clear_since_ms=None, detail=condition.detail or alert.detail)
            else:  # pending: the data may move its start (late samples)
                start = alert.since_ms if condition.since_ms is None else condition.since_ms
                alert = replace(
                    alert,
                    since_ms=min(start, now_ms),
                    title=condition.title,
                    detail=condition.detail,
                )
            self.alerts[key] = alert
            start = alert.since_ms
            if alert.rule in NO_DATA_RULES:
                start = max(start, self.central_clear_ms)
            if alert.firing or now_ms - start < timing.after_s * 1000:
                return None
            if self._inhibited(alert):
                return None
            alert = replace(alert, fired_ms=now_ms)
            self.alerts[key] = alert
            return Notice("firing", alert, now_ms)
        # inactive
        if alert is None:
            return None
        if not alert.firing:
            del self.alerts[key]
            return None
        if condition.since_ms is not None:
            cleared = condition.since_ms  # from the data: when it really cleared
        elif alert.clear_since_ms is not None:
            cleared = alert.clear_since_ms
        else:
            cleared = now_ms
        cleared = min(max(cleared, alert.since_ms), now_ms)
        alert = replace(alert, clear_since_ms=cleared)
        self.alerts[key] = alert
        if now_ms - cleared < timing.clear_s * 1000:
            return None
        del self.alerts[key]
        if condition.began_ms is not None and condition.began_ms <= cleared:
            alert = replace(alert, since_ms=condition.began_ms)  # late data refined the start
        return Notice("resolved", alert, now_ms, until_ms=cleared)

    def _inhibited(self, alert: Alert) -> bool:
        firing = [a for a in self.alerts.values() if a.firing]
        if alert.rule in NO_DATA_RULES and any(a.rule in CENTRAL for a in firing):
            return True
        if alert.rule in POINT_OUTAGE_RULES and alert.kelurahan is not None:
            return any(a.rule == KELURAHAN_DOWN and a.subject == alert.kelurahan for a in firing)
        return False
