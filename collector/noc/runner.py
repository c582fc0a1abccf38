"""`pantau alerts`: a process of its own that looks at the city every N seconds and tells people.

It reads what the collector stored (InfluxDB) and the agents' retained states (MQTT), so the
collector's ingest loop carries no alerting work, and an alert process that stops or restarts
loses nothing: its memory (alerts still firing) is the `alert` measurement.
"""

from __future__ import annotations

import logging
import threading
import time
import urllib.error
import urllib.request

from prometheus_client.parser import text_string_to_metric_families

from pantau.collector.config import CollectorConfig
from pantau.collector.evidence import INTEGRITY
from pantau.collector.influxdb.client import Influx
from pantau.collector.influxdb.line_protocol import line
from pantau.collector.noc import alerts as a
from pantau.collector.noc.alerts import Engine, Notice
from pantau.collector.noc.gather import CityView, gather
from pantau.collector.noc.history import History
from pantau.collector.noc.notify import Delivery
from pantau.collector.noc.observe import DOWN_STATES, STATE_CODES, PointState
from pantau.collector.noc.reader import StateWatcher, first_after, newest_sample_ms, noc_mqtt
from pantau.collector.noc.rules import CentralFacts, all_conditions, timings
from pantau.shared.errors import PantauError
from pantau.shared.registry import Registry

log = logging.getLogger(__name__)

POINT_STATUS = "point_status"


class AlertRunner:
    def __init__(self, config: CollectorConfig, registry: Registry, source: str = "alerts") -> None:
        self.config = config
        self.alerts = config.alerts
        self.registry = registry
        self.influx = Influx(config.influx)
        self.watcher = StateWatcher(noc_mqtt(config.mqtt, self.alerts.mqtt, "alerts"), "alerts")
        self.engine = Engine(timings(self.alerts))
        self.delivery = Delivery(self.alerts.all_targets(), self.alerts.retry_for_s, source)
        self.history = History(self.influx)
        self.metrics_url = self.alerts.rules.collector.metrics_url or config.metrics.url()
        self._restored = False
        self._last_status_ms = 0
        self._influx_failing = False
        self.rounds = 0

    def run(self, stop: threading.Event, once: bool = False) -> None:
        if not self.delivery.targets:
            log.warning("no alert targets configured: alerts go to the history only")
        self.watcher.start()
        if not self.watcher.settle(10.0):
            log.warning("broker not reachable yet; agent states will follow when it is")
        try:
            while not stop.is_set():
                started = time.monotonic()
                self.round(int(time.time() * 1000))
                if once:
                    break
                stop.wait(max(0.0, self.alerts.evaluate_every_s - (time.monotonic() - started)))
        finally:
            self.watcher.stop()
            self.history.flush()
            self.influx.close()
            self.delivery.close()

    def round(self, now_ms: int) -> list[Notice]:
        """One look at the city: conditions → notices → delivery and history."""
        self.rounds += 1
        central, city = self._look(now_ms)
        resumed = self._resumed(city) if city is not None else {}
        views = city.points if city is not None else []
        kelurahan = city.kelurahan if city is not None else []
        conditions = all_conditions(views, kelurahan, resumed, central, self.alerts, now_ms)
        conditions += self._gone(conditions)
        notices = self.engine.evaluate(conditions, now_ms)
        for notice in notices:
            delivered = self.delivery.send(notice)
            log.info(
                "%s %s %s%s",
                notice.kind,
                notice.alert.rule,
                notice.alert.subject,
                "" if delivered else " (delivery failed, retrying)",
            )
            self.history.record(notice, delivered)
        self.delivery.retry()
        self.history.flush()
        if city is not None:
            self._write_status(city)
        return notices

    def _look(self, now_ms: int) -> tuple[CentralFacts, CityView | None]:
        states = self.watcher.states()
        online = sum(1 for s in states.values() if s.online)
        metrics_ok, metrics_error, batches, lines = self._scrape()
        try:
            if not self._restored:
                self.engine.restore(self.history.firing())
                self._restored = True
            exact = self._exact()
            city = gather(self.registry, self.influx, states, self.alerts, now_ms, exact)
        except PantauError as exc:
            if not self._influx_failing:
                self._influx_failing = True
                log.warning("cannot read InfluxDB: %s", exc)
            central = CentralFacts(
                influx_ok=False,
                influx_error=str(exc),
                agents_online=online,
                metrics_ok=metrics_ok,
                metrics_error=metrics_error,
                buffer_lines=lines,
                buffer_batches=batches,
            )
            return central, None
        if self._influx_failing:
            self._influx_failing = False
            log.info("InfluxDB answers again")
        central = CentralFacts(
            influx_ok=True,
            newest_sample_ms=newest_sample_ms(city.telemetry),
            agents_online=online,
            metrics_ok=metrics_ok,
            metrics_error=metrics_error,
            buffer_lines=lines,
            buffer_batches=batches,
            rewrites=self._rewrites(),
        )
        return central, city

    def _rewrites(self) -> dict[str, tuple[int, int]] | None:
        """Per point, the rewrites the collector refused within the rule's window (count, and
        the time of the first); None when InfluxDB cannot say (the alerts hold)."""
        rule = self.alerts.rules.evidence_rewrite
        if not rule.enabled:
            return None
        since = f"now() - {int(rule.window_s)}s"
        try:
            rows = self.influx.query(
                f'SELECT COUNT("ts_ms") AS n FROM "{INTEGRITY}" WHERE time > {since}'
                f' GROUP BY "point"; SELECT FIRST("ts_ms") FROM "{INTEGRITY}"'
                f' WHERE time > {since} GROUP BY "point"'
            )
        except PantauError as exc:
            log.warning("cannot read refused rewrites: %s", exc)
            return None
        counts = {r["point"]: int(r["n"]) for r in rows if "n" in r and r.get("point")}
        firsts = {r["point"]: int(r["time"]) for r in rows if "first" in r and r.get("point")}
        return {p: (n, firsts.get(p, 0)) for p, n in counts.items() if n}

    def _exact(self) -> set[str]:
        """Points whose current state must have an exact start: those with open alerts, and
        every point of a kelurahan with an open alert."""
        open_kel = {al.subject for al in self.engine.alerts.values() if al.rule == a.KELURAHAN_DOWN}
        exact = {al.point for al in self.engine.alerts.values() if al.point}
        exact |= {p.id for p in self.registry.points if p.kelurahan in open_kel}
        return {p for p in exact if p}

    def _resumed(self, city: CityView) -> dict[str, tuple[int | None, int]]:
        """For open silent alerts of points that report again: the silence, from the data.

        The last data gap gives both ends exactly, late-delivered samples included; without a
        gap (the samples were only delayed) it is the first sample after the alert began.
        """
        silent = {
            al.point: al.since_ms
            for al in self.engine.alerts.values()
            if al.rule == a.SILENT and al.point
        }
        back = {
            v.id
            for v in city.points
            if v.id in silent and v.state not in (PointState.SILENT, PointState.UNKNOWN)
        }
        telemetry = city.telemetry
        out: dict[str, tuple[int | None, int]] = {}
        for point in back:
            end = telemetry.gap_end.get(point)
            if end is not None and end > silent[point]:
                out[point] = (telemetry.gap_start[point], end)
        late = {p: silent[p] for p in back if p not in out}
        if late:
            out |= {p: (None, t) for p, t in first_after(self.influx, late).items()}
        return out

    def _gone(self, conditions: list[a.Condition]) -> list[a.Condition]:
        """Open alerts whose point or kelurahan left the registry end now."""
        seen = {c.key for c in conditions}
        points = {p.id for p in self.registry.points}
        kelurahan = {p.kelurahan for p in self.registry.points}
        out = []
        for alert in self.engine.alerts.values():
            if alert.key in seen:
                continue
            gone = (alert.point is not None and alert.point not in points) or (
                alert.rule == a.KELURAHAN_DOWN and alert.subject not in kelurahan
            )
            if gone:
                out.append(a.Condition(alert.rule, alert.subject, False))
        return out

    def _scrape(self) -> tuple[bool | None, str, int | None, int | None]:
        """(reachable, error, buffer batches, buffer lines) from the collector's /metrics."""
        if not self.metrics_url or not self.alerts.rules.collector.enabled:
            return None, "", None, None
        try:
            with urllib.request.urlopen(self.metrics_url, timeout=5) as response:
                text = response.read().decode("utf-8", "replace")
        except (OSError, urllib.error.URLError) as exc:
            reason = getattr(exc, "reason", exc)
            return False, f"{type(exc).__name__}: {reason}", None, None
        values: dict[str, float] = {}
        for family in text_string_to_metric_families(text):
            for sample in family.samples:
                if sample.name in (
                    "pantau_collector_buffer_lines",
                    "pantau_collector_buffer_batches",
                ):
                    values[sample.name] = sample.value
        lines = values.get("pantau_collector_buffer_lines")
        batches = values.get("pantau_collector_buffer_batches")
        return (
            True,
            "",
            int(batches) if batches is not None else None,
            int(lines) if lines is not None else None,
        )

    def _write_status(self, city: CityView) -> None:
        """Every point's state for Grafana's city map (measurement point_status)."""
        every_ms = int(self.alerts.status_every_s * 1000)
        if every_ms <= 0 or city.now_ms - self._last_status_ms < every_ms:
            return
        lines = status_lines(city)
        try:
            self.influx.write(lines)
        except PantauError as exc:
            log.warning("point_status not written: %s", exc)
            return
        self._last_status_ms = city.now_ms


def status_lines(city: CityView) -> list[str]:
    ts = city.now_ms - city.now_ms % 1000
    lines = []
    for view in city.points:
        p = view.point
        fields: dict[str, object] = {
            "state": str(view.state),
            "state_code": STATE_CODES[view.state],
            "down": 1 if view.state in DOWN_STATES else 0,
        }
        if p.lat is not None and p.lon is not None:
            fields |= {"lat": p.lat, "lon": p.lon}
        if view.committed_down_mbps is not None:
            fields["committed_down_mbps"] = float(view.committed_down_mbps)
        if view.committed_up_mbps is not None:
            fields["committed_up_mbps"] = float(view.committed_up_mbps)
        if view.since_ms is not None:
            fields["since_ms"] = view.since_ms
        if view.last_seen_ms is not None:
            fields["last_seen_age_s"] = round((city.now_ms - view.last_seen_ms) / 1000, 1)
        latest = view.latest
        if latest is not None and view.state not in (PointState.SILENT, PointState.UNKNOWN):
            if latest.clients is not None:
                fields["clients"] = latest.clients
            if latest.rx_bps is not None:
                fields["rx_mbps"] = round(latest.rx_bps / 1e6, 3)
            if latest.tx_bps is not None:
                fields["tx_mbps"] = round(latest.tx_bps / 1e6, 3)
        lines.append(line(POINT_STATUS, p.tags(), fields, ts))
    return lines
