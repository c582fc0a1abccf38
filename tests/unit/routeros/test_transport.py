"""Reading a router's replies (agent/sources/routeros/client.py `DeadlineTransport`): every
read of a thread goes through that thread's one receive buffer, and replies longer than it, or
split across many reads, come out whole and in order."""

from __future__ import annotations

import socket
import threading

import pytest
from librouteros.exceptions import ConnectionClosed

from pantau.agent.sources.routeros import client
from pantau.agent.sources.routeros.client import RECV_BYTES, Deadline, DeadlineTransport


def transport_pair() -> tuple[DeadlineTransport, socket.socket]:
    ours, router = socket.socketpair()
    deadline = Deadline()
    deadline.start(10.0)
    return DeadlineTransport(ours, deadline), router


def test_a_reply_longer_than_the_buffer_comes_out_whole() -> None:
    transport, router = transport_pair()
    reply = bytes(range(256)) * (3 * RECV_BYTES // 256 + 7)
    sender = threading.Thread(target=router.sendall, args=(reply + b"tail",))
    sender.start()
    assert transport.read(1) == reply[:1]
    assert transport.read(len(reply) - 1) == reply[1:]
    assert transport.read(4) == b"tail"
    sender.join(10)
    router.close()
    with pytest.raises(ConnectionClosed):
        transport.read(1)


def test_one_buffer_per_thread_whatever_the_routers() -> None:
    transports = [transport_pair() for _ in range(50)]
    for index, (transport, router) in enumerate(transports):
        router.sendall(f"!done {index}".encode())
        assert transport.read(len(f"!done {index}")) == f"!done {index}".encode()
    mine = client._receive_buffer()
    assert len(mine) == RECV_BYTES
    others: list[memoryview] = []
    worker = threading.Thread(target=lambda: others.append(client._receive_buffer()))
    worker.start()
    worker.join(10)
    assert client._receive_buffer() is mine  # the 50 routers' reads all went through it
    assert others[0] is not mine
    for transport, router in transports:
        transport.sock.close()
        router.close()
