"""InfluxDB, both dialects: writes through /write (1.x) or /api/v2/write (2.x, 3.x), reads in
InfluxQL through /query, which all three serve.

Whether a failed write is worth retrying is decided here, once: a 4xx (but 401, 403 and 429)
means the data itself was refused; anything else (5xx, timeouts, a refused connection, refused
credentials) means the server is away or not yet reachable as configured.
"""

from __future__ import annotations

import json
import logging
from typing import Any
from urllib.parse import urlencode

import urllib3

from pantau.collector.influxdb.config import InfluxConfig
from pantau.shared.errors import SinkError

log = logging.getLogger(__name__)

CHUNK_ROWS = 10_000  # rows per chunk of a query answer


class Influx:
    def __init__(self, config: InfluxConfig) -> None:
        self.config = config
        self._http = urllib3.PoolManager(
            num_pools=2,
            maxsize=4,
            timeout=urllib3.Timeout(connect=min(3.0, config.timeout_s), read=config.timeout_s),
            retries=False,
        )
        self._headers: dict[str, str] = {}
        self._query_params: dict[str, str] = {}
        self._v2_write = None
        if config.api == "v1":
            if config.username:
                secret = config.resolved_password()
                password = secret.get_secret_value() if secret else ""
                self._headers = urllib3.make_headers(basic_auth=f"{config.username}:{password}")
        else:
            token = config.resolved_token()
            if token is not None:
                self._headers = {"Authorization": f"Token {token.get_secret_value()}"}

    def close(self) -> None:
        self._http.clear()
        if self._v2_write is not None:
            self._v2_write[1].close()
            self._v2_write = None

    # -- writes --------------------------------------------------------------------------------
    def write(self, lines: list[str]) -> None:
        """Write line protocol (ms precision). Raises SinkError(retryable=...)."""
        if not lines:
            return
        if self.config.api == "v1":
            self._write_v1("\n".join(lines).encode())
        else:
            self._write_v2(lines)

    def _write_v1(self, body: bytes) -> None:
        params = {"db": self.config.database, "precision": "ms"}
        if self.config.retention_policy:
            params["rp"] = self.config.retention_policy
        url = f"{self.config.url.rstrip('/')}/write?{urlencode(params)}"
        try:
            response = self._http.request("POST", url, body=body, headers=self._headers)
        except urllib3.exceptions.HTTPError as exc:
            raise SinkError(unreachable(self.config.url, exc), retryable=True) from exc
        _check(response.status, response.data)

    def _write_v2(self, lines: list[str]) -> None:
        from influxdb_client import InfluxDBClient, WritePrecision
        from influxdb_client.client.write_api import SYNCHRONOUS
        from influxdb_client.rest import ApiException

        if self._v2_write is None:
            token = self.config.resolved_token()
            client = InfluxDBClient(
                url=self.config.url,
                token=token.get_secret_value() if token else "",
                org=self.config.org or "",
                timeout=int(self.config.timeout_s * 1000),
                retries=False,
            )
            self._v2_write = (client.write_api(write_options=SYNCHRONOUS), client)
        write_api = self._v2_write[0]
        try:
            write_api.write(
                bucket=self.config.bucket,
                org=self.config.org or "",
                record=lines,
                write_precision=WritePrecision.MS,
            )
        except ApiException as exc:
            _check(exc.status or 0, (exc.body or "").encode() if isinstance(exc.body, str) else b"")
        except (urllib3.exceptions.HTTPError, OSError) as exc:
            raise SinkError(unreachable(self.config.url, exc), retryable=True) from exc

    # -- reads ---------------------------------------------------------------------------------
    def query(self, influxql: str, database: str | None = None) -> list[dict[str, Any]]:
        """Run InfluxQL; return rows as dicts with 'time' in epoch ms and tags merged in."""
        results = self.query_raw(influxql, database)
        rows: list[dict[str, Any]] = []
        for result in results:
            if "error" in result:
                raise SinkError(f"InfluxQL error: {result['error']}", retryable=False)
            for series in result.get("series", []):
                tags = series.get("tags", {})
                columns = series["columns"]
                for values in series["values"]:
                    row = dict(zip(columns, values, strict=True))
                    row.update(tags)
                    row.setdefault("_measurement", series.get("name"))
                    rows.append(row)
        return rows

    def query_raw(self, influxql: str, database: str | None = None) -> list[dict[str, Any]]:
        """Run InfluxQL as a chunked query and return the whole answer, chunks joined.

        Chunked answers are never cut by a server's row limit, and each piece says whether more
        follows; an answer that ends while still announcing more raises instead of being used.
        """
        params = {
            "q": influxql,
            "db": database or self.config.database,
            "epoch": "ms",
            "chunked": "true",
            "chunk_size": str(CHUNK_ROWS),
        }
        if self.config.retention_policy:
            params["rp"] = self.config.retention_policy
        url = f"{self.config.url.rstrip('/')}/query"
        try:
            response = self._http.request(
                "POST", url, fields=params, headers=self._headers, encode_multipart=False
            )
        except urllib3.exceptions.HTTPError as exc:
            raise SinkError(unreachable(self.config.url, exc), retryable=True) from exc
        _check(response.status, response.data)
        return join_chunks(response.data or b"")

    def ensure_database(self) -> None:
        """1.x only: CREATE DATABASE is idempotent. 2.x/3.x buckets are made by their admins, and
        so is a 1.x database where authentication is on (the collector is no admin there)."""
        if self.config.api != "v1":
            return
        try:
            self.query_raw(f'CREATE DATABASE "{self.config.database}"')
        except SinkError as exc:
            if not self.config.username or "authoriz" not in str(exc):
                raise
            log.debug("not an InfluxDB admin: the database is the admin's to create")

    def ping(self) -> bool:
        try:
            response = self._http.request("GET", f"{self.config.url.rstrip('/')}/ping")
        except urllib3.exceptions.HTTPError:
            return False
        return response.status in (200, 204)


def join_chunks(body: bytes) -> list[dict[str, Any]]:
    """One answer from a chunked /query response (one JSON object per line; a server that
    ignores `chunked` sends one object, which is the same case with one line).

    A series flagged `partial` continues in the next chunk; a result flagged `partial` has more
    series to come. Whatever is still flagged when the body ends was cut short: that raises,
    because figures computed from part of the rows would be wrong without saying so.
    """
    results: dict[int, dict[str, Any]] = {}
    open_series: dict[int, dict[str, Any]] = {}  # statement -> series that continues
    cut: set[int] = set()
    for line in body.splitlines():
        if not line.strip():
            continue
        try:
            chunk = json.loads(line)
        except ValueError as exc:
            raise SinkError(f"InfluxDB sent an unreadable answer: {exc}", retryable=True) from exc
        if "error" in chunk and "results" not in chunk:
            raise SinkError(f"InfluxQL error: {chunk['error']}", retryable=False)
        for piece in chunk.get("results", []):
            statement = int(piece.get("statement_id", 0))
            result = results.setdefault(statement, {"statement_id": statement})
            if "error" in piece:
                result["error"] = piece["error"]
            for raw in piece.get("series", []):
                before = open_series.pop(statement, None)
                if before is not None and _same_series(before, raw):
                    before["values"].extend(raw.get("values", []))
                    merged = before
                else:
                    merged = {k: v for k, v in raw.items() if k != "partial"}
                    merged["values"] = list(raw.get("values", []))
                    result.setdefault("series", []).append(merged)
                if raw.get("partial"):
                    open_series[statement] = merged
            if piece.get("partial") or statement in open_series:
                cut.add(statement)
            else:
                cut.discard(statement)
    if cut:
        raise SinkError(
            f"InfluxDB ended its answer while announcing more rows (statement {min(cut)}):"
            " refusing a truncated answer",
            retryable=True,
        )
    return [results[k] for k in sorted(results)]


def _same_series(a: dict[str, Any], b: dict[str, Any]) -> bool:
    return a.get("name") == b.get("name") and a.get("tags") == b.get("tags")


def _check(status: int, body: bytes) -> None:
    if 200 <= status < 300:
        return
    text = body.decode("utf-8", "replace").strip().replace("\n", " ")[:300]
    # 401/403: the credentials, not the data, are wrong; the lines wait in the disk buffer
    retryable = status >= 500 or status in (0, 401, 403, 408, 429)
    raise SinkError(f"InfluxDB answered {status}: {text}", retryable=retryable)


def unreachable(url: str, exc: BaseException) -> str:
    """'InfluxDB http://10.10.0.5:8086 unreachable: connection refused (NewConnectionError)':
    the URL tried and the cause in words, not only the name of an exception."""
    return f"InfluxDB {url} unreachable: {_cause(exc)} ({type(exc).__name__})"


def _cause(exc: BaseException) -> str:
    """The operating system's words under urllib3's wrappers: 'connection refused', 'name or
    service not known', 'timed out'."""
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        if isinstance(current, TimeoutError) or type(current).__name__.endswith("TimeoutError"):
            return "no answer in time (timed out)"
        if isinstance(current, OSError) and current.strerror:
            return current.strerror.lower()
        reason = getattr(current, "reason", None)  # MaxRetryError carries the real one here
        current = (
            reason
            if isinstance(reason, BaseException)
            else current.__cause__ or current.__context__
        )
    return str(exc) or "no connection"
