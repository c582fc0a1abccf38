"""Captured RouterOS replies (tests/testdata/routeros), read back through librouteros itself.

The words of a fixture are put on a real socket in the API wire format and librouteros' own
`Api.readResponse` reads them through the agent's protocol, so a parser sees exactly the values
(ints, bools, strings) the agent gets from a router.
"""

from __future__ import annotations

import socket
from pathlib import Path

from librouteros.api import Api
from librouteros.connections import SocketTransport

from pantau.agent.sources.routeros.client import RouterOSProtocol
from pantau.collector.lab.routeros_sim.wire import encode_sentence

TESTDATA = Path(__file__).resolve().parents[2] / "testdata" / "routeros"


def sentences(name: str) -> list[list[str]]:
    text = (TESTDATA / name).read_text(encoding="utf-8")
    return [block.split("\n") for block in text.strip().split("\n\n")]


def reply(name: str) -> list[dict[str, object]]:
    """Rows as librouteros returns them; a `!trap` raises librouteros' TrapError."""
    data = b"".join(encode_sentence(s) for s in sentences(name))
    ours, theirs = socket.socketpair()
    try:
        theirs.sendall(data)
        ours.settimeout(2)
        api = Api(RouterOSProtocol(SocketTransport(ours)))  # the agent's own decoding
        return list(api.readResponse())
    finally:
        ours.close()
        theirs.close()
