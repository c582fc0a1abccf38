"""Connection scale: thousands of agents, each on its own TLS connection with its own credential,
through the broker as `pantau broker config` makes it, `pantau collector` and influxd.

Every agent publishes one wire-v2 sample (shared/wire.py) every `--interval` seconds, asks for a
receipt (MQTT v5 Correlation Data) and keeps the sample until a collector names it, resending on
reconnect or after 60 s like the real agent. The agents are paho clients driven by an epoll loop
in a few processes (paho's own loop uses select(), blind to descriptors >= 1024), not `pantau
agent` processes. Prints broker RSS and CPU, collector CPU, publish-to-queryable latency (sampled
by polling InfluxDB for one sample at a time) and publish-to-receipt latency (every sample), and
lost: every seq of every point is counted in InfluxDB at the end. Last line: one JSON object.

    .venv/bin/python bench/broker_connections.py [--agents 5000] [--duration 600] [--quick]
"""

from __future__ import annotations

import argparse
import contextlib
import heapq
import json
import multiprocessing as mp
import random
import resource
import select
import signal
import statistics
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import psutil

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import paho.mqtt.client as paho  # noqa: E402
from paho.mqtt.enums import MQTTErrorCode  # noqa: E402
from paho.mqtt.packettypes import PacketTypes  # noqa: E402
from paho.mqtt.properties import Properties  # noqa: E402

from pantau.collector.lab import services  # noqa: E402
from pantau.collector.lab.secure_broker import SecureBroker, prepare_secure_broker  # noqa: E402
from pantau.shared import topics  # noqa: E402
from pantau.shared.mqtt_client import MqttConfig, TlsConfig, make_client  # noqa: E402
from pantau.shared.wire import Sample, Telemetry, encode  # noqa: E402
from tests.pipeline import collector_config, influx, registry_file, start_collector  # noqa: E402

RESEND_AFTER_S = 60.0  # the agent's receipt timeout: a sample without a receipt goes again
KEEPALIVE_S = 60
RECONNECTS_PER_PASS = 10  # per load-generator process and second
# Per agent: one TLS socket in the broker; in the load generator the socket and the socket
# pair paho makes for every connection to wake its own loop.
FDS_PER_AGENT = 3
FD_HEADROOM = 1024
HOST = "127.0.0.1"  # loopback only


@dataclass
class Job:
    """What one load-generator process runs: its share of the agents and the shared clock."""

    worker: int
    points: list[tuple[int, str]]  # (global index, point id)
    total_agents: int
    port: int
    ca_file: str
    bundles: str  # the PKI's issued/ folder: <point>/cert.pem, key.pem, password
    method: str
    interval_s: float
    duration_s: float
    drain_s: float  # after the last sample: how long to wait for every receipt
    boot: str


@dataclass
class Agent:
    """One simulated agent: a paho client, its next seq and the samples not yet receipted."""

    index: int
    point: str
    client: paho.Client
    seq: int = 0
    ready: bool = False
    retry_at: float = 0.0
    pending: dict[str, tuple[bytes, float, float]] = field(default_factory=dict)
    # msg id -> (payload, first publish wall time, last send monotonic)


class Swarm:
    """Many paho clients on one epoll: paho's external-loop socket callbacks keep the epoll
    registrations in step; TLS bytes already decrypted (`pending()`) are read before waiting."""

    def __init__(self, job: Job, counters: Any) -> None:
        self.job = job
        self.counters = counters  # shared: [ready, published, receipted] per worker
        self.epoll = select.epoll()
        self.by_fd: dict[int, Agent] = {}
        self.agents: list[Agent] = []
        self.latencies_ms: list[float] = []
        self.published: dict[str, int] = {}
        self.stats = {
            "connect_errors": 0,
            "connack_refused": 0,
            "subscribe_refused": 0,
            "disconnects": 0,
            "resent": 0,
            "refused": 0,
        }

    # -- clients -------------------------------------------------------------------------------
    def make_agent(self, index: int, point: str) -> Agent:
        bundle = Path(self.job.bundles) / point
        if self.job.method == "cert":
            tls = TlsConfig(
                ca_file=self.job.ca_file,
                cert_file=str(bundle / "cert.pem"),
                key_file=str(bundle / "key.pem"),
            )
            config = MqttConfig(host=HOST, port=self.job.port, tls=tls)
        else:
            config = MqttConfig(
                host=HOST,
                port=self.job.port,
                tls=TlsConfig(ca_file=self.job.ca_file),
                password_file=str(bundle / "password"),
            )
        client = make_client(config, f"pantau-agent-{point}", default_username=point)
        agent = Agent(index, point, client)
        client.user_data_set(agent)
        client.on_connect = self._on_connect
        client.on_subscribe = self._on_subscribe
        client.on_message = self._on_message
        client.on_disconnect = self._on_disconnect
        client.on_socket_open = self._on_socket_open
        client.on_socket_close = self._on_socket_close
        client.on_socket_register_write = self._on_register_write
        client.on_socket_unregister_write = self._on_unregister_write
        return agent

    def connect(self, agent: Agent) -> None:
        try:
            agent.client.connect(HOST, self.job.port, keepalive=KEEPALIVE_S)
        except OSError:  # ssl.SSLError is an OSError
            self.stats["connect_errors"] += 1
            agent.retry_at = time.monotonic() + 1 + random.random()

    def _on_socket_open(self, client: paho.Client, agent: Agent, sock: Any) -> None:
        fd = sock.fileno()
        self.by_fd[fd] = agent
        self.epoll.register(fd, select.EPOLLIN)

    def _on_socket_close(self, client: paho.Client, agent: Agent, sock: Any) -> None:
        fd = sock.fileno()
        if self.by_fd.get(fd) is agent:
            del self.by_fd[fd]
            with contextlib.suppress(OSError, ValueError):
                self.epoll.unregister(fd)

    def _on_register_write(self, client: paho.Client, agent: Agent, sock: Any) -> None:
        with contextlib.suppress(OSError, ValueError):
            self.epoll.modify(sock.fileno(), select.EPOLLIN | select.EPOLLOUT)

    def _on_unregister_write(self, client: paho.Client, agent: Agent, sock: Any) -> None:
        with contextlib.suppress(OSError, ValueError):
            self.epoll.modify(sock.fileno(), select.EPOLLIN)

    def _on_connect(self, client, agent: Agent, flags, reason_code, properties) -> None:  # type: ignore[no-untyped-def]
        if reason_code.is_failure:
            self.stats["connack_refused"] += 1
            return
        client.subscribe(topics.receipt_topic(agent.point), qos=1)

    def _on_subscribe(self, client, agent: Agent, mid, reason_codes, properties) -> None:  # type: ignore[no-untyped-def]
        if any(rc.is_failure for rc in reason_codes):
            self.stats["subscribe_refused"] += 1
        if not agent.ready:
            agent.ready = True
            self.counters[self.job.worker * 3] += 1
        for msg_id in list(agent.pending):  # whatever the last connection left unreceipted
            self._send(agent, msg_id)

    def _on_disconnect(self, client, agent: Agent, flags, reason_code, properties) -> None:  # type: ignore[no-untyped-def]
        if agent.ready:
            agent.ready = False
            self.counters[self.job.worker * 3] -= 1
        self.stats["disconnects"] += 1
        agent.retry_at = time.monotonic() + 1 + random.random()

    def _on_message(self, client, agent: Agent, message) -> None:  # type: ignore[no-untyped-def]
        now = time.time()
        receipt = json.loads(message.payload)
        for msg_id in receipt.get("stored", []):
            sent = agent.pending.pop(msg_id, None)
            if sent is not None:
                self.latencies_ms.append((now - sent[1]) * 1000)
                self.counters[self.job.worker * 3 + 2] += 1
        for msg_id in receipt.get("refused", []):
            if agent.pending.pop(msg_id, None) is not None:
                self.stats["refused"] += 1

    # -- samples -------------------------------------------------------------------------------
    def new_sample(self, agent: Agent) -> None:
        now = time.time()
        seq = agent.seq
        agent.seq += 1
        sample = Sample(
            ts_ms=int(now * 1000),
            seq=seq,
            boot=self.job.boot,
            interval_s=self.job.interval_s,
            device_up=True,
            uptime_s=1000.0 + seq * self.job.interval_s,
            rx_bytes=seq * 12_500_000,
            tx_bytes=seq * 2_500_000,
            rx_bps=10_000_000.0,
            tx_bps=2_000_000.0,
            link_up=True,
            wan_up=True,
            rtt_ms=12.5,
            loss_pct=0.0,
            clients_assoc=17,
            cpu_pct=7.0,
            mem_used_pct=40.0,
            clock_synced=True,
        )
        msg_id = f"{self.job.boot}-{seq:x}"
        payload = encode(Telemetry(point=agent.point, samples=[sample]))
        agent.pending[msg_id] = (payload, now, 0.0)
        self.published[agent.point] = agent.seq
        self.counters[self.job.worker * 3 + 1] += 1
        if agent.ready:
            self._send(agent, msg_id)

    def _send(self, agent: Agent, msg_id: str) -> None:
        payload, first, last = agent.pending[msg_id]
        if last:
            self.stats["resent"] += 1
        properties = Properties(PacketTypes.PUBLISH)
        properties.CorrelationData = msg_id.encode()
        agent.client.publish(
            topics.telemetry_topic(agent.point), payload, qos=1, properties=properties
        )
        agent.pending[msg_id] = (payload, first, time.monotonic())

    # -- the loop ------------------------------------------------------------------------------
    def poll(self, timeout_s: float) -> None:
        for fd, events in self.epoll.poll(max(0.0, timeout_s)):
            agent = self.by_fd.get(fd)
            if agent is None:
                continue
            client = agent.client
            if events & (select.EPOLLIN | select.EPOLLERR | select.EPOLLHUP):
                rc = client.loop_read()
                sock = client.socket()
                while rc == MQTTErrorCode.MQTT_ERR_SUCCESS and sock is not None:
                    if not (hasattr(sock, "pending") and sock.pending() > 0):
                        break
                    rc = client.loop_read()
                    sock = client.socket()
            if events & select.EPOLLOUT and client.socket() is not None:
                client.loop_write()

    def housekeeping(self, resend: bool) -> None:
        """Keepalives, reconnects after a drop, and samples whose receipt is overdue. A
        reconnect blocks for its TLS handshake, so only a few are made per pass: a wave of
        drops must not starve the agents still connected."""
        now = time.monotonic()
        reconnects = RECONNECTS_PER_PASS
        for agent in self.agents:
            client = agent.client
            if client.socket() is None:
                if now >= agent.retry_at and reconnects > 0:
                    reconnects -= 1
                    self._reconnect(agent)
                continue
            client.loop_misc()
            if resend and agent.ready:
                for msg_id, (_, _, last) in list(agent.pending.items()):
                    if last and now - last > RESEND_AFTER_S:
                        self._send(agent, msg_id)

    def _reconnect(self, agent: Agent) -> None:
        try:
            agent.client.reconnect()
        except OSError:
            self.stats["connect_errors"] += 1
            agent.retry_at = time.monotonic() + 2 + random.random()

    def waiting(self) -> int:
        return sum(len(a.pending) for a in self.agents)


def run_swarm(job: Job, counters: Any, start: Any, results: Any) -> None:
    """One load-generator process: connect every agent, wait for the common start, publish on
    schedule until the end, wait for the receipts, report."""
    swarm = Swarm(job, counters)
    last_pass = 0.0
    for n, (index, point) in enumerate(job.points):
        agent = swarm.make_agent(index, point)
        swarm.agents.append(agent)
        swarm.connect(agent)
        if n % 20 == 19:
            swarm.poll(0)
    while start.value == 0:
        swarm.poll(0.05)
        if time.monotonic() - last_pass > 1:
            swarm.housekeeping(resend=False)
            last_pass = time.monotonic()
    t0 = start.value
    end = t0 + job.duration_s
    schedule: list[tuple[float, int]] = []
    for n, agent in enumerate(swarm.agents):
        phase = agent.index / job.total_agents * job.interval_s
        heapq.heappush(schedule, (t0 + phase, n))
    lag_max = 0.0
    while True:
        now = time.time()
        while schedule and schedule[0][0] <= now:
            due, n = heapq.heappop(schedule)
            lag_max = max(lag_max, now - due)
            swarm.new_sample(swarm.agents[n])
            if due + job.interval_s < end:
                heapq.heappush(schedule, (due + job.interval_s, n))
        if not schedule and (swarm.waiting() == 0 or now > end + job.drain_s):
            break
        wait = min(0.05, schedule[0][0] - time.time()) if schedule else 0.05
        swarm.poll(wait)
        if time.monotonic() - last_pass > 1:
            swarm.housekeeping(resend=True)
            last_pass = time.monotonic()
    results.put(
        {
            "worker": job.worker,
            "published": swarm.published,
            "unreceipted": swarm.waiting(),
            "latencies_ms": swarm.latencies_ms,
            "schedule_lag_max_s": round(lag_max, 3),
            **swarm.stats,
        }
    )
    for agent in swarm.agents:
        with contextlib.suppress(Exception):
            agent.client.disconnect()
            agent.client.loop_write()


# -- the measuring side ----------------------------------------------------------------------------
class Usage:
    """CPU seconds and RSS of a process and its children, between two marks."""

    def __init__(self, pid: int) -> None:
        self.process = psutil.Process(pid)
        self.peak_rss = 0
        self._cpu0 = self.cpu()
        self._t0 = time.monotonic()

    def procs(self) -> list[psutil.Process]:
        with contextlib.suppress(psutil.Error):
            return [self.process, *self.process.children(recursive=True)]
        return []

    def cpu(self) -> float:
        total = 0.0
        for proc in self.procs():
            with contextlib.suppress(psutil.Error):
                times = proc.cpu_times()
                total += times.user + times.system
        return total

    def rss(self) -> int:
        total = 0
        for proc in self.procs():
            with contextlib.suppress(psutil.Error):
                total += proc.memory_info().rss
        self.peak_rss = max(self.peak_rss, total)
        return total

    def mark(self) -> None:
        self._cpu0, self._t0 = self.cpu(), time.monotonic()

    def cpu_pct(self) -> float:
        """Percent of one core since the last mark."""
        return 100 * (self.cpu() - self._cpu0) / max(1e-9, time.monotonic() - self._t0)


class Sampler(threading.Thread):
    """Publish-to-queryable latency: one sample at a time, chosen just before its agent's turn,
    polled for in InfluxDB until readable; its row's time is when it was published."""

    POLL_S = 0.05

    def __init__(self, url: str, database: str, points: list[str], interval_s: float) -> None:
        super().__init__(daemon=True)
        self.db = influx(url, database)
        self.points = points
        self.interval_s = interval_s
        self.t0 = 0.0
        self.end = 0.0
        self.latencies_ms: list[float] = []
        self.timeouts = 0
        self.stop = threading.Event()

    def run(self) -> None:
        n = len(self.points)
        while not self.stop.is_set():
            ahead = time.time() + 0.5
            if ahead >= self.end:
                return
            rounds, offset = divmod(ahead - self.t0, self.interval_s)
            index = int(offset / self.interval_s * n) + 1  # the next agent to publish
            seq = int(rounds) + index // n
            point = self.points[index % n]
            if self.t0 + seq * self.interval_s + (index % n) / n * self.interval_s >= self.end:
                return
            query = (
                f'SELECT "seq" FROM "telemetry" WHERE "point" = \'{point}\' AND "seq" = {seq}'
                " AND time > now() - 10m"
            )
            deadline = time.time() + 60
            while time.time() < deadline and not self.stop.is_set():
                rows = self.db.query(query)
                if rows:
                    self.latencies_ms.append(time.time() * 1000 - rows[0]["time"])
                    break
                time.sleep(self.POLL_S)
            else:
                self.timeouts += 1


def percentile(values: list[float], q: float) -> float | None:
    if not values:
        return None
    ordered = sorted(values)
    return round(ordered[min(len(ordered) - 1, int(q * len(ordered)))], 1)


def raise_fd_limit(needed: int) -> int:
    """Every process started from here (broker, collector, influxd, generators) inherits it."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft >= needed:
        return soft
    try:
        resource.setrlimit(resource.RLIMIT_NOFILE, (needed, max(hard, needed)))
    except (ValueError, OSError) as exc:
        raise SystemExit(
            f"--agents needs {needed} open files per process; the limit is {soft} (hard {hard})"
            f" and cannot be raised here ({exc}): run as root or raise it with ulimit -n"
        ) from None
    return needed


def count_stored(url: str, database: str) -> dict[str, tuple[int, int, int]]:
    """Per point: rows, smallest and largest seq."""
    rows = influx(url, database).query(
        'SELECT COUNT("seq") AS n, MIN("seq") AS lo, MAX("seq") AS hi FROM "telemetry"'
        ' GROUP BY "point"'
    )
    return {r["point"]: (int(r["n"]), int(r["lo"]), int(r["hi"])) for r in rows}


def lost_samples(published: dict[str, int], stored: dict[str, tuple[int, int, int]]) -> int:
    """Seq 0..n-1 of each point, each exactly once (a resend lands on the same row): a point
    with n rows spanning 0..n-1 holds every seq."""
    lost = 0
    for point, count in published.items():
        rows, lo, hi = stored.get(point, (0, 0, -1))
        if rows == count and lo == 0 and hi == count - 1:
            continue
        lost += max(1, count - rows)
    return lost


def mb(n: float) -> float:
    return round(n / 1e6, 1)


def _stop(signum: int, frame: object) -> None:
    raise SystemExit(f"stopped by signal {signum}")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--agents", type=int, default=5000, help="concurrent agent connections")
    parser.add_argument("--duration", type=float, default=600, help="seconds of publishing")
    parser.add_argument("--interval", type=float, default=10, help="seconds between samples")
    parser.add_argument("--processes", type=int, default=4, help="load-generator processes")
    parser.add_argument(
        "--method",
        choices=("cert", "password"),
        default="cert",
        help="per-agent client certificates (the default) or per-agent passwords, over TLS",
    )
    parser.add_argument("--workers", type=int, help="the collector's `workers` setting")
    parser.add_argument(
        "--drain",
        type=float,
        default=300,
        help="seconds after the last sample to wait for every receipt and row",
    )
    parser.add_argument("--quick", action="store_true", help="a smoke run: 200 agents, 40 s")
    args = parser.parse_args()
    if args.quick:
        args.agents, args.duration, args.processes = 200, 40.0, 2
    if args.agents < 1 or args.duration <= 0 or args.interval <= 0 or args.processes < 1:
        parser.error("--agents, --duration, --interval and --processes must be positive")
    args.processes = min(args.processes, args.agents)
    signal.signal(signal.SIGTERM, _stop)  # a stop still ends the broker, database, collector
    raise_fd_limit(max(args.agents, args.agents * FDS_PER_AGENT // args.processes) + FD_HEADROOM)
    work = Path(tempfile.mkdtemp(prefix="pantau-bench-conn-"))
    points = [f"bench-{i:05d}" for i in range(args.agents)]
    say = lambda text: print(text, file=sys.stderr, flush=True)  # noqa: E731

    started = time.perf_counter()
    registry = registry_file(work / "registry.yaml", points)
    secure: SecureBroker = prepare_secure_broker(work / "secure", registry)
    pki_s = time.perf_counter() - started
    say(f"issued {args.agents} agent identities (certificate and password) in {pki_s:.1f} s")
    secure.service.start(timeout_s=120)
    database = services.influxd(work / "influxd").start()
    collector = None
    generators: list[mp.process.BaseProcess] = []
    try:
        broker = Usage(secure.service.process.pid)  # type: ignore[union-attr]
        influxd_use = Usage(database.process.pid)  # type: ignore[union-attr]
        extra: dict[str, Any] = {"workers": args.workers} if args.workers else {}
        config = collector_config(
            work / "collector.yaml",
            secure.cert_port,
            database.url,
            "bench",
            registry,
            mqtt=secure.collector_mqtt() | {"client_id": "bench-collector"},
            **extra,
        )
        collector = start_collector(config, work / "collector.log")
        collector_use = Usage(collector.process.pid)  # type: ignore[union-attr]
        time.sleep(1)
        rss_idle = broker.rss()

        ctx = mp.get_context("fork")
        counters = ctx.Array("q", 3 * args.processes, lock=False)
        start = ctx.Value("d", 0.0, lock=False)
        results = ctx.Queue()
        port = secure.cert_port if args.method == "cert" else secure.password_port
        boot = f"bench-{int(time.time())}"
        for w in range(args.processes):
            job = Job(
                worker=w,
                points=[(i, p) for i, p in enumerate(points) if i % args.processes == w],
                total_agents=args.agents,
                port=port,
                ca_file=str(secure.pki.ca_cert_path),
                bundles=str(secure.pki.bundle_dir("x").parent),
                method=args.method,
                interval_s=args.interval,
                duration_s=args.duration,
                drain_s=args.drain,
                boot=boot,
            )
            proc = ctx.Process(target=run_swarm, args=(job, counters, start, results))
            proc.start()
            generators.append(proc)

        def ready() -> int:
            return sum(counters[3 * w] for w in range(args.processes))

        connect_started = time.perf_counter()
        deadline = connect_started + max(120, args.agents / 20)
        while ready() < args.agents and time.perf_counter() < deadline:
            if not all(g.is_alive() for g in generators):
                raise SystemExit("a load-generator process died while connecting")
            time.sleep(1)
            say(f"  {ready()}/{args.agents} agents connected and subscribed")
        connect_s = time.perf_counter() - connect_started
        connected = ready()
        if connected < args.agents:
            say(f"only {connected}/{args.agents} agents connected within {connect_s:.0f} s")
        rss_connected = broker.rss()
        generator_use = [Usage(g.pid) for g in generators if g.pid]  # type: ignore[arg-type]

        t0 = time.time() + 2
        sampler = Sampler(database.url, "bench", points, args.interval)
        sampler.t0, sampler.end = t0, t0 + args.duration
        start.value = t0
        # CPU is measured over the steady state: from the end of the first round of samples.
        while time.time() < t0 + args.interval:
            time.sleep(0.2)
        sampler.start()
        for use in (broker, collector_use, influxd_use, *generator_use):
            use.mark()
        next_report = time.time()
        connected_min = ready()
        while time.time() < t0 + args.duration - 1:
            time.sleep(1)
            connected_min = min(connected_min, ready())
            for use in (broker, collector_use, influxd_use):
                use.rss()
            if time.time() >= next_report:
                next_report += 30
                sent = sum(counters[3 * w + 1] for w in range(args.processes))
                done = sum(counters[3 * w + 2] for w in range(args.processes))
                say(
                    f"  t={time.time() - t0:5.0f}s connected {ready()} published {sent}"
                    f" receipted {done}; broker {mb(broker.rss())} MB"
                    f" {broker.cpu_pct():.1f}% CPU, collector {collector_use.cpu_pct():.1f}%"
                )
        steady = {
            "broker_cpu_pct": round(broker.cpu_pct(), 1),
            "collector_cpu_pct": round(collector_use.cpu_pct(), 1),
            "influxd_cpu_pct": round(influxd_use.cpu_pct(), 1),
            "generator_cpu_pct": round(sum(u.cpu_pct() for u in generator_use), 1),
        }
        sampler.stop.set()
        say("publishing done; waiting for the last receipts ...")
        reports = [results.get(timeout=args.drain + 120) for _ in generators]
        for proc in generators:
            proc.join(30)
        sampler.join(70)
        published: dict[str, int] = {}
        receipt_ms: list[float] = []
        totals: dict[str, int] = {}
        for report in reports:
            published.update(report["published"])
            receipt_ms += report["latencies_ms"]
            for key in (
                "connect_errors",
                "connack_refused",
                "subscribe_refused",
                "disconnects",
                "resent",
                "refused",
                "unreceipted",
            ):
                totals[key] = totals.get(key, 0) + report[key]
        total = sum(published.values())
        stored = count_stored(database.url, "bench")
        wait_until = time.monotonic() + args.drain
        while sum(n for n, _, _ in stored.values()) < total and time.monotonic() < wait_until:
            time.sleep(1)
            stored = count_stored(database.url, "bench")
        lost = lost_samples(published, stored)
        collector_log = (work / "collector.log").read_text(errors="replace")
        warnings = sum(1 for line in collector_log.splitlines() if " WARNING " in line)
        errors = sum(1 for line in collector_log.splitlines() if " ERROR " in line)
        per_connection = (rss_connected - rss_idle) / max(1, connected)
    finally:
        for proc in generators:
            if proc.is_alive():
                proc.kill()
        if collector is not None:
            collector.stop()
        secure.service.stop()
        database.stop()
    result = {
        "agents": args.agents,
        "connected": connected,
        "connected_min": connected_min,  # the fewest connected at once while publishing
        "method": f"tls+{args.method}",
        "interval_s": args.interval,
        "duration_s": args.duration,
        "processes": args.processes,
        "pki_issue_s": round(pki_s, 1),
        "connect_s": round(connect_s, 1),
        "published": total,
        "stored": sum(n for n, _, _ in stored.values()),
        "lost": lost,
        "msgs_per_s": round(args.agents / args.interval, 1),
        "broker_rss_mb_idle": mb(rss_idle),
        "broker_rss_mb_connected": mb(rss_connected),
        "broker_rss_mb_peak": mb(broker.peak_rss),
        "broker_kb_per_connection": round(per_connection / 1000, 1),
        "broker_connections_per_gb": round(1e9 / per_connection) if per_connection > 0 else None,
        **steady,
        "collector_rss_mb_peak": mb(collector_use.peak_rss),
        "stored_p50_ms": percentile(sampler.latencies_ms, 0.5),
        "stored_p99_ms": percentile(sampler.latencies_ms, 0.99),
        "stored_samples": len(sampler.latencies_ms),
        "stored_timeouts": sampler.timeouts,
        "receipt_p50_ms": percentile(receipt_ms, 0.5),
        "receipt_p99_ms": percentile(receipt_ms, 0.99),
        "receipt_mean_ms": round(statistics.fmean(receipt_ms), 1) if receipt_ms else None,
        **totals,
        "collector_warnings": warnings,
        "collector_errors": errors,
    }
    print(json.dumps(result))
    return 0 if lost == 0 and connected_min == args.agents else 1


if __name__ == "__main__":
    sys.exit(main())
