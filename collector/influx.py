"""InfluxDB, both dialects: writes through /write (1.x) or /api/v2/write (2.x, 3.x), reads in
InfluxQL through /query, which all three serve.

Whether a failed write is worth retrying is decided here, once: a 4xx (but 429) means the data
itself was refused; anything else (5xx, timeouts, a refused connection) means the server is away.
"""

from __future__ import annotations

import json
import logging
from typing import Any
from urllib.parse import urlencode

import urllib3

from pantau.collector.config import InfluxConfig
from pantau.shared.errors import SinkError

log = logging.getLogger(__name__)


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
            raise SinkError(f"InfluxDB unreachable: {type(exc).__name__}", retryable=True) from exc
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
            raise SinkError(f"InfluxDB unreachable: {type(exc).__name__}", retryable=True) from exc

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
        params = {"q": influxql, "db": database or self.config.database, "epoch": "ms"}
        if self.config.retention_policy:
            params["rp"] = self.config.retention_policy
        url = f"{self.config.url.rstrip('/')}/query"
        try:
            response = self._http.request(
                "POST", url, fields=params, headers=self._headers, encode_multipart=False
            )
        except urllib3.exceptions.HTTPError as exc:
            raise SinkError(f"InfluxDB unreachable: {type(exc).__name__}", retryable=True) from exc
        _check(response.status, response.data)
        return json.loads(response.data or b"{}").get("results", [])

    def ensure_database(self) -> None:
        """1.x only: CREATE DATABASE is idempotent. 2.x/3.x buckets are made by their admins."""
        if self.config.api == "v1":
            self.query_raw(f'CREATE DATABASE "{self.config.database}"')

    def ping(self) -> bool:
        try:
            response = self._http.request("GET", f"{self.config.url.rstrip('/')}/ping")
        except urllib3.exceptions.HTTPError:
            return False
        return response.status in (200, 204)


def _check(status: int, body: bytes) -> None:
    if 200 <= status < 300:
        return
    text = body.decode("utf-8", "replace").strip().replace("\n", " ")[:300]
    retryable = status >= 500 or status in (0, 408, 429)
    raise SinkError(f"InfluxDB answered {status}: {text}", retryable=retryable)
