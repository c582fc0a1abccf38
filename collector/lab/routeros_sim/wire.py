"""The RouterOS API wire format, server side: length-prefixed words, sentences ended by an
empty word. Lengths take 1 to 5 bytes; a first byte of 0xF8 or more is a reserved control byte.

Text goes out in the router's encoding: UTF-8, as current RouterOS keeps what WebFig and the CLI
set, or a legacy code page (cp1252 ...) for names an old Winbox set.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator

ENCODING = "utf-8"


class WireError(Exception):
    """The peer sent bytes that are not API words; the router drops such a connection."""


def encode_length(length: int) -> bytes:
    if length < 0:
        raise WireError(f"negative length {length}")
    if length < 0x80:
        return bytes((length,))
    if length < 0x4000:
        return (length | 0x8000).to_bytes(2, "big")
    if length < 0x200000:
        return (length | 0xC00000).to_bytes(3, "big")
    if length < 0x10000000:
        return (length | 0xE0000000).to_bytes(4, "big")
    if length < 0x100000000:
        return b"\xf0" + length.to_bytes(4, "big")
    raise WireError(f"word of {length} bytes is too long")


def prefix_size(first: int) -> int:
    """How many bytes the length prefix takes, from its first byte."""
    if first < 0x80:
        return 1
    if first < 0xC0:
        return 2
    if first < 0xE0:
        return 3
    if first < 0xF0:
        return 4
    if first == 0xF0:
        return 5
    raise WireError(f"reserved control byte 0x{first:02x}")


def decode_length(prefix: bytes) -> int:
    first = prefix[0]
    size = prefix_size(first)
    if size == 1:
        return first
    if size == 5:
        return int.from_bytes(prefix[1:5], "big")
    masks = {2: 0x8000, 3: 0xC00000, 4: 0xE0000000}
    return int.from_bytes(prefix[:size], "big") ^ masks[size]


def encode_word(word: str, encoding: str = ENCODING) -> bytes:
    data = word.encode(encoding, errors="replace")
    return encode_length(len(data)) + data


def encode_sentence(words: Iterable[str], encoding: str = ENCODING) -> bytes:
    return b"".join(encode_word(w, encoding) for w in words) + b"\x00"


class SentenceReader:
    """Turns a byte stream, cut anywhere, into sentences (lists of words)."""

    def __init__(self, max_word: int = 16 * 1024 * 1024, encoding: str = ENCODING) -> None:
        self._encoding = encoding
        self._buffer = bytearray()
        self._words: list[str] = []
        self._max_word = max_word

    def feed(self, data: bytes) -> Iterator[list[str]]:
        self._buffer += data
        while True:
            if not self._buffer:
                return
            size = prefix_size(self._buffer[0])
            if len(self._buffer) < size:
                return
            length = decode_length(bytes(self._buffer[:size]))
            if length > self._max_word:
                raise WireError(f"word of {length} bytes refused")
            if len(self._buffer) < size + length:
                return
            word = bytes(self._buffer[size : size + length]).decode(
                self._encoding, errors="replace"
            )
            del self._buffer[: size + length]
            if length == 0:
                sentence, self._words = self._words, []
                if sentence:  # an empty sentence is ignored, as the router does
                    yield sentence
            else:
                self._words.append(word)
