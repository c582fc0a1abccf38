"""A RouterOS router read through the API: the connection, its backoff, and one poll.

One poll sends the commands of every entry of the table in paths.py at once and sorts the
replies by tag. An entry whose command fails (a `!trap`, an unreadable reply) costs only its own
fields and becomes one issue. A connection error or timeout in the middle of the replies leaves
the session out of step: it is dropped, whatever arrived is kept, and the next connection is
tried on a later poll after a backoff. While the router cannot be reached the reading says
`device_up=False`, which is not the same as an agent that is down.
"""

from __future__ import annotations

import contextlib
import logging
import socket
import ssl
from typing import TYPE_CHECKING

from librouteros.api import Api
from librouteros.exceptions import ConnectionClosed, FatalError, LibRouterosError, TrapError

from pantau.agent.sources.base import Reading, SourceIssue
from pantau.agent.sources.routeros import client, parse
from pantau.agent.sources.routeros.paths import PATHS, Command, Context, PathSpec, Reply, Stage
from pantau.agent.sources.routeros.settings import api_password, api_port
from pantau.shared.backoff import Backoff
from pantau.shared.logs import PointLogger

if TYPE_CHECKING:
    from pantau.agent.sources.clock import Clock
    from pantau.agent.sources.routeros.config import RouterOSSourceConfig

log = logging.getLogger(__name__)

Results = dict[int, Reply | Exception]  # by command position: replies, or the trap it got

# Anything that means the session can no longer be trusted to be in step.
CONNECTION_ERRORS = (OSError, LibRouterosError, EOFError, UnicodeError, ValueError)


class RouterOSSource:
    kind = "routeros"

    def __init__(self, point: str, config: RouterOSSourceConfig, clock: Clock) -> None:
        self.point = point
        self.config = config
        self.clock = clock
        self.log = PointLogger(log, point)
        self._password = api_password(config)  # config errors surface at start-up, not mid-run
        self._endpoint = endpoint(config)
        self._tls = tls_context(config)
        if config.tls is not None and config.tls.verify == "insecure":
            self.log.warning("api-ssl certificate of %s is not verified (insecure)", config.host)
        client.install_redaction()
        self._deadline = client.Deadline()
        self._api: Api | None = None
        self._ctx: Context | None = None
        self._connected_issues: list[SourceIssue] = []
        self._backoff = Backoff(config.reconnect_min_s, config.reconnect_max_s)
        self._retry_at = 0.0
        self._down: SourceIssue | None = None
        self.round_trips = 0  # batches of commands sent and answered; the benchmark reads them
        self.commands = 0

    @property
    def where(self) -> str:
        return f"{self.config.host}:{api_port(self.config)}"

    def read(self) -> Reading:
        self._deadline.start(self.config.timeout_s)
        reused = self._api is not None
        if not reused:
            now = self.clock.monotonic()
            if now < self._retry_at and self._down is not None:
                return Reading(device_up=False, at_s=now, issues=(self._down,))
            if not self._connect():
                return self._unreachable()
        reading = self._poll(reused)
        if reading is None:
            # The idle session had died (router rebooted, a NAT forgot it): one fresh try now.
            if not self._connect():
                return self._unreachable()
            reading = self._poll(reused=False)
        assert reading is not None
        return reading

    def close(self) -> None:
        self._drop()

    def _unreachable(self) -> Reading:
        issues = (self._down,) if self._down is not None else ()
        return Reading(device_up=False, at_s=self.clock.monotonic(), issues=issues)

    def _connect(self) -> bool:
        try:
            self._api = client.open_api(
                self._endpoint, self._password.get_secret_value(), self._tls, self._deadline
            )
        except client.LoginRefusedError as exc:
            self._fail(SourceIssue("login", str(exc)))
            return False
        except CONNECTION_ERRORS as exc:
            self._fail(SourceIssue("connection", f"{self.where}: {describe(exc)}"))
            return False
        self._ctx = None  # the connect stage of the next poll learns the router again
        self._backoff.reset()
        if self._down is not None:
            self.log.info("connected to %s again", self.where)
        self._down = None
        return True

    def _poll(self, reused: bool) -> Reading | None:
        """One poll; None when a reused session turned out dead before any answer."""
        fields: dict[str, object] = {}
        issues: list[SourceIssue] = []
        answered = False
        stages: list[Stage] = ["poll"]
        if self._ctx is None:
            self._ctx = Context(config=self.config)
            self._connected_issues = []
            stages = ["connect", "poll"]
        else:
            issues.extend(self._connected_issues)  # still true of this connection
        ctx = self._ctx
        for stage in stages:
            specs = [spec for spec in PATHS if spec.stage == stage]
            asked = [(spec, spec.ask(ctx)) for spec in specs]
            commands = [command for _, cmds in asked for command in cmds]
            results, error = self._exchange(commands)
            answered = answered or bool(results)
            if error is not None and reused and not answered and not _is_timeout(error):
                self._drop()
                return None
            found = self._read_specs(ctx, asked, results, fields)
            if stage == "connect":
                self._connected_issues = found
            issues.extend(found)
            if error is not None:
                lost = next(c.path for i, c in enumerate(commands) if i not in results)
                issue = SourceIssue(lost, f"{self.where}: {describe(error)}")
                self._fail(issue)
                issues.append(issue)
                break
        at_s = fields.pop("at_s", None)
        return Reading(
            device_up=answered,
            at_s=at_s if isinstance(at_s, float) else self.clock.monotonic(),
            facts=dict(ctx.facts),
            issues=tuple(issues),
            **fields,  # type: ignore[arg-type]
        )

    def _exchange(self, commands: list[Command]) -> tuple[Results, Exception | None]:
        """Send the commands, collect what comes back; the error that ended it, if any."""
        results: Results = {}
        if not commands:
            return results, None
        assert self._api is not None
        self.round_trips += 1
        self.commands += len(commands)
        try:
            for index, result, at_s in client.exchange(
                self._api, [c.words for c in commands], self.clock.monotonic
            ):
                results[index] = Reply(result, at_s) if isinstance(result, list) else result
        except CONNECTION_ERRORS as exc:
            return results, exc
        return results, None

    def _read_specs(
        self,
        ctx: Context,
        asked: list[tuple[PathSpec, list[Command]]],
        results: Results,
        fields: dict[str, object],
    ) -> list[SourceIssue]:
        """Hand each entry its replies; an entry with a trap or a missing reply yields nothing."""
        issues: list[SourceIssue] = []
        index = 0
        for spec, commands in asked:
            mine = list(range(index, index + len(commands)))
            index += len(commands)
            if any(i not in results for i in mine):
                continue  # cut off with the connection; reported once by the caller
            replies = [results[i] for i in mine]
            trapped = [(c, r) for c, r in zip(commands, replies, strict=True)
                       if not isinstance(r, Reply)]  # fmt: skip
            if trapped:
                command, trap = trapped[0]
                issues.append(SourceIssue(command.path, str(trap)))
                continue
            try:
                fields.update(spec.read(ctx, replies))  # type: ignore[arg-type]
            except parse.NotFoundError as exc:
                issues.append(SourceIssue(spec.path, str(exc)))
            except ValueError as exc:
                issues.append(SourceIssue(spec.path, f"unreadable reply: {exc}"))
        return issues

    def _fail(self, issue: SourceIssue) -> None:
        """Drop the session and wait before the next try; log a new kind of failure once."""
        if self._down is None or self._down.message != issue.message:
            self.log.warning("%s: %s", issue.path, issue.message)
        self._down = issue
        self._drop()
        self._retry_at = self.clock.monotonic() + self._backoff.next_delay()

    def _drop(self) -> None:
        api, self._api, self._ctx = self._api, None, None
        if api is not None:
            with contextlib.suppress(OSError):
                api.close()


def endpoint(config: RouterOSSourceConfig) -> client.Endpoint:
    """What an API session needs from the router's settings."""
    tls = config.tls
    return client.Endpoint(
        host=config.host,
        port=api_port(config),
        username=config.username,
        login=config.login,
        legacy_encoding=config.legacy_encoding,
        tls_name=None if tls is None else tls.server_name or config.host,
        pin_sha256=tls.fingerprint_sha256
        if tls is not None and tls.verify == "fingerprint"
        else None,
    )


def tls_context(config: RouterOSSourceConfig) -> ssl.SSLContext | None:
    """The api-ssl context the settings ask for; None for plain TCP."""
    tls = config.tls
    return None if tls is None else client.ssl_context(tls.verify == "ca", tls.ca_file)


def _is_timeout(exc: BaseException) -> bool:
    return isinstance(exc, socket.timeout | TimeoutError)


def describe(exc: BaseException) -> str:
    """One line for an operator: what went wrong, without a traceback."""
    if _is_timeout(exc):
        return "timed out (no answer within the poll's time budget)"
    if isinstance(exc, ConnectionRefusedError):
        return "connection refused (API service off, or wrong port)"
    if isinstance(exc, client.CertificateMismatchError):
        return f"TLS: {exc.args[0]}"
    if isinstance(exc, ssl.SSLCertVerificationError):
        return f"TLS: certificate not trusted: {exc.verify_message}"
    if isinstance(exc, ssl.SSLError):
        return f"TLS: {exc.reason or exc}"
    if isinstance(exc, FatalError):
        return f"router closed the session: {exc}"
    if isinstance(exc, ConnectionClosed):
        return "connection closed by the router"
    if isinstance(exc, TrapError):
        return f"router refused: {exc}"
    if isinstance(exc, OSError):
        return exc.strerror or type(exc).__name__
    return f"{type(exc).__name__}: {exc}"
