"""Alert history in InfluxDB (measurement `alert`): one row when an alert fires, one when it
recovers. It is also the NOC's memory: after a restart, alerts still firing are taken back, so
nobody is paged twice for the same outage.
"""

from __future__ import annotations

import logging
from typing import Any

from pantau.collector.influxdb.client import Influx
from pantau.collector.influxdb.line_protocol import line
from pantau.collector.noc.alerts import Alert, Notice
from pantau.shared.errors import PantauError

log = logging.getLogger(__name__)

ALERT = "alert"
MAX_WAITING = 10_000


def notice_line(notice: Notice, delivered: bool) -> str:
    alert = notice.alert
    tags = {"rule": alert.rule, "subject": alert.subject}
    tags |= {"kelurahan": alert.kelurahan or "", "point": alert.point or ""}
    fields: dict[str, object] = {
        "status": notice.kind,
        "firing": 1 if notice.kind == "firing" else 0,
        "title": alert.title,
        "detail": alert.detail,
        "since_ms": alert.since_ms,
        "fired_ms": alert.fired_ms or notice.at_ms,
        "delivered": delivered,
    }
    if notice.until_ms is not None:
        fields["until_ms"] = notice.until_ms
        fields["duration_s"] = float(notice.duration_s or 0.0)
    return line(ALERT, tags, fields, notice.at_ms)


class History:
    def __init__(self, influx: Influx) -> None:
        self.influx = influx
        self._waiting: list[str] = []
        self._failing = False

    def record(self, notice: Notice, delivered: bool) -> None:
        self._waiting.append(notice_line(notice, delivered))
        self.flush()

    def flush(self) -> None:
        if not self._waiting:
            return
        try:
            self.influx.write(self._waiting)
        except PantauError as exc:
            if not self._failing:
                self._failing = True
                log.warning("alert history waits for InfluxDB: %s", exc)
            del self._waiting[:-MAX_WAITING]
            return
        if self._failing:
            self._failing = False
            log.info("alert history written (%d row(s) waited)", len(self._waiting))
        self._waiting = []

    def firing(self, lookback_days: int = 90) -> list[Alert]:
        """Alerts whose latest row says firing."""
        statement = (
            f'SELECT * FROM "{ALERT}" WHERE time > now() - {lookback_days}d'
            ' GROUP BY "rule", "subject" ORDER BY time DESC LIMIT 1'
        )
        try:
            rows = self.influx.query(statement)
        except PantauError as exc:
            if "database not found" in str(exc):
                return []
            raise
        return [_alert(row) for row in rows if row.get("status") == "firing"]


def _alert(row: dict[str, Any]) -> Alert:
    return Alert(
        rule=str(row["rule"]),
        subject=str(row["subject"]),
        since_ms=int(row.get("since_ms") or row["time"]),
        title=str(row.get("title") or ""),
        detail=str(row.get("detail") or ""),
        kelurahan=row.get("kelurahan") or None,
        point=row.get("point") or None,
        fired_ms=int(row.get("fired_ms") or row["time"]),
    )
