"""What capacity tests keep on disk: each point's daily ledger, and one lock per uplink.

The lock is an flock on a file in the state directory, so the agent service and a technician's
`pantau agent speedtest` never test one uplink at once, whichever process runs them.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import fcntl
import json
import os
from collections.abc import Iterator
from pathlib import Path

from pantau.agent.capacity.schedule import Ledger


class LedgerFile:
    """One point's ledger, rewritten atomically after every test."""

    def __init__(self, state_dir: Path, point: str) -> None:
        self.path = state_dir / "capacity" / f"{point}.json"
        self.last_bytes: int | None = None

    def load(self, today: dt.date) -> Ledger:
        try:
            raw = json.loads(self.path.read_text())
            ledger = Ledger(
                dt.date.fromisoformat(raw["day"]),
                int(raw["bytes"]),
                int(raw["tests"]),
                int(raw["peak_tests"]),
            )
            self.last_bytes = int(raw["last_bytes"]) if raw.get("last_bytes") else None
        except (OSError, ValueError, KeyError, TypeError):
            return Ledger(today)
        return ledger.on(today)

    def save(self, ledger: Ledger, last_bytes: int | None) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        if last_bytes:
            self.last_bytes = last_bytes
        body = {
            "day": ledger.day.isoformat(),
            "bytes": ledger.bytes,
            "tests": ledger.tests,
            "peak_tests": ledger.peak_tests,
            "last_bytes": self.last_bytes,
        }
        tmp = self.path.with_suffix(".tmp")
        tmp.write_text(json.dumps(body))
        os.replace(tmp, self.path)


@contextlib.contextmanager
def uplink_lock(state_dir: Path, uplink: str) -> Iterator[bool]:
    """Yields True while this process holds the uplink, False when a test is already running."""
    path = state_dir / "capacity" / f"uplink-{uplink}.lock"
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            yield False
            return
        try:
            yield True
        finally:
            fcntl.flock(fd, fcntl.LOCK_UN)
    finally:
        os.close(fd)
