"""The HTTP speed-test endpoint's contract, shared by the agent's client and the NOC's server.

GET  /download?bytes=N  N bytes (at most the server's cap), for the client to time as they
                        arrive
POST /upload            a (chunked) body, read and thrown away; answers JSON
                        {"bytes": N, "marks": [[t, bytes so far], ...]} on the server's clock
GET  /ping              a tiny answer, to see the endpoint is up
"""

from __future__ import annotations

DOWNLOAD = "/download"
UPLOAD = "/upload"
PING = "/ping"
BYTES_PARAM = "bytes"  # query parameter of DOWNLOAD: how many bytes to send
UPLOAD_BYTES = "bytes"  # keys of UPLOAD's JSON answer
UPLOAD_MARKS = "marks"


def download_path(size: int) -> str:
    return f"{DOWNLOAD}?{BYTES_PARAM}={int(size)}"
