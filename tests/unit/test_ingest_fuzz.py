"""Thousands of generated payloads through `ingest`: it never raises, every line it returns is
line protocol InfluxDB accepts with exactly the tags the registry gives, and a valid message
afterwards is still taken."""

from __future__ import annotations

import json
from collections import Counter

from hypothesis import HealthCheck, example, given, settings

from pantau.collector.ingest import Accepted, Rejected, ingest
from pantau.shared.wire import MAX_TS_MS, MIN_TS_MS, Sample, Telemetry, encode
from tests.payloads import NOW_MS, REGISTRY, messages, parse_line

MAX_BYTES = 1_048_576
BASE_TAGS = ("point", "kelurahan", "kecamatan", "provider")
EXTRA_TAGS = {
    "telemetry": (set(), set()),
    "state": (set(), set()),
    "event": ({"kind"}, {"subject"}),  # (always, optional)
    "capacity": ({"method", "direction"}, set()),
}
REASONS = {
    "unknown_topic",
    "unknown_point",
    "empty",
    "retained",
    "oversize",
    "not_utf8",
    "not_json",
    "invalid",
    "point_mismatch",
    "ts_future",
    "ts_too_old",
    "rate_above_link",
    "clients_above_ceiling",
    "counter_out_of_range",
}

FLAGS = {
    "ts_future",
    "ts_too_old",
    "rate_above_link",
    "clients_above_ceiling",
    "counter_out_of_range",
}
FLAG_ONLY = {"clients_above_ceiling", "counter_out_of_range"}  # values are nulled, never refused


def check_lines(result: Accepted) -> None:
    point = REGISTRY[result.point]
    for line in result.lines:
        measurement, tags, fields, stamp = parse_line(line)
        always, optional = EXTRA_TAGS[measurement]
        assert {k: tags[k] for k in BASE_TAGS} == point.tags(), line
        extra = set(tags) - set(BASE_TAGS)
        assert always <= extra <= always | optional, line
        assert fields, line
        assert MIN_TS_MS <= stamp <= MAX_TS_MS or stamp == NOW_MS, line


def _sample(seq: int, **extra: object) -> dict[str, object]:
    return {
        "ts_ms": NOW_MS - 60_000 + seq,
        "seq": seq,
        "boot": "b",
        "interval_s": 10,
        "device_up": True,
    } | extra


def _telemetry(*samples: dict[str, object]) -> bytes:
    return json.dumps({"v": 1, "point": "cit-02", "samples": list(samples)}).encode()


# Inputs the storm always includes, so that every refusal and every flag is met on every run,
# whatever the generator happens to draw; the generated thousands come on top of them.
RARE = [
    (
        "pantau/v1/cit-02/event",
        [
            json.dumps(
                {
                    "v": 1,
                    "point": "cit-02",
                    "ts_ms": NOW_MS - 60_000,
                    "kind": "capacity",
                    "data": {"down_mbps": 5e7},
                }
            ).encode()
        ],
        False,
    ),
    ("pantau/v1/cit-02/telemetry", [_telemetry(_sample(1, ts_ms=NOW_MS + 3_600_000))], False),
    ("pantau/v1/cit-02/telemetry", [_telemetry(_sample(1, ts_ms=NOW_MS - 40 * 86_400_000))], False),
    (
        "pantau/v1/cit-02/telemetry",
        [
            _telemetry(
                _sample(1),
                _sample(2, ts_ms=NOW_MS + 3_600_000),
                _sample(3, ts_ms=NOW_MS - 40 * 86_400_000),
                _sample(4, rx_bps=5e10),
                _sample(5, clients_dhcp=9000),
                _sample(6, rx_bytes=2**63 + 5),
            )
        ],
        False,
    ),
]


def test_ingest_survives_a_storm() -> None:
    seen: Counter[str] = Counter()

    @settings(
        max_examples=1000,
        derandomize=True,
        deadline=None,
        database=None,
        suppress_health_check=list(HealthCheck),
    )
    @given(messages())
    @example(RARE[0])
    @example(RARE[1])
    @example(RARE[2])
    @example(RARE[3])
    def storm(message: tuple[str, list[bytes], bool]) -> None:
        topic, payloads, retained = message
        for payload in payloads:
            result = ingest(topic, payload, retained, REGISTRY, MAX_BYTES, NOW_MS)
            seen["payloads"] += 1
            if isinstance(result, Accepted):
                check_lines(result)
                seen["accepted"] += 1
                seen["lines"] += len(result.lines)
                seen.update(f"flag:{flag.reason}" for flag in result.flags)
            else:
                assert isinstance(result, Rejected)
                assert result.reason in REASONS, result
                assert result.detail and len(result.detail) < 500 and "\n" not in result.detail
                seen[result.reason] += 1

    storm()
    # The storm reached every refusal and the accepting path, with partial refusals too.
    assert (
        seen["payloads"] == 4000 + sum(len(p) for _, p, _ in RARE)
        and seen["accepted"] > 100
        and seen["lines"] > 100
    ), seen
    assert {r for r in REASONS - FLAG_ONLY if seen[r] == 0} == set(), seen
    assert {r for r in FLAGS if seen[f"flag:{r}"] == 0} == set(), seen

    sample = Sample(ts_ms=NOW_MS, seq=7, boot="b1", interval_s=10, device_up=True, rx_bps=2.5e7)
    after = ingest(
        "pantau/v1/cit-02/telemetry",
        encode(Telemetry(point="cit-02", samples=[sample])),
        False,
        REGISTRY,
        MAX_BYTES,
        NOW_MS,
    )
    assert after == Accepted(
        point="cit-02",
        lines=[
            'telemetry,kecamatan=Citangkil\\,\\ Kota,kelurahan=Lebak\\ "Denok",'
            "point=cit-02,provider=PT\\ A\\=B\\ ü"
            f' boot="b1",device_up=true,interval_s=10,rx_bps=25000000,seq=7i {NOW_MS}'
        ],
        hours=frozenset({NOW_MS - NOW_MS % 3_600_000}),
        seqs=(("b1", 7),),
    )

