"""The HTTP speed-test endpoint's contract, shared by the agent's client and the NOC's server.

GET  /download?bytes=N  N bytes (at most the server's cap), for the client to time as they
                        arrive
POST /upload            a (chunked) body, read and thrown away; answers JSON
                        {"bytes": N, "marks": [[t, bytes so far], ...]} on the server's clock
GET  /ping              a tiny answer, to see the endpoint is up

A server with a tokens file wants `Authorization: Bearer <token>` on /download and /upload (401
without a token it knows), and caps each client (a token's name, else its address): streams at
once, its rate, and its bytes a day (429 with Retry-After once over).
"""

from __future__ import annotations

DOWNLOAD = "/download"
UPLOAD = "/upload"
PING = "/ping"
BYTES_PARAM = "bytes"  # query parameter of DOWNLOAD: how many bytes to send
UPLOAD_BYTES = "bytes"  # keys of UPLOAD's JSON answer
UPLOAD_MARKS = "marks"
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
