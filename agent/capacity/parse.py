"""Pure parsing and arithmetic of test results: iperf3's JSON, RouterOS' test replies, and the
rate of parallel HTTP streams. No I/O here, so every rule is checked against fixtures."""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from pantau.agent.sources.routeros.parse import parse_duration
from pantau.shared.stats import fmean

Mark = tuple[float, int]  # (monotonic seconds, bytes so far) of one stream


@dataclass(frozen=True)
class DirectionResult:
    """One direction of one test."""

    mbps: float | None
    bytes: int
    error: str | None = None
    rtt_loaded_ms: float | None = None
    retransmits: int | None = None


# --- iperf3 -------------------------------------------------------------------------------


def parse_iperf3(doc: Mapping[str, Any]) -> DirectionResult:
    """`iperf3 -J` output of one direction → its rate at the receiver (slow start omitted).

    The receiver's figure is what arrived; in `-R` (download) the receiver is this client, in
    upload it is the server, whose figures iperf3 fetches at the end. `bytes` adds every
    interval, the omitted ones too: that is the data the test cost."""
    moved = _interval_bytes(doc)
    error = doc.get("error")
    if error:
        return DirectionResult(None, moved, error=str(error))
    end = doc.get("end") or {}
    received = end.get("sum_received") or {}
    bps = received.get("bits_per_second")
    if not isinstance(bps, int | float) or received.get("seconds", 0) <= 0:
        return DirectionResult(None, moved, error="iperf3 reported no received data")
    rtts = [
        s["sender"]["mean_rtt"]
        for s in end.get("streams", [])
        if isinstance(s.get("sender"), dict) and s["sender"].get("mean_rtt")
    ]
    sent = end.get("sum_sent") or {}
    retransmits = sent.get("retransmits")
    return DirectionResult(
        mbps=round(bps / 1e6, 3),
        bytes=max(moved, int(received.get("bytes", 0))),
        rtt_loaded_ms=round(fmean(rtts) / 1000, 3) if rtts else None,
        retransmits=retransmits if isinstance(retransmits, int) else None,
    )


def _interval_bytes(doc: Mapping[str, Any]) -> int:
    total = 0
    for interval in doc.get("intervals") or []:
        value = (interval.get("sum") or {}).get("bytes", 0)
        if isinstance(value, int | float):
            total += int(value)
    return total


BUSY = "busy"


def iperf3_busy(error: str | None) -> bool:
    """The server is running someone else's test: try another port, or later."""
    return bool(error) and BUSY in str(error).lower()


# --- parallel HTTP streams ----------------------------------------------------------------


def bytes_at(marks: Sequence[Mark], t: float) -> float:
    """Bytes a stream had moved at time t, interpolated between its marks."""
    if not marks or t <= marks[0][0]:
        return float(marks[0][1]) if marks else 0.0
    if t >= marks[-1][0]:
        return float(marks[-1][1])
    lo, hi = 0, len(marks) - 1
    while hi - lo > 1:
        mid = (lo + hi) // 2
        if marks[mid][0] <= t:
            lo = mid
        else:
            hi = mid
    (t0, b0), (t1, b1) = marks[lo], marks[hi]
    return b0 + (b1 - b0) * (t - t0) / (t1 - t0) if t1 > t0 else float(b1)


def aggregate_rate(
    streams: Sequence[Sequence[Mark]],
    start: float,
    omit_s: float,
    deadline: float | None = None,
) -> float | None:
    """Bits per second of parallel streams together, slow start left out.

    The window opens `omit_s` after `start` (when the streams were started together) and closes
    at the deadline, or when the last stream ended if that was sooner: the bytes all streams
    moved inside it, over its length. A stream that ended early (or was starved) adds nothing
    after its end, and one that stalled past the deadline (a retransmit timeout) does not stretch
    the window for the others, so the figure is what the link carried in total, never a short
    lucky stretch nor a long unlucky one."""
    live = [m for m in streams if len(m) >= 2]
    if not live:
        return None
    opens = start + omit_s
    closes = max(m[-1][0] for m in live)
    if deadline is not None:
        closes = min(closes, deadline)
    if closes - opens <= 0:
        return None
    moved = sum(bytes_at(m, closes) - bytes_at(m, opens) for m in live)
    return moved * 8 / (closes - opens)


# --- RouterOS ------------------------------------------------------------------------------

_RATE = re.compile(r"^\s*([\d.]+)\s*([kKMGT]?)(?:bps|b/s)?\s*$")
_UNIT = {"": 1.0, "k": 1e3, "K": 1e3, "M": 1e6, "G": 1e9, "T": 1e12}


def parse_rate_bps(value: object) -> float:
    """RouterOS rates: `48234567` (the API's bits per second), `921Mbps`, `509.6kbps`."""
    text = str(value).strip().split(" ", 1)[0]
    match = _RATE.match(text)
    if not match:
        raise ValueError(f"not a rate: {value!r}")
    return float(match.group(1)) * _UNIT[match.group(2)]


def parse_bandwidth_test(rows: Sequence[Mapping[str, object]], omit_s: float) -> dict[str, Any]:
    """`/tool/bandwidth-test` replies (one a second) → down/up Mbps and seconds run.

    Download is what the router received (rx), upload what it sent (tx). RouterOS has no omit
    option, so the average of the per-second `*-current` rates after `omit_s` is taken; a test
    shorter than that falls back to the router's own `*-total-average`."""
    running = [r for r in rows if str(r.get("status", "")).startswith(("running", "done"))]
    if not running:
        statuses = sorted({str(r.get("status", "?")) for r in rows})
        raise ValueError(f"the test never ran (status {', '.join(statuses) or 'none'})")
    seconds = max(parse_duration(r.get("duration", "0s")) for r in running)
    out: dict[str, Any] = {"seconds": seconds}
    for name, key in (("down", "rx"), ("up", "tx")):
        current = [
            parse_rate_bps(r[f"{key}-current"])
            for r in running
            if f"{key}-current" in r and parse_duration(r.get("duration", "0s")) > omit_s
        ]
        if current:
            out[f"{name}_bps"] = fmean(current)
        elif f"{key}-total-average" in running[-1]:
            out[f"{name}_bps"] = parse_rate_bps(running[-1][f"{key}-total-average"])
        else:
            out[f"{name}_bps"] = None
    lost = running[-1].get("lost-packets")
    out["lost_packets"] = int(str(lost)) if lost is not None and str(lost).isdigit() else None
    return out


_TRIPLE = re.compile(r"^\s*(\S+)\s*/\s*(\S+)\s*/\s*(\S+)\s*$")
_LOSS = re.compile(r"^\s*([\d.]+)%")


def parse_speed_test(row: Mapping[str, object]) -> dict[str, Any]:
    """The last `/tool/speed-test` reply → down/up bits per second (TCP; UDP beside them),
    rtt, jitter and loss."""
    status = str(row.get("status", ""))
    if "done" not in status:
        raise ValueError(f"the speed test did not finish (status {status or 'none'})")
    out: dict[str, Any] = {}
    for name, key in (
        ("down", "tcp-download"),
        ("up", "tcp-upload"),
        ("udp_down", "udp-download"),
        ("udp_up", "udp-upload"),
    ):
        out[f"{name}_bps"] = parse_rate_bps(row[key]) if key in row else None
    for name, key in (("rtt_ms", "ping-min-avg-max"), ("jitter_ms", "jitter-min-avg-max")):
        match = _TRIPLE.match(str(row.get(key, "")))
        out[name] = round(parse_duration(match.group(2)) * 1000, 3) if match else None
    loss = _LOSS.match(str(row.get("loss", "")))
    out["loss_pct"] = float(loss.group(1)) if loss else None
    return out
