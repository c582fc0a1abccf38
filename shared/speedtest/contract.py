"""The HTTP speed-test endpoint's contract, shared by the agent's client and the NOC's server.

GET  /download?bytes=N  N bytes (at most the server's cap), for the client to time as they
                        arrive
POST /upload            a (chunked) body, read and thrown away; answers JSON
                        {"bytes": N, "marks": [[t, bytes so far], ...]} on the server's clock
GET  /ping              a tiny answer, to see the endpoint is up

A server with a tokens file wants `Authorization: Bearer <token>` on /download and /upload (401
without a token it knows), and caps each client (a token's name, else its address): streams at
once, its rate, and its bytes a day (429 with Retry-After once over).

The server runs at most a set number of tests at once (`--max-tests`). A test names itself in
the TEST_HEADER of each of its streams (a new id per test), so its streams and its second
direction come in under the one slot; a test that finds every slot taken is refused with 503
and Retry-After, never slowed down. Every answer of /download and /ping carries the server's
load at that moment in LOAD_HEADER, and /upload's JSON under UPLOAD_LOAD: tests running (this
one included), the cap, and the host's CPU use over the last second. A client judges with it
whether the server, rather than the link, may have held its result down.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

DOWNLOAD = "/download"
UPLOAD = "/upload"
PING = "/ping"
BYTES_PARAM = "bytes"  # query parameter of DOWNLOAD: how many bytes to send
UPLOAD_BYTES = "bytes"  # keys of UPLOAD's JSON answer
UPLOAD_MARKS = "marks"
UPLOAD_LOAD = "load"  # the server's load when the upload ended: ServerLoad.as_dict()
TEST_HEADER = "X-Pantau-Test"  # a test's id, the same on every stream of the test
LOAD_HEADER = "X-Pantau-Load"  # `active=2; cap=8; cpu=37.5`
BUSY_STATUS = 503  # every test slot is taken: come back after Retry-After seconds
TOKEN_ENV = "PANTAU_SPEEDTEST_TOKEN"  # an agent's token, or the file holding it:
TOKEN_FILE_ENV = "PANTAU_SPEEDTEST_TOKEN_FILE"  # mode 600, checked like every secret file


def auth_header(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def token_from_env() -> str | None:
    """The agent's speed-test token from its environment (set by its service unit)."""
    import os

    token = os.environ.get(TOKEN_ENV, "").strip()
    if token:
        return token
    path = os.environ.get(TOKEN_FILE_ENV, "").strip()
    if path:
        from pantau.shared.config import read_secret_file

        return read_secret_file(path).get_secret_value() or None
    return None


def download_path(size: int) -> str:
    return f"{DOWNLOAD}?{BYTES_PARAM}={int(size)}"


@dataclass(frozen=True)
class ServerLoad:
    """What the server was doing when it answered."""

    active: int  # tests running, the one asking included
    cap: int  # tests it runs at once at most
    cpu_pct: float  # the host's CPU busy over the last second, 0-100 (all cores)

    def header(self) -> str:
        return f"active={self.active}; cap={self.cap}; cpu={self.cpu_pct:.1f}"

    def as_dict(self) -> dict[str, int | float]:
        return {"active": self.active, "cap": self.cap, "cpu_pct": round(self.cpu_pct, 1)}


def parse_load(value: str | None) -> ServerLoad | None:
    """LOAD_HEADER's value → ServerLoad; None when absent or not understood (an older server)."""
    if not value:
        return None
    fields: dict[str, str] = {}
    for part in value.split(";"):
        key, _, text = part.partition("=")
        fields[key.strip()] = text.strip()
    try:
        return ServerLoad(int(fields["active"]), int(fields["cap"]), float(fields["cpu"]))
    except (KeyError, ValueError):
        return None


def load_from_json(doc: Any) -> ServerLoad | None:
    """UPLOAD_LOAD's object → ServerLoad; None when absent or not understood."""
    if not isinstance(doc, dict):
        return None
    try:
        return ServerLoad(int(doc["active"]), int(doc["cap"]), float(doc["cpu_pct"]))
    except (KeyError, ValueError, TypeError):
        return None
