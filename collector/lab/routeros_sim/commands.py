"""What the simulated router answers to each API command.

A handler gets the router, the session and the request's words and returns a Reply: sentences
to send at once, or a stream that yields sentences over time (ping). Commands are found in
COMMANDS by their full word (`/ping`) or, for menus, by their last segment (`print`).
Capacity tests (`/tool/bandwidth-test`, `/tool/speed-test`) are meant to register here too.
"""

from __future__ import annotations

import asyncio
import hashlib
import secrets
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field

from pantau.agent.sources.routeros.parse import parse_duration
from pantau.collector.lab.routeros_sim.query import QueryError, compile_query
from pantau.collector.lab.routeros_sim.router import (
    TABLES,
    NoSuchPathError,
    PathTrapError,
    SimRouter,
    format_ping_time,
)

Sentence = list[str]
BAD_LOGIN = "invalid user name or password (6)"


@dataclass
class Session:
    """Per connection: logged in or not, and the challenge of an old-style login."""

    logged_in: bool = False
    challenge: str | None = None


@dataclass
class Reply:
    sentences: list[Sentence] = field(default_factory=list)
    stream: AsyncIterator[Sentence] | None = None
    close: bool = False  # a !fatal: the router closes the connection after it


@dataclass(frozen=True)
class Request:
    command: str
    attributes: dict[str, str]
    queries: list[str]


def parse_request(words: list[str]) -> Request:
    attributes: dict[str, str] = {}
    queries: list[str] = []
    for word in words[1:]:
        if word.startswith("="):
            key, _, value = word[1:].partition("=")
            attributes[key] = value
        elif word.startswith("?"):
            queries.append(word)
        # `.tag=` and other API words are the server's business
    return Request(command=words[0], attributes=attributes, queries=queries)


def trap(message: str, category: int | None = None) -> Reply:
    words = ["!trap"]
    if category is not None:
        words.append(f"=category={category}")
    words.append(f"=message={message}")
    return Reply([words, ["!done"]])


def fatal(reason: str) -> Reply:
    return Reply([["!fatal", reason]], close=True)


Handler = Callable[[SimRouter, Session, Request], Reply]
COMMANDS: dict[str, Handler] = {}
MENU_COMMANDS: dict[str, Handler] = {}
# Further ways a plain login may succeed (users added through the API, see admin.py)
LOGIN_CHECKS: list[Callable[[SimRouter, str, str], bool]] = []


def command(name: str) -> Callable[[Handler], Handler]:
    def add(handler: Handler) -> Handler:
        (MENU_COMMANDS if not name.startswith("/") else COMMANDS)[name] = handler
        return handler

    return add


def execute(router: SimRouter, session: Session, words: list[str]) -> Reply:
    request = parse_request(words)
    if request.command == "/login":
        return login(router, session, request)
    if not session.logged_in:
        return fatal("not logged in")
    if request.command == "/quit":
        return fatal("session terminated on request")
    handler = COMMANDS.get(request.command)
    if handler is not None:
        return handler(router, session, request)
    menu, _, verb = request.command.rpartition("/")
    if not _is_menu(router, menu):
        return trap("no such command prefix")
    handler = MENU_COMMANDS.get(verb)
    if handler is None or menu not in TABLES:
        return trap("no such command")
    return handler(router, session, request)


def _is_menu(router: SimRouter, menu: str) -> bool:
    if not menu or not router.has_path(menu):
        return False
    return any(path == menu or path.startswith(menu + "/") for path in TABLES)


def login(router: SimRouter, session: Session, request: Request) -> Reply:
    attrs = request.attributes
    if router.spec.login == "challenge":
        if "response" not in attrs:
            # Before 6.43 every /login without a response (a password too) gets a challenge.
            session.challenge = secrets.token_hex(16)
            return Reply([["!done", f"=ret={session.challenge}"]])
        if session.challenge is None:
            return trap("cannot log in")
        digest = hashlib.md5(
            b"\x00" + router.password.encode("latin-1") + bytes.fromhex(session.challenge),
            usedforsecurity=False,
        ).hexdigest()
        ok = attrs.get("name") == router.spec.username and attrs["response"] == "00" + digest
        session.challenge = None
        if not ok:
            return trap("cannot log in")
    else:
        ok = attrs.get("name") == router.spec.username and attrs.get("password") == router.password
        name, password = attrs.get("name", ""), attrs.get("password", "")
        ok = ok or any(check(router, name, password) for check in LOGIN_CHECKS)
        if not ok:
            return trap(BAD_LOGIN)
    session.logged_in = True
    router.logins += 1
    return Reply([["!done"]])


PRINT_FLAGS = {"count-only", "detail", "stats", "without-paging", "terse", "brief", ".proplist"}


@command("print")
def print_menu(router: SimRouter, session: Session, request: Request) -> Reply:
    menu = request.command.rpartition("/")[0]
    unknown = sorted(set(request.attributes) - PRINT_FLAGS)
    if unknown:
        return trap(f"unknown parameter {unknown[0]}")
    try:
        matches = compile_query(request.queries)
    except QueryError:
        return trap("invalid query", category=1)
    try:
        rows = router.table(menu)
    except NoSuchPathError:
        return trap("no such command prefix")
    except PathTrapError as exc:
        return trap(str(exc))
    if matches is not None:
        rows = [row for row in rows if matches(row)]
    if "count-only" in request.attributes:
        return Reply([["!done", f"=ret={len(rows)}"]])
    if not rows and router.dialect.empty_reply:
        return Reply([["!empty"], ["!done"]])
    keys = request.attributes.get(".proplist")
    wanted = [k for k in keys.split(",") if k] if keys is not None else None
    sentences = []
    for row in rows:
        items = row.items() if wanted is None else ((k, row[k]) for k in wanted if k in row)
        sentences.append(["!re", *(f"={k}={v}" for k, v in items)])
    sentences.append(["!done"])
    return Reply(sentences)


MENU_COMMANDS["getall"] = print_menu  # the API's old name for print

PING_PARAMETERS = {"address", "count", "interval", "size", "ttl", "src-address", "interface"}
PING_PARAMETERS |= {"routing-table", "vrf", "do-not-fragment", "arp-ping", "dscp"}
PING_OFFSETS_MS = (0.0, 0.3, -0.2, 0.1)  # round-trip variation by probe, so jitter is known
MAX_PROBES = 10_000


@command("/ping")
def ping(router: SimRouter, session: Session, request: Request) -> Reply:
    attrs = request.attributes
    unknown = sorted(set(attrs) - PING_PARAMETERS)
    if unknown:
        return trap(f"unknown parameter {unknown[0]}")
    address = attrs.get("address", "")
    if not address:
        return trap("missing value of argument address")
    try:
        count = int(attrs.get("count", MAX_PROBES))
        interval_s = parse_duration(attrs.get("interval", "1s"))
    except ValueError:
        return trap("value of count or interval is invalid")
    if not 0.01 <= interval_s <= 5 or count < 1:
        return trap("value of interval out of range (10ms..5s)")
    return Reply(stream=_ping_stream(router, address, min(count, MAX_PROBES), interval_s))


COMMANDS["/tool/ping"] = ping


def probe_rtt_ms(router: SimRouter, seq: int) -> float | None:
    """The round trip of probe `seq` while the WAN is up (None: this probe goes unanswered)."""
    script = router.spec.ping_script
    if script:
        return script[seq % len(script)]
    return round(router.spec.ping_rtt_ms + PING_OFFSETS_MS[seq % len(PING_OFFSETS_MS)], 3)


async def _ping_stream(
    router: SimRouter, address: str, count: int, interval_s: float
) -> AsyncIterator[Sentence]:
    style = router.dialect.ping_time
    loop = asyncio.get_running_loop()
    start = loop.time()
    received = 0
    rtts: list[float] = []
    for seq in range(count):
        sent_at = start + seq * interval_s
        scripted = probe_rtt_ms(router, seq)
        answered = router.wan_up and scripted is not None
        rtt = scripted or 0.0
        due = sent_at + (rtt / 1000 if answered else interval_s)
        await asyncio.sleep(max(0.0, due - loop.time()))
        words = ["!re", f"=seq={seq}", f"=host={address}"]
        if answered:
            received += 1
            rtts.append(rtt)
            words += [
                f"=size={router.dialect.ping['size']}",
                f"=ttl={router.dialect.ping['ttl']}",
                f"=time={format_ping_time(rtt, style)}",
            ]
        else:
            words += ["=status=timeout"]
        sent = seq + 1
        words += [f"=sent={sent}", f"=received={received}"]
        words += [f"=packet-loss={(sent - received) * 100 // sent}"]
        if rtts:
            avg = sum(rtts) / len(rtts)
            words += [
                f"=min-rtt={format_ping_time(min(rtts), style)}",
                f"=avg-rtt={format_ping_time(avg, style)}",
                f"=max-rtt={format_ping_time(max(rtts), style)}",
            ]
        yield words
        next_send = start + (seq + 1) * interval_s
        if seq + 1 < count:
            await asyncio.sleep(max(0.0, next_send - loop.time()))
    yield ["!done"]
