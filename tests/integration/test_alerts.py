"""Real outages through the real pipeline reach a real webhook, exactly once each.

Simulated points feed real agents → mosquitto → collector → influxd; `pantau alerts` runs as its
own process with thresholds of seconds; apprise posts to an HTTP server on loopback. The test
causes a provider outage (a `wan_down` window), SIGKILLs two agents (one carrying a whole
kelurahan), sends capacity results, restarts the alert process while alerts are open, and
checks the exact set of alerts and recoveries delivered, their outage durations against the
stored samples, and the `alert` history.

A router whose agent names a WAN port the router does not have (`ether1` for `ether1-wan`)
answers every poll with no rates: its samples go through the real pipeline, and the NOC's own
reading of InfluxDB, judged an hour on, raises one `no_throughput` alert naming the cause.
"""

from __future__ import annotations

import datetime as dt
import time
from pathlib import Path
from typing import Any

from pantau.collector.influxdb.client import Influx
from pantau.collector.lab.routeros_sim import RouterSpec, SimFleet
from pantau.collector.lab.services import Service, free_port
from pantau.collector.noc import alerts as a
from pantau.collector.noc.config import AlertsConfig
from pantau.collector.noc.gather import gather
from pantau.collector.noc.messages import duration, render
from pantau.collector.noc.observe import STATE_CODES, PointState
from pantau.collector.noc.rules import CentralFacts, all_conditions, timings
from pantau.shared.registry import load_registry
from tests.noc_demo import publish_capacity
from tests.noc_rounds import states, wait_rounds
from tests.pipeline import (
    Proc,
    agent_config,
    collector_config,
    count_rows,
    influx,
    registry_file,
    start_agent,
    start_collector,
    wait_for,
    write_yaml,
)
from tests.webhook import Receiver

CITANGKIL = [f"cit-{i:02d}" for i in range(1, 11)]
SAMANGRAYA = [f"sam-{i:02d}" for i in range(1, 9)]
UTC = dt.UTC
UP = STATE_CODES[PointState.UP]


def registry(path: Path) -> Path:
    points = [
        {"id": p, "kelurahan": "Citangkil", "kecamatan": "Citangkil", "provider": "Awinet"}
        for p in CITANGKIL
    ] + [
        {"id": p, "kelurahan": "Samangraya", "kecamatan": "Citangkil", "provider": "Awinet"}
        for p in SAMANGRAYA
    ]
    contracts = [{"provider": "Awinet", "terms": {"down_mbps": 50, "up_mbps": 50}}]
    return write_yaml(path, {"contracts": contracts, "points": points})


def simulated(point: str, **extra: Any) -> dict[str, Any]:
    source = {"kind": "simulated", "fixed_rx_bps": 4e6, "fixed_tx_bps": 1e6, "fixed_clients": 3}
    return {"id": point, "source": source | extra}


def agent(tmp: Path, name: str, broker: int, points: list[dict[str, Any]]) -> Proc:
    config = agent_config(
        tmp / name / "agent.yaml",
        broker,
        points,
        interval_s=1.0,
        mqtt={
            "host": "127.0.0.1",
            "port": broker,
            "keepalive_s": 5,
            "reconnect_min_s": 0.2,
            "reconnect_max_s": 1,
        },
    )
    return start_agent(config, tmp / f"{name}.log")


def alert_settings(target: str) -> dict[str, Any]:
    return {
        "evaluate_every_s": 0.5,
        "silent_after_s": 4,
        "clear_s": 3,
        "status_every_s": 1,
        "targets": [{"url": target}],
        "rules": {
            "provider_down": {"after_s": 3},
            "unreachable": {"after_s": 3},
            "silent": {"after_s": 6},
            "kelurahan_down": {"after_s": 4, "share_pct": 30},
        },
    }


def first_after(db: Influx, point: str, after_ms: int, where: str = "") -> int:
    clause = f" AND {where}" if where else ""
    rows = db.query(
        f'SELECT first("seq") FROM "telemetry" WHERE "point" = \'{point}\''
        f" AND time > {after_ms}ms{clause}"
    )
    return int(rows[0]["time"])


def last_before(db: Influx, point: str, before_ms: int) -> int:
    rows = db.query(
        f'SELECT last("seq") FROM "telemetry" WHERE "point" = \'{point}\' AND time < {before_ms}ms'
    )
    return int(rows[0]["time"])


def by_footer(receiver: Receiver) -> dict[str, dict[str, Any]]:
    return {body["message"].splitlines()[-1]: body for body in receiver.received()}


def test_outages_reach_the_webhook_exactly_once(
    tmp_path: Path, mosquitto: Service, influxd: Service, database: str
) -> None:
    receiver = Receiver().start()
    metrics_port = free_port()
    reg = registry(tmp_path / "registry.yaml")
    config = collector_config(
        tmp_path / "collector.yaml",
        mosquitto.port,
        influxd.url,
        database,
        reg,
        batch={"max_delay_s": 0.2},
        metrics={"port": metrics_port},
        alerts=alert_settings(receiver.url),
    )
    db = influx(influxd.url, database)
    procs: list[Proc] = []
    try:
        procs.append(start_collector(config, tmp_path / "collector.log"))
        now = time.time()
        down_from = dt.datetime.fromtimestamp(now + 8, UTC)
        down_until = dt.datetime.fromtimestamp(now + 16, UTC)
        window = {"start": down_from.isoformat(), "end": down_until.isoformat()}
        whole_kel = agent(tmp_path, "agent-cit", mosquitto.port, [simulated(p) for p in CITANGKIL])
        rest = [simulated(p) for p in SAMANGRAYA if p != "sam-03"]
        rest[0] = simulated("sam-01", wan_down=[window])
        others = agent(tmp_path, "agent-sam", mosquitto.port, rest)
        lone = agent(tmp_path, "agent-sam03", mosquitto.port, [simulated("sam-03")])
        procs += [whole_kel, others, lone]
        wait_for(
            lambda: len(db.query('SELECT last("seq") FROM "telemetry" GROUP BY "point"')) == 18,
            30,
            "every point reporting",
        )
        runner = Proc(["alerts", "--config", str(config)], tmp_path / "alerts.log").start()
        procs.append(runner)
        wait_for(lambda: "alerts started" in runner.log(), 20, "alert runner up")

        # capacity: three tests below 80 % of the committed 50 Mbps
        low_start = int(time.time() * 1000) - 30_000
        publish_capacity(mosquitto.port, "sam-02", [(low_start, 31.0), (low_start + 10_000, 28.5)])
        wait_for(lambda: len(db.query('SELECT "mbps" FROM "capacity"')) == 2, 20, "two tests")
        wait_rounds(db, int(time.time() * 1000), rounds=2)
        assert not [f for f in receiver.footers() if "capacity" in f], "two low tests are no alert"
        publish_capacity(mosquitto.port, "sam-02", [(low_start + 20_000, 30.0)])

        # SIGKILL the agent of all of Citangkil and the one of sam-03, once the runner has seen
        # every point up (a point it never saw up is unknown, not down)
        wait_for(lambda: list(states(db).values()) == [UP] * 18, 30, "every point seen up")
        whole_kel.kill()
        lone.kill()
        killed_ms = int(time.time() * 1000)
        wait_for(
            lambda: (
                {"alert: kelurahan_down Citangkil · firing", "alert: silent sam-03 · firing"}
                <= set(receiver.footers())
            ),
            30,
            "kelurahan and silent alerts",
        )
        # restart the alert process while these are open: it must not page again
        runner.stop()
        runner = Proc(["alerts", "--config", str(config)], tmp_path / "alerts-2.log").start()
        procs.append(runner)
        wait_for(lambda: "alerts started" in runner.log(), 20, "alert runner up again")
        # bring them back
        procs.append(
            agent(tmp_path, "agent-cit", mosquitto.port, [simulated(p) for p in CITANGKIL])
        )
        procs.append(agent(tmp_path, "agent-sam03", mosquitto.port, [simulated("sam-03")]))
        good_ms = int(time.time() * 1000)
        publish_capacity(mosquitto.port, "sam-02", [(good_ms, 46.0)])

        expected = {
            "alert: provider_down sam-01 · firing",
            "alert: provider_down sam-01 · resolved",
            "alert: kelurahan_down Citangkil · firing",
            "alert: kelurahan_down Citangkil · resolved",
            "alert: silent sam-03 · firing",
            "alert: silent sam-03 · resolved",
            "alert: capacity_low sam-02/down · firing",
            "alert: capacity_low sam-02/down · resolved",
        }
        wait_for(lambda: set(receiver.footers()) >= expected, 45, "every recovery")
        wait_rounds(db, int(time.time() * 1000), rounds=3)  # nothing else may arrive
        footers = receiver.footers()
        assert sorted(footers) == sorted(expected), footers
        for key in {f.rsplit(" · ", 1)[0] for f in footers}:  # each alert before its recovery
            assert footers.index(f"{key} · firing") < footers.index(f"{key} · resolved")

        messages = by_footer(receiver)
        assert {m["type"] for k, m in messages.items() if k.endswith("firing")} == {"failure"}
        assert {m["type"] for k, m in messages.items() if k.endswith("resolved")} == {"success"}
        assert messages["alert: provider_down sam-01 · firing"]["title"] == (
            "[Pantau] Provider down: sam-01 (Samangraya)"
        )
        assert messages["alert: kelurahan_down Citangkil · firing"]["title"] == (
            "[Pantau] Kelurahan Citangkil: 10 of 10 points down"
        )

        # outage durations, from the stored samples
        wan_down = int(down_from.timestamp() * 1000)
        pd_start = first_after(db, "sam-01", wan_down - 1, '"wan_up" = false')
        pd_end = first_after(db, "sam-01", pd_start, '"wan_up" = true')
        resolved = messages["alert: provider_down sam-01 · resolved"]["message"]
        assert f"after {duration(pd_end - pd_start)} " in resolved, resolved

        silent_start = last_before(db, "sam-03", killed_ms)
        silent_end = first_after(db, "sam-03", silent_start)
        resolved = messages["alert: silent sam-03 · resolved"]["message"]
        assert f"after {duration(silent_end - silent_start)} " in resolved, resolved

        resolved = messages["alert: capacity_low sam-02/down · resolved"]["message"]
        assert f"after {duration(good_ms - low_start)} " in resolved, resolved
        firing = messages["alert: capacity_low sam-02/down · firing"]["message"]
        assert "31.0, 28.5, 30.0 Mbps; committed 50 Mbps, floor 40 Mbps" in firing

        # the history holds the same eight rows, none undelivered
        rows = db.query('SELECT * FROM "alert"')
        history = sorted(f"alert: {r['rule']} {r['subject']} · {r['status']}" for r in rows)
        assert history == sorted(expected)
        assert all(r["delivered"] is True for r in rows)
        kel = next(r for r in rows if r["rule"] == "kelurahan_down" and r["status"] == "resolved")
        assert kel["kelurahan"] == "Citangkil"
        assert kel["duration_s"] > 0

        # and Grafana's map rows: every point, with a state
        status = db.query('SELECT last("state_code") FROM "point_status" GROUP BY "point"')
        assert len(status) == 18
    finally:
        for proc in reversed(procs):
            proc.stop()
        receiver.stop()


ROUTER_PW = "alerts-router-pw"
MISSING = (
    "interface 'ether1' not found on the router; did you mean 'ether1-wan'? It has: ether1-wan,"
    " ether2, wifi1, bridge-hotspot. Set wan_interface to its port facing the provider."
)


def router(fleet: SimFleet, point: str, **extra: Any) -> dict[str, Any]:
    source = {
        "kind": "routeros",
        "host": "127.0.0.1",
        "port": fleet.port(fleet.index(point)),
        "password_env": "PANTAU_TEST_ROUTER_PW",
        "timeout_s": 2.0,
    }
    return {"id": point, "source": source | extra}


def test_a_wrong_wan_interface_is_an_alert_after_an_hour(
    tmp_path: Path, mosquitto: Service, influxd: Service, database: str
) -> None:
    wrong, right = "cit-wrong-wan", "cit-right-wan"
    specs = [
        RouterSpec(name=p, password=ROUTER_PW, wan_interface="ether1-wan") for p in (wrong, right)
    ]
    reg = registry_file(tmp_path / "registry.yaml", [wrong, right])
    db = influx(influxd.url, database)
    with SimFleet(specs) as fleet:
        collector = start_collector(
            collector_config(tmp_path / "collector.yaml", mosquitto.port, influxd.url, database,
                             reg, batch={"max_delay_s": 0.2}),
            tmp_path / "collector.log",
        )  # fmt: skip
        points = [router(fleet, wrong), router(fleet, right, wan_interface="ether1-wan")]
        agent = start_agent(
            agent_config(tmp_path / "agent.yaml", mosquitto.port, points, interval_s=0.5),
            tmp_path / "agent.log",
            env={"PANTAU_TEST_ROUTER_PW": ROUTER_PW},
        )
        try:
            for point in (wrong, right):
                where = f"\"point\" = '{point}'"
                wait_for(lambda w=where: count_rows(db, "telemetry", w) >= 4, 40, f"{point} rows")
            wait_for(
                lambda: db.query('SELECT "fact_wan_interface" FROM "state" WHERE'
                                 f' "point" = \'{wrong}\' AND "fact_wan_interface" = \'ether1\''),
                20,
                "the agent's wan_interface in its state",
            )  # fmt: skip
            agent.stop()
            wait_for(lambda: "/interface" in str(db.query('SELECT * FROM "event"')), 20, "event")
        finally:
            agent.stop()
            collector.stop()

    # The first (and only) event and log line name the router's own ports.
    events = db.query('SELECT * FROM "event" WHERE "kind" = \'source_error\'')
    assert [(e["point"], e["subject"], e["message"]) for e in events] == [
        (wrong, "/interface", MISSING)
    ]
    assert agent.log().count(MISSING) == 1
    rows = db.query(f'SELECT * FROM "telemetry" WHERE "point" = \'{wrong}\' ORDER BY time')
    assert all(r["device_up"] is True and r["rx_bps"] is None and r["tx_bps"] is None
               for r in rows)  # fmt: skip
    assert all(r["clients_hotspot"] == 25 for r in rows)  # the rest of the sample is there
    first_ms = int(rows[0]["time"])

    # The NOC, reading this InfluxDB an hour on (its clock is an argument; agents' states
    # are not needed to judge a point that has samples).
    config = AlertsConfig(silent_after_s=7200, lookback_s=6 * 3600)
    engine = a.Engine(timings(config))
    registry = load_registry(reg)

    def look(now_ms: int) -> list[a.Notice]:
        city = gather(registry, db, {}, config, now_ms)
        assert {v.id: v.state for v in city.points} == {wrong: PointState.UP, right: PointState.UP}
        facts = CentralFacts(influx_ok=True)
        conditions = all_conditions(city.points, city.kelurahan, {}, facts, config, now_ms)
        return engine.evaluate(conditions, now_ms)

    assert look(first_ms + 3_599_000) == []
    notices = look(first_ms + 3_600_000)
    assert [(n.kind, n.alert.key) for n in notices] == [("firing", f"no_throughput:{wrong}")]
    message = render(notices[0])
    assert message.title == f"[Pantau] No throughput: {wrong} (Citangkil)"
    assert message.body.splitlines()[0] == (
        f"Point {wrong}, kelurahan Citangkil (Citangkil), provider Awinet. The router answers,"
        " but no WAN throughput (rx_bps, tx_bps) has been measured for 60 min. Likely cause:"
        f" the agent's wan_interface 'ether1' is not found on the router. The agent reported:"
        f" {MISSING}"
    )
    assert look(first_ms + 3_700_000) == []  # announced once
