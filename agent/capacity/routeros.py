"""Capacity tests a MikroTik runs itself, through the API: `/tool/bandwidth-test` against a btest
server, or `/tool/speed-test` (RouterOS 7). The agent only asks and reads the answer.

Each test opens its own API session (the point's sampling session goes on undisturbed). The API
user needs the `test` policy, which RouterOS' `read` group has.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from librouteros.api import Api
from librouteros.exceptions import LibRouterosError, TrapError

from pantau.agent.capacity.parse import parse_bandwidth_test, parse_speed_test
from pantau.agent.capacity.result import Measurement
from pantau.agent.capacity.settings import btest_password, seconds_per_direction
from pantau.agent.sources.routeros import client
from pantau.agent.sources.routeros.parse import parse_ping
from pantau.agent.sources.routeros.settings import api_password
from pantau.agent.sources.routeros.source import describe, endpoint, tls_context
from pantau.shared.stats import median

if TYPE_CHECKING:
    from pantau.agent.capacity.config import BandwidthTestMethod, SpeedTestMethod
    from pantau.agent.sources.routeros.config import RouterOSSourceConfig

Rows = list[dict[str, Any]]


class RouterSession:
    """Opens an API session to the point's router for one job, within a time budget."""

    def __init__(self, router: RouterOSSourceConfig) -> None:
        self.router = router
        self._password = api_password(router)
        self._endpoint = endpoint(router)
        self._tls = tls_context(router)
        client.install_redaction()

    def run(self, budget_s: float, job: Callable[[Api], Any]) -> Any:
        deadline = client.Deadline()
        deadline.start(budget_s)
        api = client.open_api(
            self._endpoint, self._password.get_secret_value(), self._tls, deadline
        )
        try:
            return job(api)
        finally:
            api.close()


def ping_rtt_ms(api: Api, address: str, count: int = 5) -> float | None:
    """The router's idle round trip to the server, median of a few pings."""
    rows = list(api.rawCmd("/ping", f"=address={address}", f"=count={count}", "=interval=200ms"))
    rtts = parse_ping(rows, address).rtts_ms
    return round(median(rtts), 3) if rtts else None


class BandwidthTest:
    name = "routeros_btest"

    def __init__(self, cfg: BandwidthTestMethod, router: RouterOSSourceConfig) -> None:
        self.cfg = cfg
        self.server = cfg.server
        self.session = RouterSession(router)
        self._secret = btest_password(cfg)

    @property
    def seconds(self) -> float:
        return float(seconds_per_direction(self.cfg))  # both directions run at once

    @property
    def directions(self) -> int:
        return len(self.cfg.directions)

    def words(self) -> list[str]:
        cfg = self.cfg
        dirs = set(cfg.directions)
        direction = "both" if len(dirs) == 2 else ("receive" if "down" in dirs else "transmit")
        return [
            f"=address={cfg.server}",
            f"=user={cfg.user}",
            f"=password={self._secret}",
            f"=protocol={cfg.protocol}",
            f"=direction={direction}",
            f"=duration={seconds_per_direction(cfg)}s",
            f"=connection-count={cfg.streams}",
        ]

    def measure(self, max_bytes: int | None = None) -> Measurement:
        cfg = self.cfg
        result = Measurement(self.name, cfg.server, cfg.streams, float(cfg.duration_s))

        def job(api: Api) -> tuple[float | None, Rows]:
            rtt = ping_rtt_ms(api, cfg.server)
            return rtt, list(api.rawCmd("/tool/bandwidth-test", *self.words()))

        rows = _attempt(result, lambda: self.session.run(self.seconds + 20, job))
        if rows is None:
            return result
        result.rtt_ms, replies = rows
        try:
            found = parse_bandwidth_test(replies, cfg.omit_s)
        except ValueError as exc:
            result.errors.append(str(exc))
            return result
        for direction in cfg.directions:
            bps = found[f"{direction}_bps"]
            if bps is None:
                result.errors.append(f"{direction}: the router reported no rate")
                continue
            setattr(result, f"{direction}_mbps", round(bps / 1e6, 3))
            setattr(result, f"{direction}_bytes", int(bps * found["seconds"] / 8))
        if found["lost_packets"] is not None and cfg.protocol == "udp":
            result.extra["lost_packets"] = found["lost_packets"]
        return result


class SpeedTest:
    name = "routeros_speedtest"

    def __init__(self, cfg: SpeedTestMethod, router: RouterOSSourceConfig) -> None:
        self.cfg = cfg
        self.server = cfg.server
        self.session = RouterSession(router)
        self._secret = btest_password(cfg)

    @property
    def seconds(self) -> float:
        return float(self.cfg.duration_s * 4 + 10)  # ping phase, then four timed phases

    @property
    def directions(self) -> int:
        return 4  # TCP and UDP, down and up

    def words(self) -> list[str]:
        cfg = self.cfg
        return [
            f"=address={cfg.server}",
            f"=user={cfg.user}",
            f"=password={self._secret}",
            f"=test-duration={cfg.duration_s}",
            f"=connection-count={cfg.streams}",
        ]

    def measure(self, max_bytes: int | None = None) -> Measurement:
        cfg = self.cfg
        result = Measurement(self.name, cfg.server, cfg.streams, float(cfg.duration_s))
        replies = _attempt(
            result,
            lambda: self.session.run(
                self.seconds + 20, lambda api: list(api.rawCmd("/tool/speed-test", *self.words()))
            ),
        )
        if not replies:
            if replies is not None:
                result.errors.append("the router gave no answer")
            return result
        try:
            found = parse_speed_test(replies[-1])
        except (ValueError, KeyError) as exc:
            result.errors.append(str(exc))
            return result
        result.rtt_ms = found["rtt_ms"]
        result.extra["jitter_ms"] = found["jitter_ms"]
        result.extra["loss_pct"] = found["loss_pct"]
        for direction in ("down", "up"):
            bps = found[f"{direction}_bps"]
            if bps is not None:
                setattr(result, f"{direction}_mbps", round(bps / 1e6, 3))
            udp = found[f"udp_{direction}_bps"] or 0.0
            setattr(result, f"{direction}_bytes", int(((bps or 0.0) + udp) * cfg.duration_s / 8))
        return result


def _attempt(result: Measurement, call: Callable[[], Any]) -> Any:
    """Run the API job; a refusal or a broken session becomes the test's error, not a crash."""
    try:
        return call()
    except client.LoginRefusedError as exc:
        result.errors.append(str(exc))
    except TrapError as exc:
        result.errors.append(f"router refused the test: {exc}")
    except (OSError, LibRouterosError, EOFError) as exc:
        result.errors.append(describe(exc))
    return None
