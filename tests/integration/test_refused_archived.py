"""A signed message the collector refuses for its content (here a sample ten minutes ahead of
its clock: an agent whose clock drifted) in the middle of a point's chain: it is refused live,
archived byte for byte and marked refused with its reason, so the chain is whole (live and in
`pantau evidence verify`), and `pantau evidence replay` stores nothing of it, as the collector
did not. A message refused for its signature is not the point's evidence and is not archived."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import paho.mqtt.client as mqtt
import pytest
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties

from pantau.collector.archive import signing
from pantau.collector.archive.segments import REFUSED
from pantau.collector.lab.services import Service
from pantau.collector.service import user_properties
from pantau.collector.sla.periods import from_ms
from pantau.shared.wire import Sample, Telemetry, encode
from tests.integration.test_evidence_workers import evidence
from tests.integration.test_signed_pipeline import archived, publish, sealed
from tests.pipeline import influx, signed_collector_config, start_collector

POINT = "kubangsari-01"
COLLECTOR = "pantau-collector"


def telemetry(seq: int, ts_ms: int) -> bytes:
    sample = Sample(ts_ms=ts_ms, seq=seq, boot="b1", interval_s=10, device_up=True, wan_up=True)
    return encode(Telemetry(point=POINT, samples=[sample]))


def rows(url: str, database: str) -> list[dict[str, Any]]:
    return influx(url, database).query('SELECT * FROM "telemetry" ORDER BY time')


def test_a_message_refused_for_its_content_is_archived_and_the_chain_stays_whole(
    tmp_path: Path,
    mosquitto: Service,
    influxd: Service,
    database: str,
    capsys: pytest.CaptureFixture[str],
) -> None:
    pki, config = signed_collector_config(
        tmp_path, mosquitto.port, influxd.url, database, [POINT], COLLECTOR, workers=1
    )
    archive = tmp_path / "archive"
    key = signing.load_private_key(pki.bundle_dir(POINT) / "signing.key")
    now_ms = int(time.time() * 1000)
    t = now_ms - 60_000
    chain = [telemetry(0, t), telemetry(1, t + 10_000), telemetry(2, now_ms + 600_000)]
    chain.append(telemetry(3, t + 30_000))
    collector = start_collector(config, tmp_path / "collector.log")
    verdicts = []
    try:
        prev = signing.GENESIS
        for n, payload in enumerate(chain):
            props = sealed(key, payload, prev)
            prev = signing.chain_hash(prev, payload)
            verdicts.append(publish(mosquitto.port, POINT, payload, props))
            if n == 1:  # a forgery between them: refused, and not the point's evidence
                forged = telemetry(9, t + 15_000)
                verdicts.append(publish(mosquitto.port, POINT, forged, sealed(key, chain[0])))
        assert collector.stop() == 0
    finally:
        collector.stop()
    assert verdicts == ["stored", "stored", "refused", "refused", "stored"]
    stats = collector.log().rsplit("stopped; stats ", 1)[1]
    assert '"rejected": {"bad_signature": 1, "ts_future": 1}' in stats  # no chain_break
    live = rows(influxd.url, database)
    assert [int(r["seq"]) for r in live] == [0, 1, 3]

    records = archived(archive)
    assert [r.payload for r in records] == chain  # byte for byte, the forgery left out
    assert [r.refused is not None for r in records] == [False, False, True, False]
    ahead_s = (now_ms + 600_000 - records[2].received_ms) / 1000
    assert records[2].refused == (
        f"ts_future: all 1 sample(s): sample seq 2 is {ahead_s:.0f}s ahead of the collector's clock"
    )
    assert set(records[2].properties) == {"k", "p", "s", REFUSED}

    base = ["--config", str(config)]
    last_day = max(p.stem for p in archive.glob("**/*.seg"))
    code, out = evidence(capsys, "checkpoint", *base, "--through", last_day, "--early")
    assert code == 0, out
    month = from_ms(now_ms).strftime("%Y-%m")
    code, out = evidence(capsys, "verify", *base, "--month", month, "--against-influx")
    assert code == 0, out
    assert out[0].startswith("signatures and chains: 4 signed message(s) of 1 point(s)"), out
    assert out[0].endswith(": all valid (1 refused by the collector for their content)"), out
    assert "every one in the archive" in out[-1], out

    rebuilt = f"{database}_replayed"
    code, out = evidence(capsys, "replay", *base, "--month", month, "--database", rebuilt)
    assert code == 0, out
    assert "refused as when they arrived: 1 ts_future" in out[0], out
    assert rows(influxd.url, rebuilt) == live


def test_no_message_can_carry_the_refused_mark_itself() -> None:
    message = mqtt.MQTTMessage(topic=f"pantau/v1/{POINT}/telemetry".encode())
    message.properties = Properties(PacketTypes.PUBLISH)
    message.properties.UserProperty = [(REFUSED, "ts_future: forged"), ("k", "abc")]
    assert user_properties(message) == {REFUSED[:16]: "ts_future: forged", "k": "abc"}
    assert REFUSED[:16] != REFUSED
