"""The agent process's C heap: few malloc arenas, and free pages handed back to the system.

glibc gives each thread its own arena; on a 512 MB board two are plenty (`fewer_arenas`). And
a freed chunk inside the heap stays mapped: every tick all points publish at once (a message
each, paho's packet and bookkeeping for it), so the heap keeps the high-water mark of the
busiest tick it ever saw, and RSS creeps up with each busier one (a loaded machine, a collector
slow to answer). `release_free_memory` (malloc_trim(0), run once a minute) returns those free
pages, so RSS follows what is in use rather than the worst moment so far.
"""

from __future__ import annotations

import ctypes
import functools

M_ARENA_MAX = -8  # mallopt(3)
TRIM_EVERY_S = 60.0


@functools.cache
def _libc() -> ctypes.CDLL | None:
    """The C library this process runs on (its own symbols: no ldconfig lookup)."""
    try:
        return ctypes.CDLL(None)
    except OSError:
        return None


def fewer_arenas(arenas: int = 2) -> None:
    libc = _libc()
    if libc is not None and hasattr(libc, "mallopt"):
        libc.mallopt(M_ARENA_MAX, arenas)


def release_free_memory() -> bool:
    """Hand the heap's free pages back (glibc only); whether anything was released."""
    libc = _libc()
    if libc is None or not hasattr(libc, "malloc_trim"):
        return False  # another C library (musl): nothing to do
    return bool(libc.malloc_trim(0))
