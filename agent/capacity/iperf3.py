"""iperf3 as the test client: one run per direction, parallel streams, slow start omitted.

iperf3 has no word for the server's load; with `load_url` the same server's HTTP endpoint is
asked after each direction (its /ping answers with it), so the result carries it as an HTTP
test's does."""

from __future__ import annotations

import http.client
import json
import logging
import random
import subprocess
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

from pantau.agent.capacity.parse import DirectionResult, iperf3_busy, parse_iperf3
from pantau.agent.capacity.result import Measurement
from pantau.agent.capacity.settings import seconds_per_direction
from pantau.agent.probes import icmp_rtts_ms
from pantau.shared.speedtest import contract
from pantau.shared.stats import median

if TYPE_CHECKING:
    from pantau.agent.capacity.config import Iperf3Method

log = logging.getLogger(__name__)


def iperf3_args(cfg: Iperf3Method, port: int, direction: str) -> list[str]:
    """The client command for one direction; `-R` makes the server send (download)."""
    args = [cfg.binary, "-c", cfg.host, "-p", str(port), "-J", "-P", str(cfg.streams)]
    args += ["-t", str(cfg.duration_s), "-O", str(cfg.omit_s), "--connect-timeout", "5000"]
    return args + (["-R"] if direction == "down" else [])


class Iperf3Test:
    name = "iperf3"

    def __init__(self, cfg: Iperf3Method, rng: random.Random | None = None) -> None:
        self.cfg = cfg
        self.server = cfg.host
        self.rng = rng or random.Random()

    @property
    def seconds(self) -> float:
        return float(seconds_per_direction(self.cfg) * len(self.cfg.directions))

    @property
    def directions(self) -> int:
        return len(self.cfg.directions)

    def measure(self, max_bytes: int | None = None) -> Measurement:
        cfg = self.cfg
        result = Measurement(self.name, cfg.host, cfg.streams, float(cfg.duration_s))
        rtts = icmp_rtts_ms(cfg.host, 5, 1.0)
        result.rtt_ms = round(median(rtts), 3) if rtts else None
        for direction in cfg.directions:
            got = self._direction(direction)
            setattr(result, f"{direction}_mbps", got.mbps)
            setattr(result, f"{direction}_bytes", got.bytes)
            if got.error:
                result.errors.append(f"{direction}: {got.error}")
            if direction == "up":
                result.extra["rtt_loaded_ms"] = got.rtt_loaded_ms
                result.extra["retransmits"] = got.retransmits
            if cfg.load_url:
                load = server_load(cfg.load_url)
                if load is not None:
                    result.note_load(load.active, load.cap, load.cpu_pct)
        return result

    def _direction(self, direction: str) -> DirectionResult:
        ports = list(self.cfg.ports)
        self.rng.shuffle(ports)
        last = DirectionResult(None, 0, error="no port tried")
        for port in ports:
            last = self._run(port, direction)
            if not iperf3_busy(last.error):
                return last
        return DirectionResult(None, last.bytes, error=f"every port busy ({len(ports)})")

    def _run(self, port: int, direction: str) -> DirectionResult:
        cfg = self.cfg
        args = iperf3_args(cfg, port, direction)
        try:
            done = subprocess.run(
                args, capture_output=True, text=True, timeout=seconds_per_direction(cfg) + 20
            )
        except FileNotFoundError:
            return DirectionResult(None, 0, error=f"{cfg.binary} is not installed")
        except subprocess.TimeoutExpired:
            return DirectionResult(None, 0, error="iperf3 did not finish in time")
        try:
            doc = json.loads(done.stdout)
        except json.JSONDecodeError:
            message = (done.stderr or done.stdout).strip().splitlines()
            return DirectionResult(None, 0, error=(message[-1] if message else "no output")[:160])
        if not isinstance(doc, dict):
            return DirectionResult(None, 0, error="unexpected iperf3 output")
        return parse_iperf3(doc)


def server_load(url: str) -> contract.ServerLoad | None:
    """The test server's load now, from its /ping answer; None when it cannot say."""
    base = urlsplit(url)
    conn = http.client.HTTPConnection(base.hostname or "", base.port or 80, timeout=5)
    try:
        conn.request("GET", contract.PING)
        response = conn.getresponse()
        response.read()
        return contract.parse_load(response.getheader(contract.LOAD_HEADER))
    except (OSError, http.client.HTTPException) as exc:
        log.debug("no load from %s: %s", url, exc)
        return None
    finally:
        conn.close()
