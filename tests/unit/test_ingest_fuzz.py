"""Thousands of generated payloads through `ingest`: it never raises, every line it returns is
line protocol InfluxDB accepts with exactly the tags the registry gives, and a valid message
afterwards is still taken; and the JSON is read strictly (NaN, duplicate keys, strings for
numbers, numbers for booleans are refused)."""

from __future__ import annotations

import json
from collections import Counter

from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

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


NUMBER_FIELDS = ("rx_bps", "tx_bps", "rtt_ms", "loss_pct", "uptime_s", "seq", "interval_s")
BOOL_FIELDS = ("device_up", "wan_up", "link_up", "clock_synced")
samples = st.fixed_dictionaries(
    {
        "seq": st.integers(min_value=0, max_value=10**9),
        "device_up": st.booleans(),
        "wan_up": st.booleans(),
        "link_up": st.booleans(),
        "clock_synced": st.booleans(),
        "rx_bps": st.floats(min_value=0, max_value=1e9),
        "tx_bps": st.floats(min_value=0, max_value=1e9),
        "rtt_ms": st.floats(min_value=0, max_value=5000),
        "loss_pct": st.floats(min_value=0, max_value=100),
        "uptime_s": st.integers(min_value=0, max_value=10**8),
    }
).map(lambda extra: _sample(0) | extra)


def _loosen(draw: st.DrawFn, body: dict[str, object]) -> tuple[str, str]:
    """The body as JSON with one rule of the contract broken; (text, expected reason)."""
    sample = body["samples"][0]  # type: ignore[index]
    rule = draw(st.sampled_from(["nan", "duplicate", "string_number", "number_bool"]))
    if rule == "nan":
        target = draw(st.sampled_from(["top", "sample", "known"]))
        literal = draw(st.sampled_from(["NaN", "Infinity", "-Infinity"]))
        name = draw(st.sampled_from(NUMBER_FIELDS)) if target == "known" else "x_new_field"
        holder = body if target == "top" else sample
        holder[name] = "@LITERAL@"  # type: ignore[index]
        return json.dumps(body).replace('"@LITERAL@"', literal), "not_json"
    if rule == "duplicate":
        name = draw(st.sampled_from(sorted(sample)))  # type: ignore[arg-type]
        text = json.dumps(body)
        at = text.index('"samples": [{') + len('"samples": [{')
        twice = json.dumps(name) + ": " + json.dumps(sample[name]) + ", "  # type: ignore[index]
        return text[:at] + twice + text[at:], "invalid"  # even the same value twice
    if rule == "string_number":
        name = draw(st.sampled_from(NUMBER_FIELDS))
        value = sample[name]  # type: ignore[index]
        sample[name] = draw(st.sampled_from([str(value), f"{float(value):e}", "5e6"]))  # type: ignore[index]
        return json.dumps(body), "invalid"
    name = draw(st.sampled_from(BOOL_FIELDS))
    sample[name] = int(bool(sample[name]))  # type: ignore[index]
    return json.dumps(body), "invalid"


@settings(max_examples=500, derandomize=True, deadline=None, database=None)
@given(st.data(), samples)
def test_the_wire_json_is_strict(data: st.DataObject, sample: dict[str, object]) -> None:
    """NaN and Infinity anywhere, a key twice, a string for a number, a number for a boolean:
    each refused, though the same message written properly is taken."""
    body = {"v": 1, "point": "cit-02", "samples": [sample]}
    proper = ingest(
        "pantau/v1/cit-02/telemetry", json.dumps(body).encode(), False, REGISTRY, MAX_BYTES, NOW_MS
    )
    assert isinstance(proper, Accepted), proper
    text, reason = _loosen(data.draw, json.loads(json.dumps(body)))
    result = ingest("pantau/v1/cit-02/telemetry", text.encode(), False, REGISTRY, MAX_BYTES, NOW_MS)
    assert isinstance(result, Rejected) and result.reason == reason, (text, result)
