"""The silent paths an attack test found (issue 14), each closed and proven on the real stack:
the broker as `pantau broker config` writes it, a real collector and InfluxDB, messages counted
end to end (every one stored, or refused with a reason that is counted)."""

from __future__ import annotations

import base64
import json
import re
import subprocess
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlencode

import pytest
import yaml
from prometheus_client.parser import text_string_to_metric_families

from pantau.collector.influxdb.client import Influx
from pantau.collector.influxdb.config import InfluxConfig
from pantau.collector.lab import services
from pantau.collector.lab.secure_broker import SecureBroker, prepare_secure_broker
from pantau.collector.lab.services import InfluxUser, Service, free_port
from pantau.collector.sla.hourly import compact_states
from pantau.shared import topics
from tests.broker_probe import Session, connect, sample, secret, telemetry
from tests.pipeline import (
    PANTAU,
    Proc,
    collector_config,
    count_rows,
    influx,
    registry_file,
    start_collector,
    wait_for,
)
from tests.webhook import Receiver

POINTS = ["cit-01", "cit-02", "cit-03"]
DOWN_HOUR = compact_states("D" * 60)
SHARED = f"$share/pantau/{topics.telemetry_topic('+')}"


@pytest.fixture
def secure(tmp_path: Path) -> Iterator[SecureBroker]:
    registry = registry_file(tmp_path / "registry.yaml", POINTS)
    broker = prepare_secure_broker(tmp_path / "secure", registry)
    broker.service.start()
    yield broker
    broker.service.stop()


def shared_collector(
    secure: SecureBroker,
    tmp_path: Path,
    influxd: Service,
    database: str,
    log: str = "collector.log",
    **extra: object,
) -> Proc:
    config = collector_config(
        tmp_path / "collector.yaml",
        secure.cert_port,
        influxd.url,
        database,
        tmp_path / "registry.yaml",
        mqtt=secure.collector_mqtt() | {"client_id": "collector", "share_group": "pantau"},
        **extra,
    )
    return start_collector(config, tmp_path / log)


def final_stats(collector: Proc) -> dict[str, object]:
    return json.loads(collector.log().splitlines()[-1].split("stats ", 1)[1])


def cit_01(secure: SecureBroker) -> Session:
    """cit-01's own MQTT session, with its password, over TLS."""
    a = secure.agents["cit-01"]
    return connect(secure.password_port, secure.pki.ca_cert_path, "cit-01", secret(a.password_file))


def publish_samples(session: Session, point: str, count: int, first: int = 0) -> None:
    """`count` messages of one sample each (seq from `first`, a second apart, the last one a
    second ago), every one acknowledged by the broker."""
    now = int(time.time() * 1000)
    for seq in range(first, first + count):
        payload = telemetry(point, [sample(seq, now - (first + count - seq) * 1000, 1e6 + seq)])
        assert session.publish(topics.telemetry_topic(point), payload) == "Success"


def received(port: int) -> float:
    """Messages the collector has taken in, from its /metrics."""
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5) as response:
            text = response.read().decode()
    except OSError:  # not serving yet
        return 0.0
    for family in text_string_to_metric_families(text):
        for sample_ in family.samples:
            if sample_.name == "pantau_collector_messages_received_total":
                return sample_.value
    return 0.0


def cli(*args: str) -> subprocess.CompletedProcess[str]:
    done = subprocess.run(
        [*PANTAU, *args], capture_output=True, text=True, timeout=120, check=False
    )
    assert done.returncode == 0, done.stdout + done.stderr
    return done


def test_a_stolen_agent_credential_cannot_join_the_share_group(
    secure: SecureBroker, tmp_path: Path, influxd: Service, database: str
) -> None:
    """Defect 1: an agent that joined the collectors' share group with a persistent session
    and went offline took half of every point's messages, which the broker then dropped."""
    collector = shared_collector(secure, tmp_path, influxd, database)
    ca = secure.pki.ca_cert_path
    a, b = secure.agents["cit-01"], secure.agents["cit-02"]
    thief = connect(
        secure.password_port, ca, "cit-01", secret(a.password_file), session_expiry_s=3600
    )
    refused = thief.subscribe(SHARED, topics.telemetry_topic("+"), "pantau/v1/#")
    thief.close()  # offline; its session (had it any subscription) would stay
    noc = connect(secure.password_port, ca, "noc", secret(secure.noc.password_file))
    noc_answers = noc.subscribe(SHARED, topics.telemetry_topic("+"), topics.state_topic("+"))
    noc.close()
    publisher = connect(secure.cert_port, ca, cert=b.cert_file, key=b.key_file)
    try:
        publish_samples(publisher, "cit-02", 20)
        db = influx(influxd.url, database)
        wait_for(lambda: count_rows(db, "telemetry") == 20, 20, "all 20 samples stored")
    finally:
        publisher.close()
        collector.stop()
    assert refused == ["Not authorized"] * 3
    assert noc_answers == ["Not authorized", "Not authorized", "Granted QoS 1"]
    assert count_rows(db, "telemetry") == 20
    assert final_stats(collector)["received"] == 20  # the collector saw every one


def test_revoking_a_collector_ends_its_session_and_its_share(
    secure: SecureBroker, tmp_path: Path, influxd: Service, database: str
) -> None:
    """A collector identity that joined the share group and went away keeps a session the
    broker hands every other message to; revoking it must end that session."""
    pki = ["--dir", str(secure.pki.dir)]
    cli("pki", "issue", "collector-2", "--role", "collector", "--method", "password", *pki)
    secure.reload()  # the new password; its rights came live with `issue`
    password = secret(secure.pki.bundle_dir("collector-2") / "password")
    ca = secure.pki.ca_cert_path

    def second() -> Session | None:
        session = connect(secure.password_port, ca, "collector-2", password, session_expiry_s=3600)
        if session.connack == "Success":
            return session
        session.close()
        return None

    other = wait_for(second, 10, "the new collector identity to be let in")
    assert other.subscribe(SHARED) == ["Granted QoS 1"]
    other.close()  # away, with a share of the group in its session
    collector = shared_collector(secure, tmp_path, influxd, database)
    assert secure.service.process is not None
    done = cli(
        "pki", "revoke", "collector-2", "--reload-pid", str(secure.service.process.pid), *pki
    )
    b = secure.agents["cit-02"]
    publisher = connect(secure.cert_port, ca, cert=b.cert_file, key=b.key_file)
    try:
        publish_samples(publisher, "cit-02", 20)
        db = influx(influxd.url, database)
        wait_for(lambda: count_rows(db, "telemetry") == 20, 20, "all 20 samples stored")
    finally:
        publisher.close()
        collector.stop()
    assert final_stats(collector)["received"] == 20
    assert "session(s) ended: collector-2" in done.stdout
    # and the revoked identity cannot come back for its session
    assert connect(secure.password_port, ca, "collector-2", password).connack == "Not authorized"


def test_status_and_alerts_never_touch_the_collectors_session(
    secure: SecureBroker, tmp_path: Path, influxd: Service, database: str
) -> None:
    """Defect 2: `pantau status` and `pantau alerts` logged in as the collector; the broker
    forces client id = user name, so each run took over the collector's persistent session and
    deleted it, with every message queued in it."""
    mqtt = secure.collector_mqtt() | {"client_id": "collector"}
    config = collector_config(
        tmp_path / "collector.yaml",
        secure.cert_port,
        influxd.url,
        database,
        tmp_path / "registry.yaml",
        mqtt=mqtt,
    )
    collector = start_collector(config, tmp_path / "collector.log")
    collector.stop()  # away, its persistent session left on the broker to queue for it
    b = secure.agents["cit-02"]
    publisher = connect(secure.cert_port, secure.pki.ca_cert_path, cert=b.cert_file, key=b.key_file)
    try:
        publish_samples(publisher, "cit-02", 5)
    finally:
        publisher.close()
    # With the collector's own config, as the NOC guide runs them: no identity of their own.
    status = cli("status", "--config", str(config), "--format", "json", "--broker-wait", "5")
    alerts = cli("alerts", "--config", str(config), "--once")
    again = start_collector(config, tmp_path / "collector-again.log")
    db = influx(influxd.url, database)
    try:
        wait_for(lambda: count_rows(db, "telemetry") == 5, 20, "the 5 queued samples stored")
    finally:
        again.stop()
    assert final_stats(again)["received"] == 5
    assert "session resumed" in again.log()
    assert json.loads(status.stdout)["broker_ok"] is False  # no identity: no agent states
    assert "needs a broker identity of its own" in status.stderr + alerts.stderr
    # With identities of their own (NOC: agent states only), while the collector is away again.
    publisher = connect(secure.cert_port, secure.pki.ca_cert_path, cert=b.cert_file, key=b.key_file)
    try:
        publish_samples(publisher, "cit-02", 5, first=5)
    finally:
        publisher.close()
    own = collector_config(
        tmp_path / "noc.yaml",
        secure.cert_port,
        influxd.url,
        database,
        tmp_path / "registry.yaml",
        mqtt=mqtt,
        status={"mqtt": secure.noc_mqtt("noc-status")},
        alerts={"mqtt": secure.noc_mqtt("noc-alerts")},
    )
    status_own = cli("status", "--config", str(own), "--format", "json", "--broker-wait", "10")
    cli("alerts", "--config", str(own), "--once")
    third = start_collector(config, tmp_path / "collector-third.log")
    try:
        wait_for(lambda: count_rows(db, "telemetry") == 10, 20, "the next 5 samples stored")
    finally:
        third.stop()
    assert final_stats(third)["received"] == 5
    assert json.loads(status_own.stdout)["broker_ok"] is True


def test_the_broker_refuses_huge_messages_and_bounds_what_it_queues(
    tmp_path: Path, influxd: Service, database: str
) -> None:
    """Defect 3: one 256 MB message took the broker to 523 MB, three queued for a stopped
    collector held 779 MB. The broker now refuses a message larger than the collector would
    take (plus room for its topic), and holds a bounded number of bytes for a client away."""
    registry = registry_file(tmp_path / "registry.yaml", POINTS)
    secure = prepare_secure_broker(tmp_path / "secure", registry, max_queued_bytes=1_500_000)
    secure.service.start()
    ca = secure.pki.ca_cert_path
    a = secure.agents["cit-01"]
    try:
        collector = shared_collector(secure, tmp_path, influxd, database)
        limit = 1_048_576  # the collector's max_payload_bytes, the broker's default too

        def agent() -> Session:
            return connect(secure.password_port, ca, "cit-01", secret(a.password_file))

        huge = agent()
        huge.client.publish(topics.telemetry_topic("cit-01"), b"x" * (limit + 4096), qos=1)
        wait_for(lambda: huge.error, 10, "the broker to drop the client")
        huge.close()
        near = agent()
        assert near.publish(topics.telemetry_topic("cit-01"), b"y" * (limit + 100)) == "Success"
        publish_samples(near, "cit-01", 1)
        db = influx(influxd.url, database)
        wait_for(lambda: count_rows(db, "telemetry") == 1, 20, "the valid sample stored")
        collector.stop()  # away: the broker queues for its session, within its bytes
        publish_samples(near, "cit-01", 1, first=1)  # queued first
        for _ in range(3):
            assert near.publish(topics.telemetry_topic("cit-01"), b"z" * 1_000_000) == "Success"
        near.close()
        port = free_port()
        again = shared_collector(
            secure, tmp_path, influxd, database, "again.log", metrics={"port": port}
        )
        wait_for(lambda: received(port) >= 3, 20, "the queued messages")
        wait_for(lambda: count_rows(db, "telemetry") == 2, 20, "the queued valid sample")
        again.stop()
    finally:
        secure.service.stop()
    assert huge.error and huge.acks == {}  # dropped without an answer (see its log below)
    first, second = final_stats(collector), final_stats(again)
    assert first["received"] == 2 and first["rejected"] == {"oversize": 1}
    # 1.5 MB held for the collector: the sample, then two of the three 1 MB messages
    assert second["received"] == 3 and second["rejected"] == {"not_json": 2}
    log = secure.service.log_path.read_text()
    assert "disconnected due to oversize packet" in log
    assert "Outgoing messages are being dropped for client pantau-collector" in log


def test_stored_evidence_is_append_only(
    secure: SecureBroker, tmp_path: Path, influxd: Service, database: str
) -> None:
    """Defect 4: republishing a 3-day-old sample with the same timestamp and other values (WAN
    down -> up, 0 -> 48 Mbps) overwrote the stored row, without a log line. Now an identical
    redelivery is dropped as stored already, late data fills its gap, and a different row for a
    stored timestamp is refused, counted, logged and recorded for the NOC, before and after a
    restart of the collector (which then learns what is stored from InfluxDB)."""
    agent = cit_01(secure)
    t0 = int(time.time() * 1000) - 3 * 86_400_000
    down = [  # 10-s samples, seq 2 missing
        sample(seq, t0 + seq * 10_000, 0.0).model_copy(update={"wan_up": False})
        for seq in (0, 1, 3)
    ]
    forged = down[1].model_copy(update={"wan_up": True, "rx_bps": 48e6})
    late = sample(2, t0 + 20_000, 1e6)  # never stored: a gap being filled
    topic = topics.telemetry_topic("cit-01")
    db = influx(influxd.url, database)
    collector = shared_collector(secure, tmp_path, influxd, database)
    try:
        assert agent.publish(topic, telemetry("cit-01", down)) == "Success"
        wait_for(lambda: count_rows(db, "telemetry") == 3, 20, "the 3 samples stored")
        assert agent.publish(topic, telemetry("cit-01", [forged])) == "Success"
        assert agent.publish(topic, telemetry("cit-01", [down[0]])) == "Success"  # redelivery
        assert agent.publish(topic, telemetry("cit-01", [late])) == "Success"
        publish_samples(agent, "cit-01", 1, first=4)  # and then live data
        wait_for(lambda: count_rows(db, "telemetry") == 5, 20, "late and live samples stored")
    finally:
        collector.stop()
    again = shared_collector(secure, tmp_path, influxd, database, "again.log")
    try:
        assert agent.publish(topic, telemetry("cit-01", [forged])) == "Success"
        publish_samples(agent, "cit-01", 1, first=5)
        wait_for(lambda: count_rows(db, "telemetry") == 6, 20, "the next live sample")
    finally:
        again.stop()
        agent.close()
    first, second = final_stats(collector), final_stats(again)
    assert first["rejected"] == second["rejected"] == {"rewrite": 1}
    assert first["lines_identical"] == 1 and second["lines_identical"] == 0
    row = db.query(
        f'SELECT "wan_up", "rx_bps", "seq" FROM "telemetry" WHERE time = {t0 + 10_000}ms'
    )
    assert [(r["wan_up"], r["rx_bps"], r["seq"]) for r in row] == [(False, 0, 1)]
    seqs = db.query('SELECT "seq" FROM "telemetry" ORDER BY time')
    assert sorted(r["seq"] for r in seqs) == [0, 1, 2, 3, 4, 5]
    refused = db.query('SELECT * FROM "integrity"')
    assert [
        (r["point"], r["measurement"], r["reason"], r["ts_ms"], r["fields"]) for r in refused
    ] == [("cit-01", "telemetry", "rewrite", t0 + 10_000, "rx_bps,wan_up")] * 2
    for log in (collector.log(), again.log()):
        assert log.count("refused 1 rewrite(s) of stored rows of cit-01: telemetry at") == 1
    # ... and the NOC hears of it: one alert, for that point.
    with Receiver() as receiver:
        config = collector_config(
            tmp_path / "alerts.yaml",
            secure.cert_port,
            influxd.url,
            database,
            tmp_path / "registry.yaml",
            alerts={"targets": [receiver.url], "mqtt": secure.noc_mqtt("noc-alerts")},
        )
        cli("alerts", "--config", str(config), "--once")
        footers = [f for f in receiver.footers() if "evidence_rewrite" in f]
    assert footers == ["alert: evidence_rewrite cit-01 · firing"]


def test_late_samples_fill_gaps_and_never_outvote_stored_ones(
    secure: SecureBroker, tmp_path: Path, influxd: Service, database: str
) -> None:
    """A minute is decided by a vote of its samples, and late samples for timestamps never
    stored used to be written as "filling a gap" even where none was missing: 7 late samples
    declaring an hour's interval turned a stored outage hour from down to up, and one message
    of 96 erased a month's deductions. Now a late sample is stored only where one is missing
    (its seq between its stored neighbours', its interval no longer than theirs); the rest are
    refused (`overlap`) and recorded in `integrity`."""
    agent = cit_01(secure)
    hour = (int(time.time() * 1000) - 2 * 86_400_000) // 3_600_000 * 3_600_000
    outage = [
        sample(seq, hour + seq * 10_000, 0.0).model_copy(update={"wan_up": False})
        for seq in range(360)
    ]
    missing = outage[100:106]  # a minute the agent delivers late
    topic = topics.telemetry_topic("cit-01")
    db = influx(influxd.url, database)

    def rollup() -> tuple[str, int] | None:  # the hour's 60 minutes, as stored (compacted)
        rows = db.query(
            f'SELECT "states", "samples_n" FROM "sla_hourly" WHERE time = {hour}ms'
            " AND \"point\" = 'cit-01'"
        )
        return (rows[0]["states"], rows[0]["samples_n"]) if rows else None

    # in the gap, with the seq of a missing sample, but speaking for a whole hour
    for_an_hour = missing[-1].model_copy(update={"interval_s": 3600, "wan_up": True})
    # between stored samples, where no seq is missing
    claims_an_hour = [
        sample(360 + i, hour + 1 + i, 1e6).model_copy(update={"interval_s": 3600}) for i in range(7)
    ]
    between = [sample(400 + i, hour + i * 10_000 + 5_000, 1e6) for i in range(359)]
    collector = shared_collector(
        secure, tmp_path, influxd, database, rollup={"every_s": 1}, log_every_s=3600
    )
    try:
        assert agent.publish(topic, telemetry("cit-01", outage[:100] + outage[106:])) == "Success"
        wait_for(lambda: count_rows(db, "telemetry") == 354, 30, "the outage hour stored")
        assert agent.publish(topic, telemetry("cit-01", [for_an_hour])) == "Success"
        assert agent.publish(topic, telemetry("cit-01", missing)) == "Success"
        wait_for(lambda: rollup() == (DOWN_HOUR, 360), 60, "the whole outage hour rolled up")
        for forged in (claims_an_hour, between):
            assert agent.publish(topic, telemetry("cit-01", forged)) == "Success"
        wait_for(
            lambda: len(db.query('SELECT "ts_ms" FROM "integrity"')) == 367,
            60,
            "367 refusals recorded",
        )
        assert rollup() == (DOWN_HOUR, 360)
    finally:
        collector.stop()
        agent.close()
    stats = final_stats(collector)
    assert stats["rejected"] == {"overlap": 367}
    rows = db.query('SELECT "seq", "wan_up", "interval_s" FROM "telemetry" ORDER BY time')
    assert [(r["seq"], r["wan_up"], r["interval_s"]) for r in rows] == [
        (seq, False, 10) for seq in range(360)
    ]
    refused = db.query('SELECT * FROM "integrity" ORDER BY time')
    assert {(r["point"], r["measurement"], r["reason"]) for r in refused} == {
        ("cit-01", "telemetry", "overlap")
    }
    assert [(r["ts_ms"], r["detail"]) for r in refused] == [
        (for_an_hour.ts_ms, "declares an interval of 3600 s where its neighbours have 10 s"),
        *[(s.ts_ms, f"seq {s.seq} fits no gap between stored seq 0 and 1") for s in claims_an_hour],
        *[
            (s.ts_ms, f"seq {s.seq} fits no gap between stored seq {i} and {i + 1}")
            for i, s in enumerate(between)
        ],
    ]
    assert collector.log().count("refused 1 late sample(s) where stored samples leave no gap") == 1


def test_only_late_samples_are_held_to_the_gaps(
    secure: SecureBroker, tmp_path: Path, influxd: Service, database: str
) -> None:
    """In one message, a missing sample delivered late and the first sample of an agent
    installed afresh (seq from 0 again, 2 s after the last stored one): the late one fills its
    gap, and the new one is new data, not held to the gaps between stored samples."""
    agent = cit_01(secure)
    t0 = int(time.time() * 1000) - 3_600_000
    stored = [sample(seq, t0 + seq * 10_000, 0.0) for seq in (0, 1, 3)]
    missing = sample(2, t0 + 20_000, 0.0)
    fresh = sample(0, t0 + 32_000, 0.0).model_copy(update={"boot": "b2"})
    topic = topics.telemetry_topic("cit-01")
    db = influx(influxd.url, database)
    collector = shared_collector(secure, tmp_path, influxd, database)
    try:
        assert agent.publish(topic, telemetry("cit-01", stored)) == "Success"
        wait_for(lambda: count_rows(db, "telemetry") == 3, 20, "the 3 samples stored")
        assert agent.publish(topic, telemetry("cit-01", [missing, fresh])) == "Success"
        wait_for(lambda: count_rows(db, "telemetry") == 5, 20, "both stored")
    finally:
        collector.stop()
        agent.close()
    assert final_stats(collector)["rejected"] == {}
    rows = db.query('SELECT "seq", "boot" FROM "telemetry" ORDER BY time')
    assert [(r["seq"], r["boot"]) for r in rows] == [
        (0, "b1"),
        (1, "b1"),
        (2, "b1"),
        (3, "b1"),
        (0, "b2"),
    ]


def test_a_point_moved_to_another_provider_keeps_its_history_guarded(
    secure: SecureBroker, tmp_path: Path, influxd: Service, database: str
) -> None:
    """Rows carry the registry's tags, and the guard keyed a row by all of them: once a point
    moved to another provider (or its kelurahan's spelling was fixed), a forged row for a
    stored timestamp was written beside the stored one, and a redelivery was stored twice.
    Now a row is identified by what the agent decides (point and time), whatever the
    registry says."""
    agent = cit_01(secure)
    t0 = int(time.time() * 1000) - 3 * 86_400_000
    down = [
        sample(seq, t0 + seq * 10_000, 0.0).model_copy(update={"wan_up": False}) for seq in range(3)
    ]
    forged = down[1].model_copy(update={"wan_up": True, "rx_bps": 48e6})
    topic = topics.telemetry_topic("cit-01")
    db = influx(influxd.url, database)
    collector = shared_collector(secure, tmp_path, influxd, database)
    try:
        assert agent.publish(topic, telemetry("cit-01", down)) == "Success"
        wait_for(lambda: count_rows(db, "telemetry") == 3, 20, "the 3 samples stored")
    finally:
        collector.stop()
    registry = yaml.safe_load((tmp_path / "registry.yaml").read_text())
    registry["contracts"].append({"provider": "Biznet"})
    registry["points"][0]["provider"] = "Biznet"
    (tmp_path / "registry.yaml").write_text(yaml.safe_dump(registry))
    moved = shared_collector(secure, tmp_path, influxd, database, "moved.log")
    try:
        assert agent.publish(topic, telemetry("cit-01", [forged])) == "Success"
        assert agent.publish(topic, telemetry("cit-01", [down[0]])) == "Success"  # redelivery
        publish_samples(agent, "cit-01", 1, first=3)
        wait_for(lambda: count_rows(db, "telemetry") == 4, 20, "the live sample")
    finally:
        moved.stop()
        agent.close()
    stats = final_stats(moved)
    assert stats["rejected"] == {"rewrite": 1} and stats["lines_identical"] == 1
    rows = db.query('SELECT "seq", "wan_up", "provider" FROM "telemetry" ORDER BY time')
    assert [(r["seq"], r["wan_up"], r["provider"]) for r in rows] == [
        (0, False, "Awinet"),
        (1, False, "Awinet"),
        (2, False, "Awinet"),
        (3, True, "Biznet"),
    ]


def test_rejections_are_logged_the_first_time_then_counted_never_silenced(
    secure: SecureBroker, tmp_path: Path, influxd: Service, database: str
) -> None:
    """Defect 7: rejections were logged once per reason and point for the life of the process
    (20,000 garbage messages gave one line, later ones nothing). Now the first is logged, the
    rest are counted in a line every `log_every_s`, and a new burst is logged again."""
    collector = shared_collector(secure, tmp_path, influxd, database, log_every_s=1)
    agent = cit_01(secure)
    topic = topics.telemetry_topic("cit-01")

    def logged() -> int:
        """Rejections the log accounts for: the lines of first ones, plus the counts held back."""
        text = collector.log()
        firsts = text.count("rejected message on 'pantau/v1/cit-01/telemetry': not_json")
        more = re.findall(r"rejected (\d+) messages (?:on '[^']+'|of cit-01) since the last", text)
        return firsts + sum(int(n) for n in more)

    try:
        for _ in range(200):
            assert agent.publish(topic, b"garbage") == "Success"
        wait_for(lambda: logged() == 200, 20, "all 200 rejections in the log")
        assert agent.publish(topic, b"garbage, later") == "Success"  # a new burst
        wait_for(lambda: logged() == 201, 20, "the later rejection in the log")
    finally:
        agent.close()
        collector.stop()
    assert final_stats(collector)["rejected"] == {"not_json": 201}
    text = collector.log()
    assert text.count("rejected message on 'pantau/v1/cit-01/telemetry'") >= 1  # the very first
    assert text.count("WARNING") < 40  # a line a second at most (log_every_s), not one each
    assert "rejected " in text and " messages of cit-01 since the last line: not_json" in text


def test_retained_agent_messages_are_not_replayed_into_the_record(
    secure: SecureBroker, tmp_path: Path, influxd: Service, database: str
) -> None:
    """Defect 9: a retained telemetry message was replayed to every new collector session and
    stored, even after its point was revoked. The collector no longer asks for retained
    messages and refuses any that come; revoking a point clears what it left retained."""
    ca = secure.pki.ca_cert_path
    a, c = secure.agents["cit-01"], secure.agents["cit-03"]
    agent = connect(secure.password_port, ca, "cit-01", secret(a.password_file))
    now = int(time.time() * 1000)
    old = telemetry("cit-01", [sample(0, now - 60_000, 1e6)])
    agent.client.publish(topics.telemetry_topic("cit-01"), old, qos=1, retain=True)
    agent.client.publish(topics.state_topic("cit-01"), b'{"v":1}', qos=1, retain=True)
    other = connect(secure.password_port, ca, "cit-03", secret(c.password_file))
    other.client.publish(topics.state_topic("cit-03"), b'{"v":1}', qos=1, retain=True)
    wait_for(lambda: len(agent.acks) == 2 and len(other.acks) == 1, 5, "PUBACKs")
    other.close()
    config = collector_config(  # its own plain (not shared) subscription: retained would come
        tmp_path / "collector.yaml",
        secure.cert_port,
        influxd.url,
        database,
        tmp_path / "registry.yaml",
        mqtt=secure.collector_mqtt() | {"client_id": "collector"},
    )
    collector = start_collector(config, tmp_path / "collector.log")
    db = influx(influxd.url, database)
    try:
        publish_samples(agent, "cit-01", 1, first=1)  # live, after the collector subscribed
        wait_for(lambda: count_rows(db, "telemetry") >= 1, 20, "the live sample")
    finally:
        agent.close()
        collector.stop()
    assert [r["seq"] for r in db.query('SELECT "seq" FROM "telemetry"')] == [1]
    assert final_stats(collector)["received"] == 1
    # Revoking cit-01 clears the retained messages it left; cit-03's birth stays.
    done = cli("pki", "revoke", "cit-01", "--dir", str(secure.pki.dir))
    assert "2 retained message(s) cleared" in done.stdout
    noc = connect(secure.password_port, ca, "noc", secret(secure.noc.password_file))
    try:
        assert noc.subscribe(topics.state_topic("+")) == ["Granted QoS 1"]
        wait_for(lambda: noc.received, 5, "the retained births")
        retained = sorted(t for t, _ in noc.received)
    finally:
        noc.close()
    assert retained == [topics.state_topic("cit-03")]


def test_loose_json_is_refused_end_to_end(
    secure: SecureBroker, tmp_path: Path, influxd: Service, database: str
) -> None:
    """Defect 8: NaN in an unknown field, a key twice (the last won), "5e6" taken as a number
    and 1 taken as true were all stored. Each is refused now, with its reason counted."""
    agent = cit_01(secure)
    good = json.loads(telemetry("cit-01", [sample(0, int(time.time() * 1000) - 5_000, 1e6)]))
    text = json.dumps(good)
    loose = [
        text.replace('"samples"', '"extra": NaN, "samples"'),
        text.replace('"seq": 0', '"seq": 0, "seq": 1'),
        text.replace('"rx_bps": 1000000.0', '"rx_bps": "5e6"'),
        text.replace('"wan_up": true', '"wan_up": 1'),
    ]
    assert len(set(loose)) == 4 and text not in loose
    collector = shared_collector(secure, tmp_path, influxd, database)
    db = influx(influxd.url, database)
    try:
        for payload in loose:
            assert agent.publish(topics.telemetry_topic("cit-01"), payload.encode()) == "Success"
        publish_samples(agent, "cit-01", 1, first=2)
        wait_for(lambda: count_rows(db, "telemetry") == 1, 20, "the valid sample after them")
    finally:
        agent.close()
        collector.stop()
    assert [r["seq"] for r in db.query('SELECT "seq" FROM "telemetry"')] == [2]
    assert final_stats(collector)["rejected"] == {"not_json": 1, "invalid": 3}


def influx_http(
    url: str, path: str, body: bytes | None = None, user: InfluxUser | None = None
) -> int:
    request = urllib.request.Request(f"{url}{path}", data=body)
    if user is not None:
        token = base64.b64encode(f"{user.name}:{user.password()}".encode()).decode()
        request.add_header("Authorization", f"Basic {token}")
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status
    except urllib.error.HTTPError as exc:
        return exc.code


def test_influxdb_takes_no_one_without_credentials(secure: SecureBroker, tmp_path: Path) -> None:
    """Defect 5: InfluxDB was open in the deploy and the demo (an unauthenticated write of a
    forged row for another point was stored) and its profiling endpoints answered. Now: an
    admin kept apart, a writer for the collector, a reader for reports and Grafana."""
    influxd = services.influxd(tmp_path / "influxd", auth=True).start()
    try:
        influxd.grant("pantau")
        auth = influxd.auth
        assert auth is not None
        forged = f"telemetry,point=cit-02 wan_up=false,seq=0i {int(time.time() * 1000)}".encode()
        write = "/write?db=pantau&precision=ms"
        assert influx_http(influxd.url, write, forged) == 401  # nobody
        assert influx_http(influxd.url, write, forged, auth.reader) == 403  # the reader
        assert influx_http(influxd.url, "/query?q=SHOW%20DATABASES") == 401
        assert influx_http(influxd.url, "/debug/pprof/") == 404
        make_user = urlencode({"q": "CREATE USER x WITH PASSWORD 'x' WITH ALL PRIVILEGES"})
        assert influx_http(influxd.url, "/query", make_user.encode(), auth.writer) == 403
        # The collector writes with the writer's credentials, reads with them for its checks.
        config = collector_config(
            tmp_path / "collector.yaml",
            secure.cert_port,
            influxd.url,
            "pantau",
            tmp_path / "registry.yaml",
            mqtt=secure.collector_mqtt() | {"client_id": "collector", "share_group": "pantau"},
            influx=auth.writer.section(influxd.url, "pantau"),
        )
        collector = start_collector(config, tmp_path / "collector.log")
        b = secure.agents["cit-02"]
        agent = connect(secure.cert_port, secure.pki.ca_cert_path, cert=b.cert_file, key=b.key_file)
        reader = Influx(InfluxConfig(**auth.reader.section(influxd.url, "pantau")))
        try:
            publish_samples(agent, "cit-02", 3)
            wait_for(lambda: count_rows(reader, "telemetry") == 3, 20, "3 samples, read back")
        finally:
            agent.close()
            collector.stop()
        assert final_stats(collector)["lines_refused"] == 0
        assert "could not prepare database" not in collector.log()  # the admin's job, not its
        assert sorted(r["seq"] for r in reader.query('SELECT "seq" FROM "telemetry"')) == [0, 1, 2]
        for user in (auth.admin, auth.writer, auth.reader):
            assert user.password() not in collector.log()
    finally:
        influxd.stop()
