"""Capacity results as events and rows, ping bursts merged into samples, and the config."""

from __future__ import annotations

from pathlib import Path

import pytest

from pantau.agent.capacity.bursts import ping_args
from pantau.agent.capacity.config import BurstConfig, CapacityConfig, RetestConfig
from pantau.agent.capacity.iperf3 import iperf3_args
from pantau.agent.capacity.methods import build_method, priced_seconds
from pantau.agent.capacity.result import Measurement
from pantau.agent.config import AgentConfig
from pantau.agent.sources.base import Reachability
from pantau.agent.sources.reachability import merge_burst
from pantau.collector.lines import event_lines
from pantau.shared.config import load_config, validate
from pantau.shared.errors import ConfigError
from pantau.shared.registry import Point
from pantau.shared.wire import Event, decode, encode

ROOT = Path(__file__).parent.parent.parent
POINT = Point(id="citangkil-03", kelurahan="Citangkil", kecamatan="Citangkil", provider="Awinet")
TS = 1_790_000_000_000


def measurement() -> Measurement:
    return Measurement(
        method="iperf3",
        server="10.199.7.2",
        streams=4,
        duration_s=3.0,
        down_mbps=48.12345,
        up_mbps=19.5,
        rtt_ms=0.0612,
        down_bytes=24_000_000,
        up_bytes=9_000_000,
        extra={"rtt_loaded_ms": 36.3, "retransmits": 4},
    )


def test_event_data_names_every_field_the_report_needs() -> None:
    data = measurement().data(user_traffic_bps=123_456.7, in_peak=True, trigger="peak")
    assert data == {
        "down_mbps": 48.123,
        "up_mbps": 19.5,
        "rtt_ms": 0.061,
        "streams": 4,
        "duration_s": 3.0,
        "bytes": 33_000_000,
        "down_bytes": 24_000_000,
        "up_bytes": 9_000_000,
        "method": "iperf3",
        "server": "10.199.7.2",
        "user_traffic_bps": 123_457.0,
        "in_peak": True,
        "trigger": "peak",
        "rtt_loaded_ms": 36.3,
        "retransmits": 4,
    }


def test_capacity_event_becomes_one_row_per_direction() -> None:
    data = measurement().data(user_traffic_bps=1000.0, in_peak=False, trigger="random")
    event = Event(point="citangkil-03", ts_ms=TS, kind="capacity", data=data)
    wire = decode("event", encode(event), "citangkil-03")
    lines = event_lines(wire, POINT)  # type: ignore[arg-type]
    capacity = sorted(line for line in lines if line.startswith("capacity,"))
    tags = "kecamatan=Citangkil,kelurahan=Citangkil,method=iperf3,point=citangkil-03"

    def fields(mbps: str) -> str:  # written sorted by name
        return (
            f"bytes=33000000i,down_bytes=24000000i,duration_s=3,in_peak=false,mbps={mbps},"
            'retransmits=4i,rtt_loaded_ms=36.3,rtt_ms=0.061,server="10.199.7.2",streams=4i,'
            'trigger="random",up_bytes=9000000i,user_traffic_bps=1000'
        )

    assert capacity == [
        f"capacity,direction=down,{tags},provider=Awinet {fields('48.123')} {TS}",
        f"capacity,direction=up,{tags},provider=Awinet {fields('19.5')} {TS}",
    ]


def test_failed_test_is_an_event_without_capacity_rows() -> None:
    m = Measurement("http", "10.199.7.2:8080", 4, 3.0, errors=["down: cannot connect: refused"])
    data = m.data(None, False, "random")
    assert data["down_mbps"] is None and data["error"] == "down: cannot connect: refused"
    event = Event(point="citangkil-03", ts_ms=TS, kind="capacity", data=data)
    lines = event_lines(decode("event", encode(event), "citangkil-03"), POINT)  # type: ignore[arg-type]
    assert [line.split(",", 1)[0] for line in lines] == ["event"]
    assert 'data_error="down: cannot connect: refused"' in lines[0]


LIGHT = Reachability(wan_up=True, rtt_ms=12.0, loss_pct=0.0, jitter_ms=0.5)
BURST = Reachability(wan_up=True, rtt_ms=92.7, loss_pct=20.0, jitter_ms=0.02)


@pytest.mark.parametrize(
    ("light", "burst", "expected"),
    [
        (LIGHT, BURST, Reachability(True, 92.7, 20.0, 0.02)),
        (None, BURST, BURST),
        (Reachability(wan_up=False), BURST, Reachability(False, 92.7, 20.0, 0.02)),
        (LIGHT, Reachability(), LIGHT),  # a burst that could not run changes nothing
        (None, Reachability(), Reachability()),
        (
            Reachability(),
            Reachability(False, None, 100.0, None),
            Reachability(False, None, 100.0, None),
        ),
    ],
)
def test_merge_burst(
    light: Reachability | None, burst: Reachability, expected: Reachability
) -> None:
    assert merge_burst(light, burst) == expected


def test_command_lines() -> None:
    cfg = validate(
        {"method": {"kind": "iperf3", "host": "10.1.1.1", "duration_s": 3, "omit_s": 1}},
        CapacityConfig,
        "t",
    )
    down = iperf3_args(cfg.method, 5202, "down")  # type: ignore[arg-type]
    assert (
        " ".join(down) == "iperf3 -c 10.1.1.1 -p 5202 -J -P 4 -t 3 -O 1 --connect-timeout 5000 -R"
    )
    assert iperf3_args(cfg.method, 5201, "up")[-1] == "5000"  # type: ignore[arg-type]
    assert priced_seconds(cfg) == 8.0
    burst = validate({"target": "10.1.1.1", "size_bytes": 1972}, BurstConfig, "t")
    assert " ".join(ping_args(burst)) == "ping -n -c 20 -i 0.2 -s 1972 -W 1 10.1.1.1"


def test_example_with_capacity_loads() -> None:
    config = load_config(ROOT / "examples" / "agent-capacity.yaml", AgentConfig, env={})
    linux, router = config.points
    assert linux.capacity is not None and linux.capacity.method.kind == "iperf3"
    assert linux.capacity.schedule.mean_interval_h == 6
    retest = linux.capacity.retest
    assert (retest.enabled, retest.below_pct, retest.server_cpu_pct, retest.server_tests) == (
        True,
        80.0,
        80.0,
        None,
    )
    assert (retest.server, retest.delay_s) == ("speedtest2.pantau.example", 900.0)
    assert linux.capacity.committed_mbps == 50.0
    assert router.capacity is not None and router.capacity.retest == RetestConfig()
    assert router.capacity is not None and router.capacity.uplink == "citangkil-uplink-1"
    assert priced_seconds(router.capacity) == 24.0


BASE = {"id": "citangkil-03", "source": {"kind": "linux", "wan_interface": "eth0"}}


@pytest.mark.parametrize(
    ("capacity", "message"),
    [
        ({"method": {"kind": "ookla"}}, "field 'points.0.capacity.method' input tag 'ookla'"),
        (
            {"method": {"kind": "http", "url": "https://x"}},
            "field 'points.0.capacity.method.http.url' string should match pattern",
        ),
        (
            {"method": {"kind": "iperf3", "host": "x", "omit_s": 30}},
            "field 'points.0.capacity.method.iperf3.omit_s' input should be less than or equal",
        ),
        (
            {"method": {"kind": "iperf3", "host": "x"}, "schedule": {"timezone": "Mars/Base"}},
            "field 'points.0.capacity.schedule.timezone' value error, unknown time zone",
        ),
        (
            {
                "method": {"kind": "iperf3", "host": "x"},
                "schedule": {"min_interval_h": 5, "max_interval_h": 2},
            },
            "min_interval_h is larger than max_interval_h",
        ),
        (
            {"method": {"kind": "iperf3", "host": "x"}, "dayly_budget_mb": 5},
            "field 'points.0.capacity.dayly_budget_mb' is not a known setting (typo?)",
        ),
    ],
)
def test_bad_capacity_config_is_one_line(capacity: dict[str, object], message: str) -> None:
    with pytest.raises(ConfigError) as info:
        validate({"points": [BASE | {"capacity": capacity}]}, AgentConfig, "agent.yaml")
    text = str(info.value)
    assert "\n" not in text and text.startswith("agent.yaml: ")
    assert message in text


def test_bad_burst_config() -> None:
    with pytest.raises(ConfigError, match="a burst lasts longer than every_s"):
        validate(
            {"points": [BASE | {"bursts": {"target": "x", "count": 100, "every_s": 10}}]},
            AgentConfig,
            "agent.yaml",
        )


def test_routeros_method_needs_a_routeros_point() -> None:
    cfg = validate({"method": {"kind": "routeros_btest", "server": "x"}}, CapacityConfig, "t")
    with pytest.raises(ConfigError, match=r"citangkil-03: field 'capacity\.method\.kind'"):
        build_method("citangkil-03", cfg, BASE["source"])
