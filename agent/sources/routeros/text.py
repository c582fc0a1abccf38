"""RouterOS text: how the bytes of an API word become a str, in this one place.

RouterOS stores names and comments as the bytes it was given: UTF-8 from WebFig, the CLI and
the API of current releases, the Windows code page from an older Winbox. A word is read as
UTF-8 when it is valid UTF-8 (text in a legacy code page almost never is, once it holds a
non-ASCII byte), else in the router's legacy code page, and as latin-1 when even that fails
(cp1252 leaves five bytes undefined; latin-1 maps every byte). Nothing is dropped or replaced.
"""

from __future__ import annotations

import codecs

WIRE_ENCODING = "utf-8"  # what the agent sends: RouterOS' own API clients speak UTF-8
DEFAULT_LEGACY = "cp1252"  # Winbox on an Indonesian (or any western) Windows


def decode(data: bytes, legacy: str = DEFAULT_LEGACY) -> str:
    """One API word as text: UTF-8, else the legacy code page, else latin-1."""
    try:
        return data.decode(WIRE_ENCODING)
    except UnicodeDecodeError:
        pass
    try:
        return data.decode(legacy)
    except UnicodeDecodeError:
        return data.decode("latin-1")


def legacy_codec(name: str) -> str:
    """The canonical name of a single-byte legacy code page; ValueError when it is not one."""
    try:
        info = codecs.lookup(name)
    except LookupError:
        raise ValueError(f"unknown code page {name!r} (e.g. cp1252, cp1251, iso8859-2)") from None
    single = len(bytes(range(256)).decode(info.name, errors="replace")) == 256
    if info.name.startswith("utf") or not single:
        raise ValueError(f"{name!r} is not a single-byte legacy code page (e.g. cp1252)")
    return info.name
