"""One network thread for every MQTT session of an agent process, on epoll.

paho's own `loop()` watches each client with select(), which cannot see a descriptor numbered
1024 or above: past a few hundred points, sessions were reported lost and silently reconnected.
Here every session keeps its own MQTT connection (the broker's ACL, birth and Will stay per
point) but one thread waits on all their sockets with epoll, which has no such ceiling, and
drives them through paho's external-loop calls (`loop_read`, `loop_write`, `loop_misc`).

A connect (TCP, then the TLS handshake) blocks in paho; it runs on a small fixed pool of
connector threads, so a broker slow to accept delays only the sessions waiting to connect,
never the traffic of those already connected. Every other call into a session happens on the
network thread, so a session needs no lock of its own.
"""

from __future__ import annotations

import contextlib
import heapq
import itertools
import logging
import queue
import selectors
import socket
import threading
import time
from collections.abc import Callable
from typing import Protocol

log = logging.getLogger(__name__)

# goodbye: drain and receipts (publish.goodbye_drain_s, at most 6 s), offline state, disconnect
STOP_TIMEOUT_S = 10.0

SWEEP_S = 0.5  # every session is stepped at least this often (keepalive, timers)
CONNECT_THREADS = 4
READ, WRITE = selectors.EVENT_READ, selectors.EVENT_WRITE


class Session(Protocol):
    """What the loop drives (agent/publisher.py `PointPublisher`); called on its thread only."""

    def step(self, now: float) -> float | None:
        """Timers and outgoing work; returns when (monotonic) it wants the next step, if ever."""
        ...

    def io(self, events: int) -> None:
        """Its socket is readable (READ) and/or writable (WRITE)."""
        ...

    def begin_stop(self) -> None:
        """The loop is stopping: say goodbye (birth offline, disconnect) over the next steps."""
        ...

    @property
    def finished(self) -> bool:
        """Stopped: nothing left to send, its socket closed."""
        ...


def _selector() -> selectors.BaseSelector:
    epoll = getattr(selectors, "EpollSelector", None)
    return epoll() if epoll is not None else selectors.PollSelector()


class NetLoop:
    def __init__(self, connect_threads: int = CONNECT_THREADS, name: str = "mqtt") -> None:
        self.name = name
        self._selector = _selector()
        self._wake_r, self._wake_w = socket.socketpair()
        self._wake_r.setblocking(False)
        self._wake_w.setblocking(False)
        self._wake_bytes = bytearray(64)  # read into, not allocated per wake-up
        self._selector.register(self._wake_r, READ, None)
        self._lock = threading.Lock()
        self._wake_pending = False
        self._woken: set[Session] = set()
        self._calls: list[Callable[[], None]] = []
        self._sessions: list[Session] = []
        self._due: dict[Session, float] = {}
        self._timers: list[tuple[float, int, Session]] = []
        self._order = itertools.count()
        self._stop = threading.Event()
        self._stop_timeout_s = STOP_TIMEOUT_S
        self._connects: queue.SimpleQueue[tuple[Callable[[], None], Callable[..., None]] | None]
        self._connects = queue.SimpleQueue()
        self._connectors = [
            threading.Thread(target=self._connector, name=f"{name}-connect-{i}", daemon=True)
            for i in range(connect_threads)
        ]
        self._thread = threading.Thread(target=self._run, name=f"{name}-net", daemon=True)
        self._ident: int | None = None

    @property
    def threads(self) -> int:
        """Threads this loop runs: one network thread and its connectors."""
        return 1 + len(self._connectors)

    @property
    def alive(self) -> bool:
        return self._thread.is_alive()

    def start(self) -> None:
        for thread in self._connectors:
            thread.start()
        self._thread.start()

    def stop(self, timeout_s: float = STOP_TIMEOUT_S) -> None:
        """Every session says goodbye (in parallel, within `timeout_s`); then the thread ends."""
        self._stop_timeout_s = timeout_s
        self._stop.set()
        self._poke()
        if self._thread.is_alive():
            self._thread.join(timeout_s + 2)
        for _ in self._connectors:
            self._connects.put(None)

    # -- from any thread -----------------------------------------------------------------------
    def add(self, session: Session) -> None:
        self.call_soon(lambda: self._add(session))

    def wake(self, session: Session) -> None:
        """Step this session soon (it has new work)."""
        with self._lock:
            self._woken.add(session)
        self._poke()

    def call_soon(self, call: Callable[[], None]) -> None:
        """Run `call` on the network thread."""
        with self._lock:
            self._calls.append(call)
        self._poke()

    def connect(
        self, work: Callable[[], None], done: Callable[[BaseException | None], None]
    ) -> None:
        """Run the blocking `work` on a connector thread, then `done(error or None)` here."""
        self._connects.put((work, done))

    # -- from the network thread ---------------------------------------------------------------
    def on_loop_thread(self) -> bool:
        return threading.get_ident() == self._ident

    def watch(self, sock: socket.socket, session: Session, write: bool) -> None:
        self._selector.register(sock, READ | (WRITE if write else 0), session)

    def set_write(self, sock: socket.socket, write: bool) -> None:
        """paho wants (or no longer wants) to write: only from this thread; a connect on a
        connector thread is registered with what it wants when it comes back."""
        if not self.on_loop_thread():
            return
        with contextlib.suppress(KeyError, ValueError):
            key = self._selector.get_key(sock)
            self._selector.modify(sock, READ | (WRITE if write else 0), key.data)

    def unwatch(self, sock: socket.socket) -> None:
        if not self.on_loop_thread():
            return
        with contextlib.suppress(KeyError, ValueError):
            self._selector.unregister(sock)

    # -- inside --------------------------------------------------------------------------------
    def _poke(self) -> None:
        with self._lock:
            if self._wake_pending:
                return
            self._wake_pending = True
        with contextlib.suppress(BlockingIOError, OSError):
            self._wake_w.send(b"\0")

    def _add(self, session: Session) -> None:
        self._sessions.append(session)
        self._schedule(session, 0.0)
        if self._stop.is_set():
            session.begin_stop()

    def _schedule(self, session: Session, at: float) -> None:
        current = self._due.get(session)
        if current is not None and current <= at:
            return
        self._due[session] = at
        heapq.heappush(self._timers, (at, next(self._order), session))

    def _connector(self) -> None:
        while True:
            job = self._connects.get()
            if job is None:
                return
            work, done = job
            error: BaseException | None = None
            try:
                work()
            except BaseException as exc:  # handed back as it is: the session words it
                error = exc
            self.call_soon(lambda done=done, error=error: done(error))

    def _run(self) -> None:
        self._ident = threading.get_ident()
        next_sweep = 0.0
        stop_deadline: float | None = None
        while True:
            now = time.monotonic()
            if self._stop.is_set() and stop_deadline is None:
                stop_deadline = now + self._stop_timeout_s
                for session in self._sessions:
                    session.begin_stop()
                next_sweep = 0.0
            if stop_deadline is not None and (
                now >= stop_deadline or all(s.finished for s in self._sessions)
            ):
                break
            wake_at = min(next_sweep, self._timers[0][0] if self._timers else next_sweep)
            step_now: set[Session] = set()
            for key, events in self._selector.select(max(0.0, min(wake_at - now, SWEEP_S))):
                if key.data is None:
                    self._drain_waker()
                    continue
                self._guard(key.data.io, events)
                step_now.add(key.data)
            with self._lock:
                calls, self._calls = self._calls, []
                step_now |= self._woken
                self._woken.clear()
            for call in calls:
                self._guard(call)
            now = time.monotonic()
            while self._timers and self._timers[0][0] <= now:
                at, _, session = heapq.heappop(self._timers)
                if self._due.get(session) == at:
                    del self._due[session]
                    step_now.add(session)
            if now >= next_sweep:
                step_now = set(self._sessions)
                next_sweep = now + SWEEP_S
            for session in step_now:
                wanted = self._guard(session.step, now)
                if wanted is not None:
                    self._schedule(session, wanted)
        self._selector.close()
        self._wake_r.close()
        self._wake_w.close()

    @staticmethod
    def _guard(call: Callable[..., float | None], *args: object) -> float | None:
        """A session's own failure is its own: logged, never the end of every session."""
        try:
            return call(*args)
        except Exception:
            log.exception("network loop: %s failed", getattr(call, "__qualname__", call))
            return None

    def _drain_waker(self) -> None:
        with contextlib.suppress(BlockingIOError, OSError):
            while self._wake_r.recv_into(self._wake_bytes):
                pass
        with self._lock:  # after the bytes: a poke in between is handled in this round
            self._wake_pending = False
