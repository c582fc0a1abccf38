from __future__ import annotations

import json

import pytest

from pantau.shared.errors import PayloadError
from pantau.shared.topics import parse_topic, subscriptions, telemetry_topic
from pantau.shared.wire import Receipt, Sample, Telemetry, decode, encode

S = {"ts_ms": 1_790_000_000_000, "seq": 1, "boot": "b", "interval_s": 10, "device_up": True}


def payload(**over: object) -> bytes:
    return json.dumps({"v": 1, "point": "citangkil-03", "samples": [S | over]}).encode()


def test_round_trip_omits_nulls() -> None:
    message = Telemetry(point="citangkil-03", samples=[Sample(**S, rx_bps=1.5)])
    raw = encode(message)
    assert b"null" not in raw and b"rx_bps" in raw and b"tx_bps" not in raw
    assert decode("telemetry", raw, "citangkil-03") == message


@pytest.mark.parametrize(
    ("raw", "reason"),
    [
        (b"[1, 2]", "invalid"),
        (b"{", "not_json"),
        (b"\xc3\x28", "not_utf8"),
        (payload(rx_bps=-1.0), "invalid"),
        (payload(loss_pct=101), "invalid"),
        (payload(ts_ms=1_000), "invalid"),
        (payload(seq="seven"), "invalid"),
        (payload(rx_bytes=2**64), "invalid"),
        (b'{"v": 1, "point": "citangkil-03", "samples": []}', "invalid"),
        (
            b'{"v": 3, "point": "citangkil-03", "samples": [' + json.dumps(S).encode() + b"]}",
            "invalid",
        ),
        (b"[" * 100_000 + b"]" * 100_000, "not_json"),
    ],
)
def test_refusals_carry_a_reason(raw: bytes, reason: str) -> None:
    with pytest.raises(PayloadError) as caught:
        decode("telemetry", raw, "citangkil-03")
    assert caught.value.reason == reason


def test_nan_and_infinity_are_refused() -> None:
    with pytest.raises(PayloadError):
        decode(
            "telemetry",
            payload().replace(b'"device_up": true', b'"device_up": true, "rtt_ms": NaN'),
            "citangkil-03",
        )


def test_point_must_match_topic() -> None:
    with pytest.raises(PayloadError) as caught:
        decode("telemetry", payload(), "other-01")
    assert caught.value.reason == "point_mismatch"


def test_oversize_is_refused_before_parsing() -> None:
    with pytest.raises(PayloadError) as caught:
        decode("telemetry", b"{" + b" " * 2000 + b"}", "citangkil-03", max_bytes=1000)
    assert caught.value.reason == "oversize"


def test_topics() -> None:
    assert telemetry_topic("citangkil-03") == "pantau/v1/citangkil-03/telemetry"
    assert parse_topic("pantau/v1/citangkil-03/state") == ("citangkil-03", "state")
    assert parse_topic("pantau/v1/a/b/telemetry") is None
    assert parse_topic("pantau/v2/x/telemetry") is None
    assert subscriptions("g")[0] == "$share/g/pantau/v1/+/telemetry"


def test_version_1_messages_of_older_agents_are_still_accepted() -> None:
    raw = b'{"v": 1, "point": "citangkil-03", "samples": [' + json.dumps(S).encode() + b"]}"
    message = decode("telemetry", raw, "citangkil-03")
    assert isinstance(message, Telemetry) and message.v == 1
    assert Telemetry(point="citangkil-03", samples=[Sample(**S)]).v == 2


def test_a_receipt_names_stored_and_refused_message_ids() -> None:
    raw = b'{"v":2,"point":"citangkil-03","stored":["b1:1","b1:2"],"refused":["b1:3"]}'
    receipt = decode("receipt", raw, "citangkil-03")
    assert isinstance(receipt, Receipt)
    assert receipt.stored == ["b1:1", "b1:2"] and receipt.refused == ["b1:3"]
    with pytest.raises(PayloadError) as caught:
        decode("receipt", raw, "citangkil-04")
    assert caught.value.reason == "point_mismatch"
    too_long = b'{"v":2,"point":"citangkil-03","stored":["' + b"x" * 65 + b'"]}'
    with pytest.raises(PayloadError) as caught:
        decode("receipt", too_long, "citangkil-03")
    assert caught.value.reason == "invalid"
