"""The simulator's wire format against librouteros' own encoder, cut at every byte, and its
text in each router's encoding."""

from __future__ import annotations

import pytest
from librouteros.protocol import decode_length as lib_decode
from librouteros.protocol import encode_length as lib_encode
from librouteros.protocol import encode_sentence as lib_sentence

from pantau.collector.lab.routeros_sim import RouterSpec, SimFleet
from pantau.collector.lab.routeros_sim.control import apply
from pantau.collector.lab.routeros_sim.wire import (
    SentenceReader,
    WireError,
    decode_length,
    encode_length,
    encode_sentence,
)

LENGTHS = [0, 1, 0x7F, 0x80, 0x3FFF, 0x4000, 0x1FFFFF, 0x200000, 0xFFFFFFF]


@pytest.mark.parametrize("length", LENGTHS)
def test_lengths_match_librouteros(length: int) -> None:
    assert encode_length(length) == lib_encode(length)
    assert decode_length(encode_length(length)) == length == lib_decode(lib_encode(length))


@pytest.mark.parametrize(
    ("length", "encoded"),
    [
        (0x10000000, b"\xf0\x10\x00\x00\x00"),
        (0xFFFFFFFF, b"\xf0\xff\xff\xff\xff"),
    ],
)
def test_five_byte_lengths(length: int, encoded: bytes) -> None:
    assert encode_length(length) == encoded
    assert decode_length(encoded) == length


def test_reserved_control_byte_refused() -> None:
    with pytest.raises(WireError, match="reserved control byte 0xf8"):
        list(SentenceReader().feed(b"\xf8\x00"))


def test_sentences_cut_at_every_byte() -> None:
    words = ["/interface/print", "=.proplist=name,rx-byte", "?name=ether1", ".tag=7", "x" * 300]
    data = lib_sentence(*words, encoding="latin-1") + encode_sentence(["/quit"])
    for cut in range(1, len(data)):
        reader = SentenceReader()
        got = list(reader.feed(data[:cut])) + list(reader.feed(data[cut:]))
        assert got == [words, ["/quit"]], cut


def test_empty_sentences_are_ignored() -> None:
    assert list(SentenceReader().feed(b"\x00\x00" + encode_sentence(["/login"]))) == [["/login"]]


def test_oversized_word_refused() -> None:
    with pytest.raises(WireError, match="refused"):
        list(SentenceReader(max_word=100).feed(encode_length(101)))


IDENTITY = "Balai Warga – Citangkil 03"


@pytest.mark.parametrize(("encoding", "dash"), [("utf-8", b"\xe2\x80\x93"), ("cp1252", b"\x96")])
def test_text_in_the_routers_encoding(encoding: str, dash: bytes) -> None:
    data = encode_sentence(["!re", f"=name={IDENTITY}"], encoding)
    assert b"=name=Balai Warga " + dash + b" Citangkil 03" in data
    assert list(SentenceReader(encoding=encoding).feed(data)) == [["!re", f"=name={IDENTITY}"]]


def test_control_lists_the_encoding() -> None:
    fleet = SimFleet([RouterSpec(name="r001"), RouterSpec(name="r002", encoding="cp1252")])
    listing = apply(fleet, "list").splitlines()
    assert [line.split()[2] for line in listing] == ["encoding=utf-8", "encoding=cp1252"]


def test_unknown_encoding_refused() -> None:
    with pytest.raises(ValueError, match=r"RouterSpec\.encoding: unknown 'klingon'"):
        SimFleet([RouterSpec(encoding="klingon")])
