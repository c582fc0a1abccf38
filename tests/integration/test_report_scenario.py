"""A known month through the whole pipeline — MQTT → collector → InfluxDB → hourly rollups
(kept by the collector) → `pantau report --format json` — giving exactly the figures computed
by hand below.

October 2026 (WIB): 44 640 minutes. Both points sample every 240 s (each sample covers 4
minutes), 11 160 samples a month. Default Awinet contract without a speed schedule: threshold
300 s, Rp500.000, 50 Mbps.

citangkil-01 (Citangkil), in service all month:
- WAN down 10 Oct 23:52 → 11 Oct 00:20 (7 samples, 28 min): one outage of 1 680 s over midnight
- WAN down 12 Oct 10:00 (1 sample, 4 min): a short interruption, counted as up
- router unreachable 5 Oct 08:00 and 08:04 (2 samples): 8 min no_data/device_unreachable
- agent dead 20 Oct 00:00 → 06:00 (90 samples never taken): 360 min no_data/no_sample
- spool lost 25 Oct 12:00, 12:04, 12:08 (3 samples, seq skipped): 12 min no_sample, 3 seq gaps
- clock unsynced 2 Oct 03:00 → 04:00 (15 samples)
- up = 44 640 − 8 − 372 − 32 = 44 228 min; availability = (44 228 + 4) / (44 232 + 28)
- 19:00–23:00 WIB: rx 20 Mbit/s, 10 clients, RTT 80 ms, loss 3 %; else 5 Mbit/s, 2, 20 ms, 0 %
- capacity tests (down/up Mbps): 3 Oct 10:00 48/30, 3 Oct 20:00 20/30, 4 Oct 10:00 52/30,
  4 Oct 21:00 25/30, 5 Oct 10:00 50/30 → median 48 (96 %), ≥100 %: 2 of 5, ≥80 %: 3 of 5,
  peak median (20, 25) = 22.5, speed in 80 % of tests 25

jombang-wetan-01 (Jombang Wetan), installed 17 Oct (15 days = 21 600 min), samples all month
(those before installation must not count); WAN down 18 Oct 00:00 → 20 Oct 00:00 (2 days):
availability 18 720 / 21 600 = 86.67 % → 25 % deduction; fee 500 000 × 21 600 / 44 640 =
241 935 (rounded), deduction 60 484, net 181 451. 5 Mbit/s, 4 clients, RTT 30 ms throughout.
"""

from __future__ import annotations

import json
import subprocess
from pathlib import Path
from typing import Any

import paho.mqtt.client as mqtt
import pytest

from pantau.collector.lab.services import Service
from pantau.shared import topics
from pantau.shared.wire import Event, Sample, Telemetry, encode
from tests.pipeline import (
    PANTAU,
    collector_config,
    count_rows,
    influx,
    start_collector,
    wait_for,
    write_yaml,
)
from tests.unit.sla.helpers import wib

M0 = wib(2026, 10, 1, 0, 0)
STEP = 240_000
N = 11_160
A, B = "citangkil-01", "jombang-wetan-01"


def at(day: int, hour: int, minute: int = 0) -> int:
    return wib(2026, 10, day, hour, minute)


def in_span(ts: int, start: int, end: int) -> bool:
    return start <= ts < end


def peak(ts: int) -> bool:
    return 19 <= ((ts - M0) // 3_600_000) % 24 < 23


def samples_a() -> list[Sample]:
    out = []
    seq = 0
    for k in range(N):
        ts = M0 + k * STEP
        if in_span(ts, at(20, 0), at(20, 6)):
            continue  # agent dead: nothing taken, seq not advanced
        seq += 1
        if in_span(ts, at(25, 12), at(25, 12, 12)):
            continue  # taken, then lost: seq advanced
        fields: dict[str, Any] = {
            "ts_ms": ts,
            "seq": seq,
            "boot": "a1",
            "interval_s": 240,
            "device_up": True,
            "wan_up": True,
            "rx_bps": 20e6 if peak(ts) else 5e6,
            "clients_hotspot": 10 if peak(ts) else 2,
            "rtt_ms": 80.0 if peak(ts) else 20.0,
            "loss_pct": 3.0 if peak(ts) else 0.0,
            "clock_synced": not in_span(ts, at(2, 3), at(2, 4)),
        }
        if in_span(ts, at(10, 23, 52), at(11, 0, 20)) or in_span(ts, at(12, 10), at(12, 10, 4)):
            fields |= {"wan_up": False, "rtt_ms": None, "loss_pct": 100.0, "rx_bps": 0.0}
        if in_span(ts, at(5, 8), at(5, 8, 8)):
            fields = {k: fields[k] for k in ("ts_ms", "seq", "boot", "interval_s")}
            fields["device_up"] = False
        out.append(Sample(**fields))
    return out


def samples_b() -> list[Sample]:
    out = []
    for k in range(N):
        ts = M0 + k * STEP
        down = in_span(ts, at(18, 0), at(20, 0))
        out.append(
            Sample(
                ts_ms=ts,
                seq=k + 1,
                boot="b1",
                interval_s=240,
                device_up=True,
                wan_up=not down,
                rx_bps=0.0 if down else 5e6,
                clients_hotspot=4,
                rtt_ms=None if down else 30.0,
                loss_pct=100.0 if down else 0.0,
                clock_synced=True,
            )
        )
    return out


CAPACITY = [  # (day, hour, down, up)
    (3, 10, 48.0, 30.0),
    (3, 20, 20.0, 30.0),
    (4, 10, 52.0, 30.0),
    (4, 21, 25.0, 30.0),
    (5, 10, 50.0, 30.0),
]


def registry_yaml(path: Path) -> Path:
    return write_yaml(
        path,
        {
            "city": "Kota Cilegon",
            "kelurahan": [
                {"name": "Citangkil", "kecamatan": "Citangkil"},
                {"name": "Jombang Wetan", "kecamatan": "Jombang"},
            ],
            # no speed schedule: the speed verdict's money is test_report_money.py's
            "contracts": [
                {
                    "id": "awinet",
                    "provider": "Awinet",
                    "valid_from": "2024-01-01",
                    "terms": {"speed": None},
                }
            ],
            "points": [
                {"id": A, "kelurahan": "Citangkil", "kecamatan": "Citangkil", "provider": "Awinet"},
                {
                    "id": B,
                    "kelurahan": "Jombang Wetan",
                    "kecamatan": "Jombang",
                    "provider": "Awinet",
                    "installed": "2026-10-17",
                },
            ],
        },
    )


def publish(port: int, messages: list[tuple[str, bytes]]) -> None:
    client = mqtt.Client(
        callback_api_version=mqtt.CallbackAPIVersion.VERSION2,
        client_id="scenario-publisher",
        protocol=mqtt.MQTTv5,
    )
    client.connect("127.0.0.1", port)
    client.loop_start()
    try:
        for topic, payload in messages:
            client.publish(topic, payload, qos=1).wait_for_publish(timeout=20)
    finally:
        client.loop_stop()
        client.disconnect()


def batches(point: str, samples: list[Sample]) -> list[tuple[str, bytes]]:
    return [
        (
            topics.telemetry_topic(point),
            encode(Telemetry(point=point, samples=samples[i : i + 2000])),
        )
        for i in range(0, len(samples), 2000)
    ]


@pytest.fixture(scope="module")
def report(tmp_path_factory: pytest.TempPathFactory, influxd: Service) -> dict[str, Any]:
    from pantau.collector.lab import services

    tmp = tmp_path_factory.mktemp("scenario")
    broker = services.mosquitto(tmp / "mosquitto").start()
    database = "scenario_month"
    registry = registry_yaml(tmp / "registry.yaml")
    config = collector_config(
        tmp / "collector.yaml",
        broker.port,
        influxd.url,
        database,
        registry,
        limits={"max_age_s": 3650 * 86_400},  # a past month, older than the spool horizon
        rollup={"every_s": 1},
    )
    collector = start_collector(config, tmp / "collector.log")
    a, b = samples_a(), samples_b()
    events = [
        (
            topics.event_topic(A),
            encode(
                Event(
                    point=A,
                    ts_ms=at(day, hour),
                    kind="capacity",
                    data={"method": "iperf3", "down_mbps": down, "up_mbps": up},
                )
            ),
        )
        for day, hour, down, up in CAPACITY
    ]
    db = influx(influxd.url, database)
    try:
        publish(broker.port, batches(A, a) + batches(B, b) + events)
        total = len(a) + len(b)
        wait_for(lambda: count_rows(db, "telemetry") == total, 60, f"{total} telemetry rows")
        wait_for(
            lambda: len(db.query('SELECT "mbps" FROM "capacity"')) == 10, 20, "10 capacity rows"
        )
    finally:
        collector.stop()
        broker.stop()
    # the collector keeps sla_hourly itself and recomputes what is still marked when it stops:
    # a row per point and hour with samples, 744 hours less the 6 citangkil-01 was dead
    hourly = db.query('SELECT COUNT("samples_n") FROM "sla_hourly" GROUP BY "point"')
    assert {r["point"]: r["count"] for r in hourly} == {A: 738, B: 744}
    out = tmp / "report.json"
    args = ["report", "--month", "2026-10", "--format", "json", "--config", str(config)]
    subprocess.run([*PANTAU, *args, "--out", str(out)], check=True, timeout=120)
    html = tmp / "report.html"
    subprocess.run(
        [
            *PANTAU,
            "report",
            "--month",
            "2026-10",
            "--format",
            "html",
            "--lang",
            "en",
            "--config",
            str(config),
            "--out",
            str(html),
        ],
        check=True,
        timeout=120,
    )
    assert html.read_text().count('<svg class="chart"') == 4
    return json.loads(out.read_text())


A_UP = 44_228 + 4
A_OUT = 28
B_UP, B_OUT = 18_720, 2_880


def test_point_with_outages_gaps_and_tests(report: dict[str, Any]) -> None:
    p = next(x for x in report["points"] if x["id"] == A)
    expected = {
        "minutes_active": 44_640,
        "minutes_up": 44_228,
        "minutes_provider_down": 32,
        "minutes_no_data": 380,
        "minutes_no_sample": 372,
        "minutes_device_unreachable": 8,
        "minutes_outage": 28,
        "minutes_short_interruption": 4,
        "availability_pct": 100 * A_UP / (A_UP + A_OUT),
        "no_data_pct": 100 * 380 / 44_640,
        "outages_n": 1,
        "outage_total_s": 1_680,
        "outage_longest_s": 1_680,
        "mttr_s": 1_680.0,
        "short_interruptions_n": 1,
        "tests_n": 5,
        "down_median_mbps": 48.0,
        "down_median_pct": 96.0,
        "tests_ge_100_pct": 40.0,
        "tests_ge_80_pct": 60.0,
        "peak_tests_n": 2,
        "peak_down_median_mbps": 22.5,
        "up_tests_n": 5,
        "up_median_mbps": 30.0,
        "speed_80_mbps": 25.0,
        "speed_class": "ge95",
        "rtt_median_ms": 20.0,
        "rtt_over_threshold_hours_pct": 0.0,
        "loss_median_pct": 0.0,
        "loss_over_threshold_hours_pct": 100 * 124 / 738,  # peak hours of the 738 with data
        "rx_p95_mbps": 20.0,
        "utilisation_p95_pct": 40.0,
        "tx_p95_mbps": None,
        "clients_peak": 10,
        "clients_mean": (1_860 * 10 + 9_205 * 2) / 11_065,
        "fee_idr": 500_000,
        "deduction_pct": 0.0,
        "deduction_idr": 0,
        "net_payable_idr": 500_000,
        "idr_per_mbps": 500_000 / 48,
        "samples_received": 11_067,
        "samples_expected": 11_160,
        "coverage_pct": 100 * 11_067 / 11_160,
        "seq_gaps": 3,
        "seq_resets": 0,
        "unsynced_samples": 15,
    }
    assert {k: p[k] for k in expected} == pytest.approx(expected)


def test_point_installed_mid_month(report: dict[str, Any]) -> None:
    p = next(x for x in report["points"] if x["id"] == B)
    expected = {
        "active_days": 15.0,
        "minutes_active": 21_600,
        "minutes_up": 18_720,
        "minutes_outage": 2_880,
        "availability_pct": 100 * B_UP / (B_UP + B_OUT),
        "meets_target": False,
        "outages_n": 1,
        "outage_total_s": 172_800,
        "tests_n": 0,
        "down_median_mbps": None,
        "fee_idr": 241_935,
        "deduction_pct": 25.0,
        "deduction_idr": 60_484,
        "net_payable_idr": 181_451,
        "idr_per_mbps": None,
        "samples_received": 5_400,
        "samples_expected": 5_400,
        "coverage_pct": 100.0,
        "seq_gaps": 0,
        "rtt_median_ms": 30.0,
        "loss_over_threshold_hours_pct": 100 * 48 / 360,
        "rx_p95_mbps": 5.0,
        "clients_peak": 4,
        "clients_mean": 4.0,
    }
    assert {k: p[k] for k in expected} == pytest.approx(expected)


def test_groups_and_outage_list(report: dict[str, Any]) -> None:
    assert [k["id"] for k in report["kelurahan"]] == ["Citangkil", "Jombang Wetan"]
    assert [k["id"] for k in report["kecamatan"]] == ["Citangkil", "Jombang"]
    provider = report["providers"][0]
    expected = {
        "id": "Awinet",
        "points": 2,
        "minutes_active": 66_240,
        "availability_pct": 100 * (A_UP + B_UP) / (A_UP + B_UP + A_OUT + B_OUT),
        "points_meeting_target_n": 1,
        "outages_n": 2,
        "outage_total_s": 174_480,
        "outage_longest_s": 172_800,
        "mttr_s": 87_240.0,
        "points_tested": 1,
        "tests_n": 5,
        "speed_80_80_mbps": 25.0,
        "points_ge95_n": 1,
        "points_80to95_n": 0,
        "points_lt80_n": 0,
        "fee_idr": 741_935,
        "deduction_idr": 60_484,
        "net_payable_idr": 681_451,
        "idr_per_mbps": 500_000 / 48,
        "samples_received": 16_467,
        "samples_expected": 16_560,
        "seq_gaps": 3,
        "clients_peak": 10,
        "clients_mean": (1_860 * 10 + 9_205 * 2 + 5_400 * 4) / (11_065 + 5_400),
    }
    assert {k: provider[k] for k in expected} == pytest.approx(expected)
    assert report["total"]["availability_pct"] == provider["availability_pct"]
    assert report["outages"] == [
        {
            "point": A,
            "kelurahan": "Citangkil",
            "start": "2026-10-10T23:52:00+07:00",
            "end": "2026-10-11T00:20:00+07:00",
            "duration_s": 1_680,
            "continues_before": False,
            "continues_after": False,
        },
        {
            "point": B,
            "kelurahan": "Jombang Wetan",
            "start": "2026-10-18T00:00:00+07:00",
            "end": "2026-10-20T00:00:00+07:00",
            "duration_s": 172_800,
            "continues_before": False,
            "continues_after": False,
        },
    ]
