"""A RouterOS API session with librouteros, inside one poll's time budget.

librouteros bounds each socket call by a timeout, which a slow-dripping router could stretch
without end. Here every read and write is bounded by the poll's deadline instead, and reads are
buffered (librouteros asks for one length byte at a time). TLS covers CA verification,
certificate pinning and an explicit insecure mode.

A poll's commands go out together, each with its own `.tag`, and the replies are sorted by tag
as they come (the API's own way to run commands side by side): one round trip per poll instead
of one per path, which keeps hundreds of routers per agent cheap.
"""

from __future__ import annotations

import hashlib
import logging
import socket
import ssl
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from typing import Literal

from librouteros.api import Api
from librouteros.connections import SocketTransport
from librouteros.exceptions import ConnectionClosed, MultiTrapError, ProtocolError, TrapError
from librouteros.login import plain, token
from librouteros.protocol import (
    ApiProtocol,
    decode_length,
    determine_length,
    encode_sentence,
    parse_word,
)

from pantau.agent.sources.routeros import text


@dataclass(frozen=True)
class Endpoint:
    """Where the API listens and how to log in: the part of a router's settings a session needs
    (the settings module stays free of sockets and librouteros)."""

    host: str
    port: int
    username: str
    login: Literal["plain", "challenge"] = "plain"
    tls_name: str | None = None  # with TLS: the name sent and (verify=ca) checked
    pin_sha256: str | None = None  # with TLS: the certificate's pinned SHA-256, hex
    legacy_encoding: str = text.DEFAULT_LEGACY  # for words that are not UTF-8


class Deadline:
    """The monotonic instant a poll must be over by."""

    def __init__(self) -> None:
        self.until = time.monotonic()

    def start(self, budget_s: float) -> None:
        self.until = time.monotonic() + budget_s

    def remaining(self) -> float:
        left = self.until - time.monotonic()
        if left <= 0:
            raise TimeoutError("poll time budget used up")
        return left


RECV_BYTES = 16384  # one read's most; a poll's replies are a few KB
_scratch = threading.local()


def _receive_buffer() -> memoryview:
    """This thread's buffer for reading from a socket, made once: a fixed pool of sampling
    workers reads every router, so there are as many as workers. `sock.recv(n)` allocated n
    bytes each time and shrank them to what came: with hundreds of routers polled side by side
    those chunks scattered through the C heap, which grew by about 2 MB a minute at 500."""
    buffer = getattr(_scratch, "buffer", None)
    if buffer is None:
        buffer = _scratch.buffer = memoryview(bytearray(RECV_BYTES))
    return buffer


class DeadlineTransport(SocketTransport):
    """librouteros' socket transport, with every call bounded by the poll deadline."""

    def __init__(self, sock: socket.socket, deadline: Deadline) -> None:
        super().__init__(sock)
        self.deadline = deadline
        self._buffer = bytearray()

    def write(self, data: bytes) -> None:
        self.sock.settimeout(self.deadline.remaining())
        self.sock.sendall(data)

    def read(self, length: int) -> bytes:
        while len(self._buffer) < length:
            self.sock.settimeout(self.deadline.remaining())
            buffer = _receive_buffer()
            got = self.sock.recv_into(buffer)
            if not got:
                raise ConnectionClosed("Connection unexpectedly closed.")
            self._buffer += buffer[:got]
        data = bytes(self._buffer[:length])
        del self._buffer[:length]
        return data


class RouterOSProtocol(ApiProtocol):
    """librouteros' protocol, sending UTF-8 and reading each word through `text.decode`.

    librouteros decodes every word with one codec and drops what does not fit
    (`errors="ignore"`), so a router named in UTF-8 read as latin-1 comes out garbled, and one
    named in a Windows code page read as UTF-8 loses its letters.
    """

    def __init__(self, transport: SocketTransport, legacy: str = text.DEFAULT_LEGACY) -> None:
        super().__init__(transport, encoding=text.WIRE_ENCODING)
        self.legacy = legacy

    def readWord(self) -> str:  # noqa: N802 - librouteros' name
        first = self.transport.read(1)
        if first == b"\x00":
            return ""
        prefix = first + self.transport.read(determine_length(first))
        return text.decode(self.transport.read(decode_length(prefix)), self.legacy)


class LoginRefusedError(Exception):
    """The router refused the credentials; the message is the router's, never the password."""


class CertificateMismatchError(ssl.SSLError):
    """The router's certificate is not the pinned one."""


def ssl_context(verify_ca: bool, ca_file: str | None) -> ssl.SSLContext:
    """Chain and name checked against `ca_file` (system CAs when None), or nothing checked
    (a pinned certificate is checked after the handshake; insecure is the operator's choice)."""
    if verify_ca:
        context = ssl.create_default_context(cafile=ca_file)
    else:
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    return context


def open_api(
    endpoint: Endpoint,
    password: str,
    context: ssl.SSLContext | None,
    deadline: Deadline,
) -> Api:
    """Connect, wrap in TLS when given a context, log in. Raises OSError, ssl.SSLError,
    LoginRefusedError or a librouteros error; the socket is closed on any failure."""
    sock = socket.create_connection((endpoint.host, endpoint.port), timeout=deadline.remaining())
    try:
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        if context is not None:
            sock.settimeout(deadline.remaining())
            sock = context.wrap_socket(sock, server_hostname=endpoint.tls_name or endpoint.host)
            if endpoint.pin_sha256 is not None:
                _check_pin(sock, endpoint.pin_sha256)
        api = Api(RouterOSProtocol(DeadlineTransport(sock, deadline), endpoint.legacy_encoding))
        login = token if endpoint.login == "challenge" else plain
        try:
            login(api, endpoint.username, password)
        except TrapError as exc:
            raise LoginRefusedError(
                f"login refused for user {endpoint.username!r}: {exc}"
            ) from None
        return api
    except BaseException:
        sock.close()
        raise


Result = list[dict[str, object]] | TrapError | MultiTrapError


def exchange(
    api: Api, commands: Sequence[Sequence[str]], now: Callable[[], float]
) -> Iterator[tuple[int, Result, float]]:
    """Send all commands at once, tagged by position; yield (position, rows or trap, arrival
    time) as each one's `!done` arrives. Connection errors propagate to the caller."""
    protocol = api.protocol
    protocol.transport.write(
        b"".join(
            encode_sentence(*words, f".tag={i}", encoding=protocol.encoding)
            for i, words in enumerate(commands)
        )
    )
    rows: dict[int, list[dict[str, object]]] = {i: [] for i in range(len(commands))}
    traps: dict[int, list[TrapError]] = {}
    while rows:
        reply_word, words = protocol.readSentence()
        tag: int | None = None
        attributes: dict[str, object] = {}
        for word in words:
            if word.startswith(".tag="):
                tag = int(word[5:]) if word[5:].isdigit() else None
            elif word.startswith("="):
                key, value = parse_word(word)
                attributes[key] = value
        if tag not in rows:
            raise ProtocolError(f"{reply_word} for a tag never sent: {tag!r}")
        if reply_word == "!re":
            rows[tag].append(attributes)
        elif reply_word == "!trap":
            category = attributes.get("category")
            traps.setdefault(tag, []).append(
                TrapError(str(attributes.get("message", "")), category)  # type: ignore[arg-type]
            )
        elif reply_word == "!done":
            done = rows.pop(tag)
            if attributes:
                done.append(attributes)  # =ret= of count-only, as librouteros returns it
            failed = traps.pop(tag, [])
            if len(failed) == 1:
                yield tag, failed[0], now()
            elif failed:
                yield tag, MultiTrapError(*failed), now()
            else:
                yield tag, done, now()
        # `!empty` (RouterOS 7.18+) says a command has nothing to list; its `!done` follows.


def _check_pin(sock: ssl.SSLSocket, expected: str) -> None:
    der = sock.getpeercert(binary_form=True) or b""
    got = hashlib.sha256(der).hexdigest()
    if got != expected:
        raise CertificateMismatchError(
            f"router certificate SHA-256 {got} is not the pinned {expected}"
        )


class RedactSecrets(logging.Filter):
    """librouteros logs every word it sends at DEBUG, the login password included: blank it."""

    SECRET_WORDS = ("=password=", "=response=")

    def filter(self, record: logging.LogRecord) -> bool:
        text = str(record.msg)
        for marker in self.SECRET_WORDS:
            if marker in text:
                head = text.split(marker, 1)[0]
                record.msg = f"{head}{marker}<redacted>'"
                record.args = ()
        return True


def install_redaction() -> None:
    """Idempotent: add the filter to librouteros' logger once per process."""
    logger = logging.getLogger("librouteros")
    if not any(isinstance(f, RedactSecrets) for f in logger.filters):
        logger.addFilter(RedactSecrets())
