"""The agent's C heap (agent/memory.py): free pages inside the heap go back to the system."""

from __future__ import annotations

import platform

import pytest

from pantau.agent.memory import fewer_arenas, release_free_memory


def rss_kb() -> int:
    with open("/proc/self/status") as status:
        line = next(ln for ln in status if ln.startswith("VmRSS:"))
    return int(line.split()[1])


@pytest.mark.skipif(platform.libc_ver()[0] != "glibc", reason="malloc_trim is glibc's")
def test_freed_chunks_inside_the_heap_are_handed_back() -> None:
    fewer_arenas()
    release_free_memory()
    # 32 MB in 8 KB chunks (below glibc's mmap threshold: they come from the heap), then one
    # more that stays: the freed ones are a hole inside the heap, not at its top
    chunks = [bytes(8192) for _ in range(4096)]
    pinned = bytes(8192)
    del chunks
    held = rss_kb()
    assert release_free_memory() is True
    assert held - rss_kb() > 16 * 1024  # most of the 32 MB hole is no longer resident
    assert len(pinned) == 8192
