"""Event data has one type per name (shared/contract.py EVENT_DATA): the collector refuses
another, writes each name with its type, stores no other name; and every event the agent makes
fits the table, so no two kinds (a deferral, a result) disagree on a field InfluxDB types once."""

from __future__ import annotations

import ast
import json
from pathlib import Path
from typing import Any

import pytest

from pantau.agent.capacity.result import Measurement
from pantau.agent.capacity.retest import judge
from pantau.agent.capacity.schedule import Pending
from pantau.agent.capacity.worker import CapacityWorker
from pantau.agent.config import AgentConfig
from pantau.agent.sources.base import Reachability
from pantau.agent.sources.clock import RealClock
from pantau.collector.ingest import Accepted, Flag, Rejected, ingest
from pantau.shared.config import validate
from pantau.shared.contract import EVENT_DATA, ContractError, encode_event, event_datum
from pantau.shared.registry import Point
from pantau.shared.wire import Event, decode

ROOT = Path(__file__).resolve().parents[2]
NOW = 1_790_000_000_000
POINT = Point(id="cit-01", kelurahan="Citangkil", kecamatan="Citangkil", provider="Awinet")
TAGS = "kecamatan=Citangkil,kelurahan=Citangkil"


def run(kind: str, data: dict[str, Any]) -> Accepted | Rejected:
    body = {"v": 2, "point": "cit-01", "ts_ms": NOW, "kind": kind, "data": data}
    return ingest(
        "pantau/v1/cit-01/event", json.dumps(body).encode(), False, {"cit-01": POINT}, 2**20, NOW
    )


@pytest.mark.parametrize(
    ("name", "value", "typed"),
    [
        ("user_traffic_bps", 3_400_000, 3_400_000.0),  # an int where a float belongs: a float
        ("user_traffic_bps", 0.5, 0.5),
        ("streams", 4, 4),
        ("streams", 4.0, 4),  # an integral float where an int belongs: an int
        ("in_peak", False, False),
        ("method", "http", "http"),
        ("not_in_the_table", "x", None),
        ("streams", None, None),
    ],
)
def test_a_value_is_typed_as_the_contract_types_its_name(name: str, value: Any, typed: Any) -> None:
    got = event_datum(name, value)
    assert got == typed and type(got) is type(typed)


@pytest.mark.parametrize(
    ("name", "value", "reason"),
    [
        ("bytes", "0", "should be an integer, got a string"),
        ("streams", 1.5, "should be an integer, got a number with a fractional part"),
        ("streams", True, "should be an integer, got a boolean"),
        ("streams", 1e19, "is out of the 64-bit range"),
        ("duration_s", "10", "should be a number, got a string"),
        ("user_traffic_bps", True, "should be a number, got a boolean"),
        ("user_traffic_bps", 2**64, "is out of the 64-bit range"),
        ("in_peak", "yes", "should be a boolean, got a string"),
        ("in_peak", 1, "should be a boolean, got an integer"),
        ("server", 1, "should be a string, got an integer"),
        ("path", 2.5, "should be a string, got a number"),
    ],
)
def test_a_value_of_another_type_is_refused(name: str, value: Any, reason: str) -> None:
    with pytest.raises(ContractError, match=f"^{reason}$"):
        event_datum(name, value)
    result = run("capacity", {"down_mbps": 30.0, "method": "http", name: value})
    assert result == Rejected("invalid", f"capacity event data.{name} {reason}", "cit-01")


def test_each_name_is_written_with_its_type_and_other_names_are_left_out() -> None:
    data = {
        "down_mbps": 48,  # an int: still the float field it always is
        "up_mbps": None,
        "method": "iperf3",
        "streams": 4.0,
        "user_traffic_bps": 1_000_000,
        "in_peak": True,
        "shiny_new_field": "x",
        "another": 7,
    }
    result = run("capacity", data)
    assert isinstance(result, Accepted)
    assert result.flags == (
        Flag(
            "unknown_data",
            2,
            "capacity event data 'shiny_new_field', 'another' not in the contract, not stored",
        ),
    )
    assert result.lines == [
        f"event,{TAGS},kind=capacity,point=cit-01,provider=Awinet data_down_mbps=48,"
        'data_in_peak=true,data_method="iperf3",data_streams=4i,data_user_traffic_bps=1000000,'
        f'message="" {NOW}',
        f"capacity,direction=down,{TAGS},method=iperf3,point=cit-01,provider=Awinet"
        f" in_peak=true,mbps=48,streams=4i,user_traffic_bps=1000000 {NOW}",
    ]


def test_the_agent_writes_its_events_typed_by_the_contract() -> None:
    """An int where a float belongs goes out as a float, a value of another type as null; a
    name outside the table as it is (the collector leaves it out)."""
    data = {"user_traffic_bps": 3_400_000, "attempt": 1, "in_peak": "yes", "extra": 5}
    raw = encode_event("cit-01", NOW, "test_deferred", None, data)
    assert json.loads(raw)["data"] == {
        "user_traffic_bps": 3_400_000.0,
        "attempt": 1,
        "in_peak": None,
        "extra": 5,
    }
    assert b'"user_traffic_bps":3400000.0' in raw


def fits(data: dict[str, Any]) -> None:
    """Every name in the table, every value already of its type (nothing left to convert)."""
    assert set(data) <= set(EVENT_DATA), set(data) - set(EVENT_DATA)
    for name, value in data.items():
        if value is not None:
            typed = event_datum(name, value)
            assert type(typed) is type(value) and typed == value, (name, value)


def test_a_capacity_result_with_everything_it_can_say_fits_the_contract() -> None:
    m = Measurement(
        method="routeros_btest",
        server="10.199.7.2",
        streams=4,
        duration_s=10.0,
        down_mbps=48.2,
        up_mbps=19.7,
        rtt_ms=8.5,
        down_bytes=60_000_000,
        up_bytes=25_000_000,
        extra={
            "rtt_loaded_ms": 36.3,
            "retransmits": 4,
            "lost_packets": 2,
            "jitter_ms": 0.5,
            "loss_pct": 0.0,
        },
        errors=["up: refused"],
        server_busy=True,
    )
    m.note_load(3, 8, 91.5)
    data = m.data(user_traffic_bps=123_456.7, in_peak=True, trigger="retest")
    data |= judge(m, _retest_config(), 50.0).data()
    data |= {"retest": "awaiting", "retest_reason": "low,server_busy"}
    data |= {"retest_of_ms": NOW, "retest_outcome": "confirmed"}
    fits(data)
    assert isinstance(run("capacity", data), Accepted)


def _retest_config() -> Any:
    from pantau.agent.capacity.config import RetestConfig

    return RetestConfig(committed_mbps=50)


def test_every_extra_a_test_method_adds_is_in_the_contract() -> None:
    """The names the methods put in Measurement.extra, read from their code."""
    names = set()
    for path in (ROOT / "agent" / "capacity").glob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            if (
                isinstance(node, ast.Subscript)
                and isinstance(node.value, ast.Attribute)
                and node.value.attr == "extra"
                and isinstance(node.slice, ast.Constant)
            ):
                names.add(node.slice.value)
    assert names == {"rtt_loaded_ms", "retransmits", "lost_packets", "jitter_ms", "loss_pct"}
    assert names <= set(EVENT_DATA)


def test_every_event_the_agent_writes_by_name_is_in_the_contract() -> None:
    """The data names of every record_event call whose data is written in place (reboots,
    source errors, the spool's state, deferrals), read from the agent's code."""
    found: dict[str, set[str]] = {}
    for path in (ROOT / "agent").rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            if (
                isinstance(node, ast.Call)
                and isinstance(node.func, ast.Attribute)
                and node.func.attr == "record_event"
                and len(node.args) == 4
                and isinstance(node.args[0], ast.Constant)
            ):
                keys = {
                    key.value
                    for part in ast.walk(node.args[3])
                    if isinstance(part, ast.Dict)
                    for key in part.keys
                    if isinstance(key, ast.Constant)
                }
                found.setdefault(node.args[0].value, set()).update(keys)
    assert set(found) == {
        "reboot",
        "source_error",
        "source_recovered",
        "spool_state",
        "test_deferred",
        "capacity",
    }
    for kind, keys in found.items():
        assert keys <= set(EVENT_DATA), (kind, keys - set(EVENT_DATA))


class Link:
    """A busy WAN: the worker defers its test and records why."""

    def __init__(self) -> None:
        self.events: list[tuple[str, dict[str, Any]]] = []

    def record_event(self, kind: str, ts_ms: int, message: str | None, data: Any) -> None:
        self.events.append((kind, dict(data)))

    def wan_traffic_bps(self) -> float | None:
        return 3_400_000.4

    def offer_burst(self, burst: Reachability) -> None:
        pass


def test_a_deferral_fits_the_contract_and_agrees_with_a_result(tmp_path: Path) -> None:
    config = validate(
        {
            "state_dir": str(tmp_path / "state"),
            "points": [
                {
                    "id": "cit-01",
                    "source": {"kind": "linux", "wan_interface": "lo"},
                    "capacity": {
                        "method": {"kind": "http", "url": "http://127.0.0.1:9", "duration_s": 2},
                        "defer_above_bps": 2_000_000,
                        "schedule": {"first_after_s": 86_400, "peak_tests_per_day": 0},
                    },
                }
            ],
        },
        AgentConfig,
        "test",
    )
    link = Link()
    worker = CapacityWorker(config.points[0], config.state_dir, link, RealClock())
    worker.start()
    worker.stop()
    worker.join(5)
    worker.attempt(Pending("retest", 1e9, retest_of_ms=NOW))
    [(kind, data)] = link.events
    assert kind == "test_deferred" and data["reason"] == "user_traffic"
    assert data["user_traffic_bps"] == 3_400_000.0 and type(data["user_traffic_bps"]) is float
    fits(data)
    event = decode("event", encode_event("cit-01", NOW, kind, None, data), "cit-01")
    assert isinstance(event, Event) and event.data == data
