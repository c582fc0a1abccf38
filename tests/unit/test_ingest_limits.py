"""What the collector believes: times it can place, values a real point can report."""

from __future__ import annotations

import json
from typing import Any

import pytest

from pantau.collector.config import LimitsConfig
from pantau.collector.ingest import Accepted, Flag, Rejected, ingest
from pantau.shared.registry import Point

NOW = 1_790_000_000_000
DAY = 86_400_000
REGISTRY = {
    "cit-01": Point(id="cit-01", kelurahan="Citangkil", kecamatan="Citangkil", provider="Awinet")
}
BASE = {"seq": 1, "boot": "b", "interval_s": 10, "device_up": True}


def sample(ts_ms: int = NOW, **over: Any) -> dict[str, Any]:
    return BASE | {"ts_ms": ts_ms} | over


def telemetry(*samples: dict[str, Any], dropped: int = 0) -> bytes:
    return json.dumps(
        {"v": 1, "point": "cit-01", "samples": list(samples), "dropped": dropped}
    ).encode()


def run(
    kind: str, payload: bytes, limits: LimitsConfig | None = None, retained: bool = False
) -> Accepted | Rejected:
    return ingest(
        f"pantau/v1/cit-01/{kind}",
        payload,
        retained,
        REGISTRY,
        1_048_576,
        NOW,
        limits or LimitsConfig(),
    )


@pytest.mark.parametrize(
    ("ts_ms", "reason"),
    [
        (NOW + 300_000, None),  # exactly 5 minutes ahead: a clock a little fast is fine
        (NOW + 300_001, "ts_future"),
        (NOW + DAY, "ts_future"),
        (NOW - 15 * DAY, None),  # exactly the spool horizon
        (NOW - 15 * DAY - 1, "ts_too_old"),
        (NOW - 400 * DAY, "ts_too_old"),
    ],
)
def test_a_lone_sample_outside_the_window_is_refused(ts_ms: int, reason: str | None) -> None:
    result = run("telemetry", telemetry(sample(ts_ms)))
    if reason is None:
        assert isinstance(result, Accepted) and len(result.lines) == 1 and result.flags == ()
    else:
        assert isinstance(result, Rejected) and result.reason == reason and result.point == "cit-01"
        assert result.detail.startswith("all 1 sample(s): sample seq 1 ")


def test_good_samples_of_a_batch_survive_the_bad_ones() -> None:
    batch = telemetry(
        sample(NOW - 20 * DAY, seq=1),
        sample(NOW - 10_000, seq=2),
        sample(NOW + DAY, seq=3),
        sample(NOW + 2 * DAY, seq=4),
        sample(NOW, seq=5),
    )
    result = run("telemetry", batch)
    assert isinstance(result, Accepted)
    assert [s for _, s in result.seqs] == [2, 5]
    assert [line.rsplit(" ", 1)[1] for line in result.lines] == [str(NOW - 10_000), str(NOW)]
    assert result.flags == (
        Flag("ts_future", 2, "sample seq 3 is 86400s ahead of the collector's clock"),
        Flag("ts_too_old", 1, "sample seq 1 is 20.0 days old"),
    )


@pytest.mark.parametrize(
    ("over", "nulled", "reason"),
    [
        ({"rx_bps": 10e9}, None, None),  # exactly the limit
        ({"rx_bps": 10e9 + 1}, "rx_bps", "rate_above_link"),
        ({"tx_bps": 9e10}, "tx_bps", "rate_above_link"),
        ({"clients_hotspot": 5000}, None, None),
        ({"clients_hotspot": 5001}, "clients_hotspot", "clients_above_ceiling"),
        ({"clients_assoc": 99_999}, "clients_assoc", "clients_above_ceiling"),
        ({"clients_dhcp": 6000}, "clients_dhcp", "clients_above_ceiling"),
        ({"rx_bytes": 2**63 - 1}, None, None),
        ({"rx_bytes": 2**63}, "rx_bytes", "counter_out_of_range"),
        ({"link_downs": 2**64 - 1}, "link_downs", "counter_out_of_range"),
    ],
)
def test_absurd_values_are_nulled_and_the_sample_kept(
    over: dict[str, Any], nulled: str | None, reason: str | None
) -> None:
    result = run("telemetry", telemetry(sample(wan_up=True, **over)))
    assert isinstance(result, Accepted)
    (line,) = result.lines
    field = next(iter(over))
    assert "wan_up=true" in line  # availability evidence stays
    if nulled is None:
        assert f"{field}=" in line and result.flags == ()
    else:
        assert f"{field}=" not in line
        assert [(f.reason, f.count) for f in result.flags] == [(reason, 1)]


def test_limits_are_per_collector() -> None:
    limits = LimitsConfig(max_link_bps=100e6, max_clients=50, max_future_s=0, max_age_s=60)
    result = run(
        "telemetry",
        telemetry(
            sample(NOW - 61_000, seq=1),
            sample(NOW, seq=2, rx_bps=101e6, tx_bps=99e6, clients_hotspot=51, clients_dhcp=50),
            sample(NOW + 1, seq=3),
        ),
        limits,
    )
    assert isinstance(result, Accepted)
    assert [s for _, s in result.seqs] == [2]
    assert {f.reason: f.count for f in result.flags} == {
        "ts_too_old": 1,
        "ts_future": 1,
        "rate_above_link": 1,
        "clients_above_ceiling": 1,
    }
    (line,) = result.lines
    assert "tx_bps=99000000" in line and "clients_dhcp=50i" in line
    assert "rx_bps" not in line and "clients_hotspot" not in line


@pytest.mark.parametrize(
    ("body", "reason"),
    [
        ({"ts_ms": NOW, "kind": "reboot"}, None),
        ({"ts_ms": NOW + DAY, "kind": "reboot"}, "ts_future"),
        ({"ts_ms": NOW - 16 * DAY, "kind": "reboot"}, "ts_too_old"),
        ({"ts_ms": NOW, "kind": "capacity", "data": {"down_mbps": 10_000}}, None),
        ({"ts_ms": NOW, "kind": "capacity", "data": {"down_mbps": 10_001}}, "rate_above_link"),
        ({"ts_ms": NOW, "kind": "capacity", "data": {"up_mbps": 1e9}}, "rate_above_link"),
        ({"ts_ms": NOW, "kind": "reboot", "data": {"n": 2**63 - 1}}, None),
        ({"ts_ms": NOW, "kind": "reboot", "data": {"n": 2**63}}, "invalid"),
        ({"ts_ms": NOW, "kind": "reboot", "data": {"n": -(2**63) - 1}}, "invalid"),
    ],
)
def test_events(body: dict[str, Any], reason: str | None) -> None:
    result = run("event", json.dumps({"v": 1, "point": "cit-01"} | body).encode())
    if reason is None:
        assert isinstance(result, Accepted) and result.lines
    else:
        assert isinstance(result, Rejected) and result.reason == reason


@pytest.mark.parametrize(
    ("ts_ms", "retained", "outcome"),
    [
        (NOW, False, "line"),
        (NOW + DAY, False, "ts_future"),
        (NOW - 30 * DAY, False, "ts_too_old"),
        (NOW - 30 * DAY, True, "no line"),  # a retained birth replayed on subscribe: old news
        (None, False, "line"),  # the Will carries no time: the collector's is used
    ],
)
def test_states(ts_ms: int | None, retained: bool, outcome: str) -> None:
    body: dict[str, Any] = {"v": 1, "point": "cit-01", "state": "online", "boot": "b"}
    if ts_ms is not None:
        body["ts_ms"] = ts_ms
    result = run("state", json.dumps(body).encode(), retained=retained)
    if outcome in ("line", "no line"):
        assert isinstance(result, Accepted)
        assert len(result.lines) == (1 if outcome == "line" else 0)
    else:
        assert isinstance(result, Rejected) and result.reason == outcome


def test_a_dropped_count_beyond_64_bits_is_refused() -> None:
    result = run("telemetry", telemetry(sample(), dropped=2**63))
    assert isinstance(result, Rejected) and result.reason == "invalid"
    ok = run("telemetry", telemetry(sample(), dropped=2**63 - 1))
    assert isinstance(ok, Accepted) and f"spool_dropped={2**63 - 1}i" in ok.lines[0]


def test_limits_config_is_checked() -> None:
    with pytest.raises(ValueError):
        LimitsConfig(max_clients=0)
    with pytest.raises(ValueError):
        LimitsConfig(max_link_bps=-1)


def test_retained_telemetry_and_events_and_empty_messages_are_refused() -> None:
    body = telemetry({"ts_ms": NOW, "seq": 1, "boot": "b", "interval_s": 10, "device_up": True})
    assert isinstance(run("telemetry", body), Accepted)
    retained = run("telemetry", body, retained=True)
    assert isinstance(retained, Rejected) and retained.reason == "retained"
    event = json.dumps({"v": 1, "point": "cit-01", "ts_ms": NOW, "kind": "reboot"}).encode()
    assert run("event", event, retained=True) == Rejected(
        "retained", "a retained event message is an old one replayed", "cit-01"
    )
    empty = run("telemetry", b"", retained=True)  # how a retained message is cleared
    assert isinstance(empty, Rejected) and empty.reason == "empty"
