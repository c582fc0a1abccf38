"""RouterOS text: UTF-8 first, the router's legacy code page when the bytes are not UTF-8.

Read through librouteros' own `Api` on a real socket, so the words come off the wire exactly as
the agent gets them from a router.
"""

from __future__ import annotations

import socket

import pytest
from librouteros.api import Api
from librouteros.connections import SocketTransport

from pantau.agent.sources.routeros import text
from pantau.agent.sources.routeros.client import RouterOSProtocol
from pantau.collector.lab.routeros_sim.wire import encode_sentence

IDENTITY = "Balai Warga – Citangkil 03"  # an en dash, as a technician's phone types it
ACCENTS = "Pos Ronda Pérumahan · Blok C"


@pytest.mark.parametrize(
    ("data", "legacy", "expected"),
    [
        (IDENTITY.encode("utf-8"), "cp1252", IDENTITY),  # e2 80 93
        (IDENTITY.encode("cp1252"), "cp1252", IDENTITY),  # 96: not UTF-8
        (ACCENTS.encode("utf-8"), "cp1252", ACCENTS),
        (ACCENTS.encode("cp1252"), "cp1252", ACCENTS),
        ("Київ-Центр".encode("cp1251"), "cp1251", "Київ-Центр"),
        (b"ether1", "cp1252", "ether1"),
        (b"a\x81b", "cp1252", "a\x81b"),  # undefined in cp1252: latin-1, nothing dropped
        (b"", "cp1252", ""),
    ],
)
def test_decode(data: bytes, legacy: str, expected: str) -> None:
    assert text.decode(data, legacy) == expected


def read_back(sentences: list[list[str]], encoding: str, legacy: str) -> list[dict[str, object]]:
    """Rows as the agent's protocol reads them off a socket."""
    ours, theirs = socket.socketpair()
    try:
        theirs.sendall(b"".join(encode_sentence(s, encoding) for s in sentences))
        ours.settimeout(2)
        return list(Api(RouterOSProtocol(SocketTransport(ours), legacy)).readResponse())
    finally:
        ours.close()
        theirs.close()


@pytest.mark.parametrize(
    ("encoding", "legacy", "name"),
    [
        ("utf-8", "cp1252", IDENTITY),
        ("cp1252", "cp1252", IDENTITY),
        ("cp1252", "cp1252", ACCENTS),
        ("cp1251", "cp1251", "Київ-Центр"),
    ],
)
def test_identity_through_librouteros(encoding: str, legacy: str, name: str) -> None:
    rows = read_back([["!re", f"=name={name}"], ["!done"]], encoding, legacy)
    assert rows == [{"name": name}]


@pytest.mark.parametrize(
    ("name", "canonical"), [("cp1252", "cp1252"), ("latin-1", "iso8859-1"), ("CP1251", "cp1251")]
)
def test_legacy_code_pages(name: str, canonical: str) -> None:
    assert text.legacy_codec(name) == canonical


@pytest.mark.parametrize(
    ("name", "message"),
    [
        ("klingon", "unknown code page 'klingon' (e.g. cp1252, cp1251, iso8859-2)"),
        ("utf-8", "'utf-8' is not a single-byte legacy code page (e.g. cp1252)"),
        ("shift_jis", "'shift_jis' is not a single-byte legacy code page (e.g. cp1252)"),
    ],
)
def test_not_a_legacy_code_page(name: str, message: str) -> None:
    with pytest.raises(ValueError) as caught:
        text.legacy_codec(name)
    assert str(caught.value) == message
