"""The agent's plain side of the wire contract against the collector's pydantic models: the same
verdict on every value and the same bytes for every message."""

from __future__ import annotations

import math
from typing import Any

import pytest
from pydantic import ValidationError

from pantau.shared.contract import (
    SAMPLE_FIELDS,
    ContractError,
    check,
    check_sample,
    decode_receipt,
    encode_event,
    encode_sample,
    encode_state,
)
from pantau.shared.errors import PayloadError
from pantau.shared.wire import Event, Receipt, Sample, State, encode

HEAD: dict[str, Any] = {"ts_ms": 1_790_000_000_000, "seq": 0, "boot": "b1", "interval_s": 10.0}
HEAD["device_up"] = True


def edges(name: str) -> list[Any]:
    """Values at, just inside and just outside every bound of a field, and odd types."""
    bound = SAMPLE_FIELDS[name]
    if bound.kind is bool:
        return [True, False, 0, 1, 1.0, 2]
    if bound.kind is str:
        return ["", "x", "x" * 64, "x" * 65, "é" * 64]
    values: list[Any] = [0, 1, 0.0, -0.0, 1.5, True, math.nan, math.inf, -math.inf]
    values += [1e-5, 2.5e-5, 1e-6, 1.5e-7, 5e-324, 0.1, 123.456, 1e15, 9.999e15]
    for limit in (bound.ge, bound.gt, bound.le, bound.lt):
        if limit is None:
            continue
        values += [
            limit,
            limit - 1,
            limit + 1,
            float(limit),
            math.nextafter(float(limit), math.inf),
        ]
        values += [math.nextafter(float(limit), -math.inf), -limit]
    return values


# The reasons the agent logs in the collector's words; others (an integer past 2**64 given as a
# float) are refused by both, in different words.
SAME_REASON = {"greater_than", "greater_than_equal", "less_than", "less_than_equal"}
SAME_REASON |= {"finite_number", "int_from_float", "string_too_short", "string_too_long"}

CASES = [(name, value) for name in SAMPLE_FIELDS for value in edges(name)]


def test_the_table_is_the_models_fields_in_order() -> None:
    assert list(SAMPLE_FIELDS) == list(Sample.model_fields)


@pytest.mark.parametrize(("name", "value"), CASES, ids=[f"{n}={v!r}" for n, v in CASES])
def test_same_verdict_and_bytes_as_the_model(name: str, value: Any) -> None:
    values = HEAD | {name: value}
    try:
        model = Sample(**values)
    except ValidationError as exc:
        error = exc.errors()[0]
        with pytest.raises(ContractError):
            check(value, SAMPLE_FIELDS[name])
        if name in ("ts_ms", "seq", "boot", "interval_s", "device_up"):
            with pytest.raises(ContractError, match=name):
                check_sample(values)
        else:
            sample, refused = check_sample(values)
            assert sample[name] is None
            assert list(refused) == [name] and refused[name][0] is value
            if error["type"] in SAME_REASON:
                assert refused[name][1] == error["msg"]
        return
    sample, refused = check_sample(values)
    assert refused == {}
    assert sample == model.model_dump()
    assert encode_sample(sample, 7) == encode(model.model_copy(update={"seq": 7}))


def test_a_full_sample_is_written_as_the_model_writes_it() -> None:
    values = HEAD | {
        "uptime_s": 3.2e9,
        "rx_bytes": 2**64 - 1,
        "tx_bytes": 0,
        "rx_bps": 1e11,
        "tx_bps": 0.000025,
        "link_up": False,
        "wan_up": True,
        "rtt_ms": 60_000,
        "loss_pct": 100,
        "jitter_ms": 1.5e-7,
        "clients_dhcp": 100_000,
        "cpu_pct": 7,
        "temp_c": -60,
        "clock_synced": True,
    }
    sample, refused = check_sample(values)
    assert refused == {}
    assert encode_sample(sample, 2**63 - 1) == encode(Sample(**values | {"seq": 2**63 - 1}))


@pytest.mark.parametrize(
    ("message", "data"),
    [
        (None, {}),
        ("device restarted (uptime 86400s -> 12s)", {"uptime_before_s": 86400.0, "n": 3}),
        ('é \x01 \x7f " \\ \u2028 / 日本', {"path": "/interface", "ok": True, "none": None}),
        ("x" * 500, {"k" * 200: "v" * 200, "f": 1e-6, "g": 2.5e-5, "big": 2**63}),
    ],
)
def test_events_are_written_as_the_model_writes_them(
    message: str | None, data: dict[str, Any]
) -> None:
    ts_ms = HEAD["ts_ms"]
    model = Event(point="citangkil-03", ts_ms=ts_ms, kind="reboot", message=message, data=data)
    assert encode_event("citangkil-03", ts_ms, "reboot", message, data) == encode(model)


def test_text_beyond_the_contract_is_shortened_not_refused() -> None:
    raw = encode_event("p-1", HEAD["ts_ms"], "source_error", "x" * 600, {"a": "y" * 300})
    event = Event.model_validate_json(raw)
    assert event.message == "x" * 499 + "…"
    assert event.data == {"a": "y" * 199 + "…"}


@pytest.mark.parametrize("online", [True, False])
def test_states_are_written_as_the_model_writes_them(online: bool) -> None:
    facts: dict[str, Any] = (
        {"model": "hAP ac²", "cores": 4, "ghz": 0.65, "x": None} if online else {}
    )
    fields: dict[str, Any] = {
        "ts_ms": HEAD["ts_ms"] if online else None,
        "agent_version": "0.1.0",
        "source": "routeros",
        "facts": facts,
        "spool": "ok" if online else None,
    }
    state = "online" if online else "offline"
    model = State(point="citangkil-03", state=state, boot="b1", **fields)
    assert encode_state("citangkil-03", state, "b1", **fields) == encode(model)


def test_receipts_read_as_the_model_reads_them() -> None:
    raw = encode(Receipt(point="p-1", stored=["a", "b" * 64], refused=["c"]))
    assert decode_receipt(raw, "p-1") == (["a", "b" * 64], ["c"])
    assert decode_receipt(b'{"v":2,"point":"p-1"}', "p-1") == ([], [])


@pytest.mark.parametrize(
    ("raw", "reason"),
    [
        (b'{"v":2,"point":"p-2","stored":["a"]}', "point_mismatch"),
        (b'{"v":1,"point":"p-1","stored":["a"]}', "invalid"),
        (b'{"v":2,"point":"p-1","stored":[""]}', "invalid"),
        (b'{"v":2,"point":"p-1","stored":["' + b"x" * 65 + b'"]}', "invalid"),
        (b'{"v":2,"point":"p-1","stored":"a"}', "invalid"),
        (b'{"v":2,"point":"p-1","stored":[1]}', "invalid"),
        (b'{"v":2,"point":"p-1","point":"p-1"}', "invalid"),
        (b'{"v":2,"point":"p-1","stored":[NaN]}', "not_json"),
        (b"[]", "invalid"),
        (b"{", "not_json"),
        (b"\xff", "not_utf8"),
    ],
)
def test_malformed_receipts_are_refused(raw: bytes, reason: str) -> None:
    with pytest.raises(PayloadError) as caught:
        decode_receipt(raw, "p-1")
    assert caught.value.reason == reason
