"""The per-message path each worker runs has fast paths for the common telemetry message; each is
held equal to the strict, general path it stands in for, on thousands of generated messages."""

from __future__ import annotations

import json

from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from pantau.collector import lines
from pantau.collector.config import LimitsConfig
from pantau.collector.influxdb.line_protocol import line
from pantau.collector.ingest import _absurd_values, _plausible, _time_problem
from pantau.shared import wire
from pantau.shared.errors import PayloadError
from pantau.shared.wire import Telemetry
from tests.payloads import NOW_MS, REGISTRY, SAMPLE, mutated, telemetry

POINT = "cit-01"
SAMPLE_JSON = '{"ts_ms":1790000000000,"seq":1,"boot":"b1","interval_s":10.0,"device_up":true}'


def strict(payload: bytes) -> Telemetry | str:
    """What the strict path alone makes of a payload: the message, or the reason it refuses."""
    try:
        data = wire._JSON.decode(payload.decode("utf-8"))
        return Telemetry.model_validate(data, strict=True)
    except PayloadError as exc:
        return exc.reason
    except (ValueError, RecursionError) as exc:
        return type(exc).__name__


@st.composite
def telemetry_payloads(draw: st.DrawFn) -> bytes:
    body = draw(mutated(draw(telemetry(POINT))))
    raw = json.dumps(body, ensure_ascii=draw(st.booleans())).encode("utf-8", "surrogatepass")
    how = draw(st.integers(min_value=0, max_value=5))
    if how == 0:  # a key given twice, somewhere
        key = draw(st.sampled_from([b'"seq":', b'"point":', b'"rx_bps":', b'"v":', b'"boot":']))
        raw = raw.replace(key, key + b"7," + key, 1)
    elif how == 1:  # a colon or an escaped one where only the parser sees it
        raw = raw.replace(b'"b1"', draw(st.sampled_from([b'"b:1"', b'"b\\u003a1"', b'"b\\":"'])))
    elif how == 2:  # a key the model ignores
        raw = raw.replace(b'"seq":', b'"later_field": {"x": 1}, "seq":', 1)
    return raw


@settings(max_examples=1500, suppress_health_check=[HealthCheck.too_slow])
@given(telemetry_payloads())
@example(f'{{"point":"{POINT}","samples":[{SAMPLE_JSON}],"point":"{POINT}"}}'.encode())
@example(f'{{"point":"{POINT}","samples":[{SAMPLE_JSON[:-1]},"seq":2}}]}}'.encode())
@example(f'{{"point":"{POINT}","samples":[{SAMPLE_JSON[:-1]},"x":"a:b"}}]}}'.encode())
def test_fast_telemetry_is_what_the_strict_path_makes(payload: bytes) -> None:
    fast = wire._telemetry_fast(payload)
    if fast is None:
        return  # the strict path decides, and says why
    assert strict(payload) == fast


@settings(max_examples=500)
@given(st.lists(SAMPLE, min_size=1, max_size=3), st.integers(min_value=0, max_value=5))
def test_telemetry_lines_are_the_general_lines(samples: list[dict], dropped: int) -> None:
    try:
        message = Telemetry(point=POINT, samples=samples, dropped=dropped)
    except ValueError:
        return
    point = REGISTRY[POINT]
    expected = []
    for index, sample in enumerate(message.samples):
        fields = lines._sample_fields(sample)
        if index == 0 and dropped:
            fields["spool_dropped"] = dropped
        expected.append(line(lines.TELEMETRY, point.tags(), fields, sample.ts_ms))
    assert lines.telemetry_lines(message, point) == expected


LIMITS = st.builds(
    LimitsConfig,
    max_future_s=st.sampled_from([0, 300, 0.5]),
    max_age_s=st.sampled_from([1, 86_400, 15 * 86_400, 0.25]),
    max_link_bps=st.sampled_from([1e6, 10e9, 1e11]),
    max_clients=st.sampled_from([1, 50, 5_000]),
)


@settings(max_examples=800)
@given(st.lists(SAMPLE, min_size=1, max_size=3), LIMITS, st.integers(-(10**9), 10**9))
def test_plausible_is_nothing_to_flag(samples: list[dict], limits: LimitsConfig, skew: int) -> None:
    try:
        message = Telemetry(point=POINT, samples=samples)
    except ValueError:
        return
    now = NOW_MS + skew
    flagged = any(
        _time_problem(s.ts_ms, now, limits) or _absurd_values(s, limits) for s in message.samples
    )
    assert _plausible(message.samples, now, limits) is not flagged
