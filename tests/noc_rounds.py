"""The alert runner's rounds, seen from outside through the `point_status` rows it writes.

A round reads InfluxDB, sends its notices, then writes one `point_status` row per point stamped
with the second the round began (at most one write per `status_every_s`). So a row stamped at or
after a moment proves a whole round ran after it, notices included: tests wait for rounds
instead of sleeping, also when they check that nothing more is sent.
"""

from __future__ import annotations

from pantau.collector.influxdb.client import Influx
from tests.pipeline import wait_for


def newest_round_ms(db: Influx) -> int:
    """When the newest round that wrote point_status began (to the second); 0 before any."""
    rows = db.query('SELECT last("state_code") FROM "point_status"')
    return int(rows[0]["time"]) if rows else 0


def states(db: Influx) -> dict[str, int]:
    """Each point's state code (collector/noc/observe.py STATE_CODES) in the newest round."""
    rows = db.query('SELECT last("state_code") FROM "point_status" GROUP BY "point"')
    return {row["point"]: int(row["last"]) for row in rows}


def since(db: Influx) -> dict[str, int]:
    """When each point's current state began (ms), as the newest round judged it."""
    rows = db.query('SELECT last("since_ms") FROM "point_status" GROUP BY "point"')
    return {row["point"]: int(row["last"]) for row in rows}


def wait_rounds(db: Influx, after_ms: int, rounds: int = 1, timeout_s: float = 30) -> None:
    """Until `rounds` status-writing rounds have begun after `after_ms` and finished."""
    first = after_ms - after_ms % 1000 + 1000
    wait_for(
        lambda: newest_round_ms(db) >= first + (rounds - 1) * 1000,
        timeout_s,
        f"{rounds} alert round(s) after {after_ms}",
    )
