"""Read what the NOC needs: retained agent states from the broker, recent samples and capacity
tests from InfluxDB. Thin adapters; the judgement is in observe.py and alerts.py.

InfluxDB does the heavy lifting: a handful of statements in one request give, per point, the
newest sample, the last time it was seen in each state and the end of its latest data gap, from
which the start of the current state follows without reading raw history into Python.
"""

from __future__ import annotations

import logging
import os
import threading
import time
from collections.abc import Collection, Iterable
from dataclasses import dataclass, field
from typing import Any

import paho.mqtt.client as mqtt
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties

from pantau.collector.config import MqttConfig as CollectorMqtt
from pantau.collector.influxdb.client import Influx
from pantau.collector.noc.config import NocMqttConfig
from pantau.collector.noc.observe import AgentState, CapacityTest, Facts, Latest, PointState
from pantau.shared import topics
from pantau.shared.errors import ConfigError, PantauError, PayloadError
from pantau.shared.mqtt_client import TlsConfig, make_client
from pantau.shared.wire import State, decode

log = logging.getLogger(__name__)

STATEMENTS_PER_REQUEST = 200
STATE_WINDOW_S = 3600  # state changes are scanned over the last hour for every point ...
GAP_WINDOW_S = 1800  # ... and data gaps over the last half hour
RESUMED_SLACK_MS = 120_000  # a first sample this far into the hour: the point began reporting
LATEST_FIELDS = (
    "device_up",
    "wan_up",
    "clients_hotspot",
    "clients_assoc",
    "clients_dhcp",
    "rx_bps",
    "tx_bps",
    "rtt_ms",
    "loss_pct",
)
OTHER_THAN = {  # a sample in another state than this one (null WAN counts as up: not matched)
    PointState.UP: '("wan_up" = false OR "device_up" = false)',
    PointState.PROVIDER_DOWN: '("wan_up" = true OR "device_up" = false)',
    PointState.UNREACHABLE: '"device_up" = true',
}


def noc_mqtt(collector: CollectorMqtt, own: NocMqttConfig | None, command: str) -> NocMqttConfig:
    """The broker settings of one NOC command: its own section when given; otherwise the
    collector's broker address and CA with no credentials at all, so a NOC command can never
    log in as the collector (the broker would hand it the collector's session)."""
    if own is not None:
        config = own
    else:
        tls = None
        if collector.tls is not None:
            tls = TlsConfig(ca_file=collector.tls.ca_file, insecure=collector.tls.insecure)
        config = NocMqttConfig(
            host=collector.host, port=collector.port, tls=tls, keepalive_s=collector.keepalive_s
        )
    client_id = config.client_id or f"pantau-{command}-{os.getpid()}"
    if client_id == collector.client_id or (
        config.username and config.username in (collector.username, collector.client_id)
    ):
        raise ConfigError(
            f"{command}.mqtt must not use the collector's identity: give it one of its own"
            f" (pantau pki issue noc-{command} --role noc --method password)"
        )
    return config.model_copy(update={"client_id": client_id})


class StateWatcher:
    """Keeps the retained `state` of every point, live, on its own MQTT session.

    Its own identity and client id and a clean session that ends with the connection: it must
    never take over the collector's queue.
    """

    def __init__(self, config: NocMqttConfig, name: str = "noc") -> None:
        self.config = config
        self.name = name
        self._states: dict[str, AgentState] = {}
        self._lock = threading.Lock()
        self._subscribed = threading.Event()
        self._refused = threading.Event()
        self._last_message_at = 0.0
        client_id = config.client_id or f"pantau-{name}-{os.getpid()}"
        self.client = make_client(config, client_id)
        self.client.on_connect = self._on_connect
        self.client.on_subscribe = self._on_subscribe
        self.client.on_message = self._on_message
        self.client.on_disconnect = self._on_disconnect
        self.client.on_connect_fail = self._on_connect_fail

    def start(self) -> StateWatcher:
        self.client.reconnect_delay_set(1, 30)
        props = Properties(PacketTypes.CONNECT)
        props.SessionExpiryInterval = 0  # nothing of ours outlives the connection
        self.client.connect_async(
            self.config.host,
            self.config.port,
            self.config.keepalive_s,
            clean_start=True,
            properties=props,
        )
        self.client.loop_start()
        return self

    def stop(self) -> None:
        self.client.disconnect()
        self.client.loop_stop()

    @property
    def connected(self) -> bool:
        return self._subscribed.is_set()

    def settle(self, timeout_s: float, quiet_s: float = 0.3) -> bool:
        """Wait for the subscription and for the burst of retained states to end."""
        deadline = time.monotonic() + timeout_s
        while not self._subscribed.wait(0.05):
            if self._refused.is_set() or time.monotonic() >= deadline:
                return False
        while time.monotonic() < deadline:
            if time.monotonic() - max(self._last_message_at, self._subscribed_at) >= quiet_s:
                return True
            time.sleep(0.05)
        return True

    def states(self) -> dict[str, AgentState]:
        with self._lock:
            return dict(self._states)

    def _on_connect(self, client, userdata, flags, reason_code, properties) -> None:
        if reason_code.is_failure:
            self._refuse(f"the broker refused the login: {reason_code}")
            return
        client.subscribe(topics.state_topic("+"), qos=1)

    def _on_connect_fail(self, client, userdata) -> None:
        self._refuse("no connection to the broker (refused, or TLS failed)")

    def _refuse(self, why: str) -> None:
        if not self._refused.is_set():
            log.error(
                "agent states unavailable: %s; `%s` needs a broker identity of its own in its"
                " `mqtt` section (a NOC one: pantau pki issue noc-%s --role noc)",
                why,
                self.name,
                self.name,
            )
        self._refused.set()

    def _on_subscribe(self, client, userdata, mid, reason_codes, properties) -> None:
        if any(rc.is_failure for rc in reason_codes):
            self._refuse("the broker refused the subscription to agent states")
            return
        self._refused.clear()
        self._subscribed_at = time.monotonic()
        self._ever_subscribed = True
        self._subscribed.set()

    def _on_disconnect(self, client, userdata, flags, reason_code, properties) -> None:
        if not self._subscribed.is_set() and not self._ever_subscribed:
            self._refuse(f"the broker closed the connection before letting it in ({reason_code})")
        self._subscribed.clear()

    def _on_message(self, client, userdata, message: mqtt.MQTTMessage) -> None:
        self._last_message_at = time.monotonic()
        parsed = topics.parse_topic(message.topic)
        if parsed is None:
            return
        point = parsed[0]
        if not message.payload:  # a cleared retained state
            with self._lock:
                self._states.pop(point, None)
            return
        try:
            state = decode("state", message.payload, point)
        except PayloadError as exc:
            log.debug("ignoring state of %s: %s", point[:64], exc)
            return
        assert isinstance(state, State)
        with self._lock:
            self._states[point] = AgentState(
                online=state.state == "online",
                boot=state.boot,
                ts_ms=state.ts_ms,
                version=state.agent_version,
                spool=state.spool,
            )

    _subscribed_at = 0.0
    _ever_subscribed = False


@dataclass
class Telemetry:
    """Per point, what one read of InfluxDB found."""

    latest: dict[str, Latest] = field(default_factory=dict)
    last_seen: dict[str, int] = field(default_factory=dict)
    last_in: dict[PointState, dict[str, int]] = field(default_factory=dict)
    first_seen: dict[str, int] = field(default_factory=dict)
    gap_end: dict[str, int] = field(default_factory=dict)  # first sample after the last gap
    gap_start: dict[str, int] = field(default_factory=dict)  # last sample before it
    run_start: dict[str, int] = field(default_factory=dict)


def read_telemetry(
    influx: Influx,
    now_ms: int,
    lookback_s: float,
    gap_s: float,
    exact: Collection[str] = (),
) -> Telemetry:
    """The newest sample of every point, when it was last seen in each state and when its
    current state began.

    Scans over every point are kept to the last hour (state changes) and half hour (data
    gaps); a point whose current state is older than that is followed further back on its own
    series, which is cheap. `exact` names up points whose start must be known (the NOC needs
    those for recoveries); for other points that have been up all hour it is left open.
    """
    start = now_ms - int(lookback_s * 1000)
    short = max(start, now_ms - STATE_WINDOW_S * 1000)
    gaps_from = max(start, now_ms - GAP_WINDOW_S * 1000)
    recent = now_ms - int(max(gap_s, 60) * 1000) - 60_000
    until = f"time <= {now_ms}ms"
    hour = f"time > {short}ms AND {until}"
    fields = ", ".join(f'"{f}"' for f in LATEST_FIELDS)
    statements = [
        f'SELECT {fields} FROM "telemetry" WHERE time > {recent}ms AND {until}'
        ' GROUP BY "point" ORDER BY time DESC LIMIT 1',
        f'SELECT last("seq") FROM "telemetry" WHERE time > {start}ms AND {until} GROUP BY "point"',
        f'SELECT first("seq") FROM "telemetry" WHERE {hour} GROUP BY "point"',
        f'SELECT last("seq") FROM "telemetry" WHERE {hour} AND "device_up" = true'
        ' AND "wan_up" = true GROUP BY "point"',
        f'SELECT last("seq") FROM "telemetry" WHERE {hour} AND "device_up" = true'
        ' AND "wan_up" = false GROUP BY "point"',
        f'SELECT last("seq") FROM "telemetry" WHERE {hour} AND "device_up" = false'
        ' GROUP BY "point"',
        'SELECT last("gap_ms") FROM (SELECT elapsed("seq", 1ms) AS gap_ms FROM "telemetry"'
        f' WHERE time > {gaps_from}ms AND {until} GROUP BY "point")'
        f' WHERE "gap_ms" > {int(gap_s * 1000)} GROUP BY "point"',
    ]
    results = _run(influx, statements)
    out = Telemetry()
    for row in _rows(results[0]):
        out.latest[row["point"]] = Latest.from_row(row)
    out.last_seen = _times(results[1])
    out.first_seen = _times(results[2])
    out.last_in = {
        PointState.UP: _times(results[3]),
        PointState.PROVIDER_DOWN: _times(results[4]),
        PointState.UNREACHABLE: _times(results[5]),
    }
    for row in _rows(results[6]):
        if "point" in row and row.get("last") is not None:
            out.gap_end[row["point"]] = int(row["time"])
            out.gap_start[row["point"]] = int(row["time"]) - int(row["last"])
    _run_starts(influx, out, exact, start, short, now_ms)
    return out


def _run_starts(
    influx: Influx,
    out: Telemetry,
    exact: Collection[str],
    start: int,
    short: int,
    now_ms: int,
) -> None:
    """The first sample of each point's current state (since its latest gap)."""
    after: dict[str, int] = {}  # point -> the last sample in another state
    further: list[str] = []  # points whose state began before the short window
    for point, latest in out.latest.items():
        state = latest.state
        others = [t.get(point) for s, t in out.last_in.items() if s != state]
        other = max((t for t in others if t is not None), default=None)
        gap = out.gap_end.get(point)
        wanted = state != PointState.UP or point in exact
        if gap is not None and (other is None or gap > other):
            out.run_start[point] = gap
        elif other is not None:
            if wanted:
                after[point] = other
        elif out.first_seen.get(point, short) > short + RESUMED_SLACK_MS:
            out.run_start[point] = out.first_seen[point]  # began reporting inside the window
        elif wanted:
            further.append(point)
    if further:
        statements = []
        for point in further:
            state = out.latest[point].state
            statements.append(
                f'SELECT last("seq") FROM "telemetry" WHERE "point" = \'{point}\''
                f" AND time > {start}ms AND time <= {short}ms AND {OTHER_THAN[state]}"
            )
            statements.append(
                f'SELECT first("seq") FROM "telemetry" WHERE "point" = \'{point}\''
                f" AND time > {start}ms AND time <= {now_ms}ms"
            )
        results = _run_chunked(influx, statements)
        for index, point in enumerate(further):
            other_rows, first_rows = _rows(results[2 * index]), _rows(results[2 * index + 1])
            if other_rows:
                after[point] = int(other_rows[0]["time"])
            elif first_rows:
                out.run_start[point] = int(first_rows[0]["time"])
    out.run_start |= first_after(influx, after, now_ms)


def first_after(
    influx: Influx, after_ms: dict[str, int], until_ms: int | None = None
) -> dict[str, int]:
    """For each point, the time of its first sample after the given moment."""
    items = sorted(after_ms.items())
    bound = f" AND time <= {until_ms}ms" if until_ms is not None else ""
    statements = [
        f'SELECT first("seq") FROM "telemetry" WHERE "point" = \'{point}\' AND time > {ms}ms{bound}'
        for point, ms in items
    ]
    found: dict[str, int] = {}
    for (point, _), result in zip(items, _run_chunked(influx, statements), strict=True):
        rows = _rows(result)
        if rows:
            found[point] = int(rows[0]["time"])
    return found


def read_tests(
    influx: Influx, now_ms: int, lookback_days: int, per_direction: int
) -> dict[str, tuple[CapacityTest, ...]]:
    """The newest capacity tests of every point, newest first, both directions."""
    start = now_ms - lookback_days * 86_400_000
    statement = (
        f'SELECT "mbps" FROM "capacity" WHERE time > {start}ms AND time <= {now_ms}ms'
        f' GROUP BY "point", "direction" ORDER BY time DESC LIMIT {per_direction}'
    )
    tests: dict[str, list[CapacityTest]] = {}
    for row in _rows(_run(influx, [statement])[0]):
        if row.get("mbps") is None:
            continue
        tests.setdefault(row["point"], []).append(
            CapacityTest(int(row["time"]), str(row["direction"]), float(row["mbps"]))
        )
    return {p: tuple(sorted(t, key=lambda x: -x.ts_ms)) for p, t in tests.items()}


def newest_sample_ms(telemetry: Telemetry) -> int | None:
    return max(telemetry.last_seen.values(), default=None)


def facts_for(
    points: Iterable[str],
    telemetry: Telemetry,
    states: dict[str, AgentState],
    tests: dict[str, tuple[CapacityTest, ...]],
) -> dict[str, Facts]:
    return {
        point: Facts(
            latest=telemetry.latest.get(point),
            last_seen_ms=telemetry.last_seen.get(point),
            run_start_ms=telemetry.run_start.get(point),
            agent=states.get(point),
            tests=tests.get(point, ()),
        )
        for point in points
    }


def _run_chunked(influx: Influx, statements: list[str]) -> list[dict[str, Any]]:
    results: list[dict[str, Any]] = []
    for i in range(0, len(statements), STATEMENTS_PER_REQUEST):
        results += _run(influx, statements[i : i + STATEMENTS_PER_REQUEST])
    return results


def _run(influx: Influx, statements: list[str]) -> list[dict[str, Any]]:
    """Several statements in one request; a missing database reads as empty."""
    try:
        results = influx.query_raw(";".join(statements))
    except PantauError as exc:
        if "database not found" in str(exc):
            return [{} for _ in statements]
        raise
    by_id = {int(r.get("statement_id", i)): r for i, r in enumerate(results)}
    out = []
    for i in range(len(statements)):
        result = by_id.get(i, {})
        error = result.get("error")
        if error and "database not found" not in error:
            raise PantauError(f"InfluxQL error: {error}")
        out.append(result if not error else {})
    return out


def _rows(result: dict[str, Any]) -> list[dict[str, Any]]:
    rows = []
    for series in result.get("series", []):
        tags = series.get("tags", {})
        for values in series["values"]:
            row = dict(zip(series["columns"], values, strict=True))
            row.update(tags)
            rows.append(row)
    return rows


def _times(result: dict[str, Any]) -> dict[str, int]:
    return {row["point"]: int(row["time"]) for row in _rows(result) if "point" in row}
