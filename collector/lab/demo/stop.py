"""Stopping the demo: a Ctrl-C or a SIGTERM ends it within seconds, and with it every process
it started (broker, database, collector, agents, replay workers), never leaving one behind.

The demo starts its collector and agents in sessions of their own, so a terminal's Ctrl-C
reaches only the demo; it then stops them all at once instead of each one politely in turn (a
collector's clean stop can compute rollups for many minutes).
"""

from __future__ import annotations

import contextlib
import os
import signal
import sys
import threading
from collections.abc import Iterator
from types import FrameType
from typing import Any

import psutil

SIGNALS = (signal.SIGINT, signal.SIGTERM)
GRACE_S = 3.0  # SIGTERM first; whatever still runs after this gets SIGKILL
AGAIN_AFTER_S = 0.05  # a signal whose Interrupted was dropped comes again after this


class Interrupted(BaseException):
    """A SIGINT or SIGTERM arrived: not an error of the demo, a request to stop it now."""

    def __init__(self, signum: int) -> None:
        super().__init__(signal.Signals(signum).name)
        self.signum = signum


@contextlib.contextmanager
def interruptible() -> Iterator[None]:
    """Within, SIGINT and SIGTERM raise Interrupted in the main thread. The first one only:
    later ones are ignored, so nothing cuts short the stop that follows (it is bounded).

    Python runs a signal's handler wherever the main thread is, and some places drop what it
    raises with an "Exception ignored" line: a callback `os.fork` runs (the demo forks its
    replay workers), a `__del__`. Such an Interrupted is sent again, to be raised in the code
    that follows; else the demo went on to its end as if no signal had come."""

    owner = os.getpid()
    previous_hook = sys.unraisablehook

    def dropped(unraisable: Any) -> None:
        exc = unraisable.exc_value
        if isinstance(exc, Interrupted) and os.getpid() == owner:
            signal.signal(exc.signum, handler)  # sent from a thread: handled after this returns
            threading.Timer(AGAIN_AFTER_S, os.kill, (owner, exc.signum)).start()
            return
        previous_hook(unraisable)

    def handler(signum: int, frame: FrameType | None) -> None:
        if os.getpid() != owner:  # a worker forked from the demo, before detach_worker()
            if signum == signal.SIGTERM:
                os._exit(128 + signum)
            return
        for each in SIGNALS:
            signal.signal(each, signal.SIG_IGN)
        raise Interrupted(signum)

    previous = {each: signal.signal(each, handler) for each in SIGNALS}
    sys.unraisablehook = dropped
    try:
        yield
    finally:
        for each, action in previous.items():
            signal.signal(each, action)
        sys.unraisablehook = previous_hook


def detach_worker() -> None:
    """For a forked worker: the terminal's Ctrl-C is for the demo, which stops the worker with
    SIGTERM, and SIGTERM ends it at once (not the demo's handler, inherited through fork)."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_DFL)


def stop_descendants(grace_s: float = GRACE_S) -> list[str]:
    """SIGTERM to every process below this one, SIGKILL to those left after `grace_s`; wait
    for all of them. Returns their names (what was stopped), for the last line the demo prints."""
    processes = psutil.Process().children(recursive=True)
    names = []
    for process in processes:
        with contextlib.suppress(psutil.Error):
            names.append(_name(process))
            process.terminate()
    _, alive = psutil.wait_procs(processes, timeout=grace_s)
    for process in alive:
        with contextlib.suppress(psutil.Error):
            process.kill()
    psutil.wait_procs(alive, timeout=1.0)
    return names


def _name(process: psutil.Process) -> str:
    """`mosquitto`, `influxd`, `pantau collector`, `pantau agent`, or the process name."""
    command = process.cmdline()
    if "pantau.shared.cli" in command:
        after = command[command.index("pantau.shared.cli") + 1 :]
        if after and after[0] == "demo":
            return "month replay worker"  # forked by the demo: the same command line
        return f"pantau {after[0]}" if after else "pantau"
    return process.name()
