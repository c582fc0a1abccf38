"""The simulator's network side: one asyncio loop serving many routers, one port (and one
api-ssl port) each, with the faults a real network and a real router bring.

`SimFleet.start()` runs the loop on a background thread for tests; `run_forever()` runs it in
the calling thread for the CLI. Fault scripting goes through each router's SimRouter object;
what needs the loop (power off/on, cutting connections) through the fleet's methods.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import socket
import ssl
import threading
import time
from collections.abc import Callable, Coroutine, Sequence
from typing import Any

from pantau.collector.lab.routeros_sim.commands import Reply, Session, execute
from pantau.collector.lab.routeros_sim.control import serve_control
from pantau.collector.lab.routeros_sim.router import RouterSpec, SimRouter
from pantau.collector.lab.routeros_sim.wire import SentenceReader, WireError, encode_sentence

log = logging.getLogger(__name__)


class Connection:
    """One API session: reads sentences, answers them, applies the router's faults."""

    def __init__(
        self, router: SimRouter, reader: asyncio.StreamReader, writer: asyncio.StreamWriter
    ) -> None:
        self.router = router
        self.reader = reader
        self.writer = writer
        self.session = Session()
        self.boot_id = router.boot_id
        self.streams: dict[str | None, asyncio.Task[None]] = {}
        self.write_lock = asyncio.Lock()
        self.closed = False

    async def serve(self) -> None:
        parser = SentenceReader(encoding=self.router.spec.encoding)
        try:
            while not self.closed:
                data = await self.reader.read(65536)
                if not data:
                    break
                for words in parser.feed(data):
                    await self.handle(words)
                    if self.closed:
                        break
        except (WireError, ConnectionError, ssl.SSLError, asyncio.IncompleteReadError):
            pass
        finally:
            self.close()

    async def handle(self, words: list[str]) -> None:
        router = self.router
        if router.boot_id != self.boot_id:  # the router rebooted under this connection
            self.close()
            return
        if router.faults.hang:
            return
        tag = next((w[5:] for w in words[1:] if w.startswith(".tag=")), None)
        if words[0] == "/cancel" and self.session.logged_in:
            await self.cancel(words, tag)
            return
        with router.lock:
            router.requests += 1
            reply = execute(router, self.session, words)
        if router.faults.reply_delay_s > 0:
            await asyncio.sleep(router.faults.reply_delay_s)
        if reply.stream is not None:
            task = asyncio.create_task(self.stream(reply, tag))
            self.streams[tag] = task
            return
        await self.send(reply.sentences, tag, words[0])
        if reply.close:
            await self.drain_and_close()

    async def stream(self, reply: Reply, tag: str | None) -> None:
        assert reply.stream is not None
        try:
            async for sentence in reply.stream:
                if self.router.boot_id != self.boot_id:
                    self.close()
                    return
                await self.send([sentence], tag, "/ping")
                if self.closed:
                    return
        except asyncio.CancelledError:
            await self.send([["!trap", "=category=2", "=message=interrupted"], ["!done"]], tag)
        finally:
            self.streams.pop(tag, None)

    async def cancel(self, words: list[str], tag: str | None) -> None:
        target = next((w[5:] for w in words[1:] if w.startswith("=tag=")), None)
        tasks = [t for k, t in self.streams.items() if target is None or k == target]
        for task in tasks:
            task.cancel()
        for task in tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        await self.send([["!done"]], tag)

    async def send(self, sentences: list[list[str]], tag: str | None, command: str = "") -> None:
        if self.closed:
            return
        suffix = [f".tag={tag}"] if tag is not None else []
        encoding = self.router.spec.encoding
        data = b"".join(encode_sentence(s + suffix, encoding) for s in sentences)
        self.router.bytes_sent += len(data)
        faults = self.router.faults
        async with self.write_lock:
            if faults.drop_replies > 0 and command.startswith(faults.drop_on or ""):
                faults.drop_replies -= 1
                self.writer.write(data[: max(1, len(data) // 2)])
                await self._drain()
                self.close()
                return
            chunk = faults.split_writes
            if chunk:
                for start in range(0, len(data), chunk):
                    self.writer.write(data[start : start + chunk])
                    await self._drain()
                    await asyncio.sleep(0.0005)
            else:
                self.writer.write(data)
                await self._drain()

    async def _drain(self) -> None:
        try:
            await self.writer.drain()
        except (ConnectionError, ssl.SSLError):
            self.close()

    async def drain_and_close(self) -> None:
        await self._drain()
        self.close()

    def close(self) -> None:
        if self.closed:
            return
        self.closed = True
        for task in list(self.streams.values()):
            task.cancel()
        transport = self.writer.transport
        if transport is not None and not transport.is_closing():
            transport.abort()


class RouterServer:
    """The listening side of one router: api and, with TLS, api-ssl."""

    def __init__(self, router: SimRouter, host: str, port: int, tls_port: int | None) -> None:
        self.router = router
        self.host = host
        self.port = port
        self.tls_port = tls_port
        self.connections: set[Connection] = set()
        self._servers: list[asyncio.Server] = []
        self._handlers: set[asyncio.Task[None]] = set()

    async def listen(self, tls: ssl.SSLContext | None) -> None:
        plain = await asyncio.start_server(
            self._accept, self.host, self.port, reuse_address=True, backlog=128
        )
        self.port = plain.sockets[0].getsockname()[1]
        self._servers = [plain]
        if tls is not None and self.tls_port is not None:
            secure = await asyncio.start_server(
                self._accept, self.host, self.tls_port, ssl=tls, reuse_address=True, backlog=128
            )
            self.tls_port = secure.sockets[0].getsockname()[1]
            self._servers.append(secure)

    async def stop_listening(self) -> None:
        for server in self._servers:
            server.close()
        for server in self._servers:
            await server.wait_closed()
        self._servers = []

    def cut_connections(self) -> None:
        for connection in list(self.connections):
            connection.close()

    async def wait_connections_closed(self) -> None:
        tasks = [t for t in self._handlers if not t.done()]
        if tasks:
            await asyncio.wait(tasks, timeout=5)

    async def _accept(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        sock = writer.get_extra_info("socket")
        if sock is not None:
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        connection = Connection(self.router, reader, writer)
        self.connections.add(connection)
        task = asyncio.current_task()
        if task is not None:
            self._handlers.add(task)
        try:
            await connection.serve()
        finally:
            self.connections.discard(connection)
            if task is not None:
                self._handlers.discard(task)


class SimFleet:
    """Many simulated routers in one process, one event loop."""

    def __init__(
        self,
        specs: Sequence[RouterSpec],
        host: str = "127.0.0.1",
        base_port: int = 0,
        tls: ssl.SSLContext | None = None,
        tls_base_port: int = 0,
        control_port: int | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.host = host
        self.tls = tls
        self.control_port = control_port
        self.routers = [SimRouter(spec, clock=clock) for spec in specs]
        self.servers = [
            RouterServer(
                router,
                host,
                base_port + i if base_port else 0,
                (tls_base_port + i if tls_base_port else 0) if tls is not None else None,
            )
            for i, router in enumerate(self.routers)
        ]
        self.loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._stopped: asyncio.Event | None = None

    # --- lifecycle -----------------------------------------------------------------------------

    def start(self) -> SimFleet:
        """Listen on every port, serving from a background thread; returns once listening."""
        ready = threading.Event()
        failure: list[BaseException] = []

        def main() -> None:
            try:
                asyncio.run(self._main(ready))
            except BaseException as exc:  # surfaced to the caller of start()
                failure.append(exc)
                ready.set()

        self._thread = threading.Thread(target=main, name="routeros-sim", daemon=True)
        self._thread.start()
        ready.wait(30)
        if failure:
            raise failure[0]
        return self

    def run_forever(self, ready: threading.Event | None = None) -> None:
        asyncio.run(self._main(ready or threading.Event()))

    def stop(self) -> None:
        if self.loop is not None and self._stopped is not None:
            self.loop.call_soon_threadsafe(self._stopped.set)
        if self._thread is not None:
            self._thread.join(10)

    def __enter__(self) -> SimFleet:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    async def _main(self, ready: threading.Event) -> None:
        self.loop = asyncio.get_running_loop()
        self._stopped = asyncio.Event()
        try:
            for server in self.servers:
                await server.listen(self.tls)
            if self.control_port is not None:
                control = await serve_control(self, self.host, self.control_port)
                self.control_port = control.sockets[0].getsockname()[1]
        except BaseException:
            for server in self.servers:
                await server.stop_listening()
            raise
        ready.set()
        await self._stopped.wait()
        for server in self.servers:
            server.cut_connections()
            await server.stop_listening()
        for server in self.servers:
            await server.wait_connections_closed()

    # --- lookups and loop-side faults -----------------------------------------------------------

    def port(self, index: int) -> int:
        return self.servers[index].port

    def tls_port(self, index: int) -> int:
        port = self.servers[index].tls_port
        if port is None:
            raise ValueError("the fleet was started without TLS")
        return port

    def index(self, name: str) -> int:
        for i, router in enumerate(self.routers):
            if router.spec.name == name:
                return i
        raise KeyError(name)

    def power_off(self, index: int) -> None:
        """The router goes dark: connections cut, ports refuse until power_on (a reboot)."""
        server = self.servers[index]
        self._on_loop(self._power_off(server))

    def power_on(self, index: int) -> None:
        server = self.servers[index]
        server.router.reboot()
        self._on_loop(server.listen(self.tls))

    def cut_connections(self, index: int) -> None:
        server = self.servers[index]

        async def cut() -> None:
            server.cut_connections()

        self._on_loop(cut())

    async def _power_off(self, server: RouterServer) -> None:
        server.cut_connections()
        await server.stop_listening()

    def _on_loop(self, coro: Coroutine[Any, Any, None]) -> None:
        loop = self.loop
        if loop is None:
            raise RuntimeError("the fleet is not running")
        try:
            running = asyncio.get_running_loop()
        except RuntimeError:
            running = None
        if running is loop:
            loop.create_task(coro)
            return
        asyncio.run_coroutine_threadsafe(coro, loop).result(10)
