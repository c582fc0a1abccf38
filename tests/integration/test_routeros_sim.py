"""The simulator speaks the RouterOS API wire protocol: checked byte for byte over raw sockets.

These are the behaviours clients depend on (login, !fatal, !trap then !done, !empty from 7.18,
.tag echo, .proplist, ? queries, count-only, /cancel) independent of any client library.
"""

from __future__ import annotations

import hashlib
import json
import socket
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from pantau.collector.lab.routeros_sim import RouterSpec, SimFleet
from pantau.collector.lab.routeros_sim.wire import SentenceReader, encode_sentence

PASSWORD = "sim-pw"
IDENTITY = "Balai Warga – Citangkil 03"


class RawClient:
    def __init__(self, port: int) -> None:
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=5)
        self.reader = SentenceReader()
        self.pending: list[list[str]] = []
        self.received = 0

    def send(self, *words: str) -> None:
        self.sock.sendall(encode_sentence(words))

    def sentence(self) -> list[str]:
        while not self.pending:
            data = self.sock.recv(65536)
            if not data:
                raise ConnectionError("closed")
            self.received += len(data)
            self.pending.extend(self.reader.feed(data))
        return self.pending.pop(0)

    def until_done(self) -> list[list[str]]:
        got = []
        while True:
            sentence = self.sentence()
            got.append(sentence)
            if sentence[0] in ("!done", "!fatal"):
                return got

    def call(self, *words: str) -> list[list[str]]:
        self.send(*words)
        return self.until_done()

    def login(self) -> None:
        assert self.call("/login", "=name=pantau", f"=password={PASSWORD}") == [["!done"]]

    def closed(self) -> bool:
        self.sock.settimeout(2)
        try:
            return self.sock.recv(1) == b""
        except ConnectionResetError:
            return True

    def close(self) -> None:
        self.sock.close()


@pytest.fixture(scope="module")
def fleet() -> Iterator[SimFleet]:
    specs = [
        RouterSpec(name="old", dialect="6.49", password=PASSWORD, hotspot_sessions=1000),
        RouterSpec(name="mid", dialect="7.14", password=PASSWORD, health="none"),
        RouterSpec(name="new", dialect="7.18", password=PASSWORD, health="none"),
        RouterSpec(name="pre643", dialect="6.49", password=PASSWORD, login="challenge"),
        RouterSpec(name="utf8", password=PASSWORD, identity=IDENTITY, wan_interface="ether1-wan"),
        RouterSpec(name="winbox", password=PASSWORD, identity=IDENTITY, encoding="cp1252"),
    ]
    with SimFleet(specs) as running:
        yield running


@pytest.fixture
def client(fleet: SimFleet, request: pytest.FixtureRequest) -> Iterator[RawClient]:
    raw = RawClient(fleet.port(fleet.index(getattr(request, "param", "old"))))
    yield raw
    raw.close()


def test_fatal_before_login_then_closed(client: RawClient) -> None:
    assert client.call("/interface/print") == [["!fatal", "not logged in"]]
    assert client.closed()


def test_bad_password_is_trap_then_done(client: RawClient) -> None:
    reply = client.call("/login", "=name=pantau", "=password=wrong")
    assert reply == [["!trap", "=message=invalid user name or password (6)"], ["!done"]]
    client.login()  # the session stays usable, as on a router


def test_tag_echoed_only_when_sent(client: RawClient) -> None:
    client.login()
    assert client.call("/system/identity/print", ".tag=42") == [
        ["!re", "=name=old", ".tag=42"],
        ["!done", ".tag=42"],
    ]
    assert client.call("/system/identity/print") == [["!re", "=name=old"], ["!done"]]


def test_proplist_and_query(client: RawClient) -> None:
    client.login()
    reply = client.call(
        "/interface/print", "=.proplist=running,name,link-downs", "?name=ether1", ".tag=a"
    )
    assert reply == [
        ["!re", "=running=true", "=name=ether1", "=link-downs=0", ".tag=a"],
        ["!done", ".tag=a"],
    ]
    names = client.call("/interface/print", "=.proplist=name", "?type=ether", "?type=wlan", "?#|")
    assert names == [["!re", "=name=ether1"], ["!re", "=name=ether2"], ["!re", "=name=wlan1"],
                     ["!done"]]  # fmt: skip


def test_count_only_is_one_short_reply(client: RawClient) -> None:
    client.login()
    before = client.received
    assert client.call("/ip/hotspot/active/print", "=count-only=") == [["!done", "=ret=1000"]]
    assert client.received - before == len(encode_sentence(["!done", "=ret=1000"])) == 17
    bound = client.call("/ip/dhcp-server/lease/print", "=count-only=", "?status=bound")
    assert bound == [["!done", "=ret=30"]]
    sessions = client.call("/ip/hotspot/active/print", "=.proplist=.id")
    assert len(sessions) == 1001 and sessions[-1] == ["!done"]


@pytest.mark.parametrize(
    ("client", "reply"),
    [
        ("old", [["!done"]]),
        ("mid", [["!done"]]),
        ("new", [["!empty"], ["!done"]]),
    ],
    indirect=["client"],
)
def test_empty_reply_by_dialect(client: RawClient, reply: list[list[str]]) -> None:
    client.login()
    assert client.call("/interface/print", "?name=ether9") == reply


@pytest.mark.parametrize(
    ("client", "reply"),
    [("mid", [["!done"]]), ("new", [["!empty"], ["!done"]])],
    indirect=["client"],
)
def test_board_without_sensors(client: RawClient, reply: list[list[str]]) -> None:
    client.login()
    assert client.call("/system/health/print") == reply


def test_traps_for_unknown_commands(client: RawClient) -> None:
    client.login()
    assert client.call("/interface/frobnicate") == [
        ["!trap", "=message=no such command"],
        ["!done"],
    ]
    assert client.call("/no/such/menu/print") == [
        ["!trap", "=message=no such command prefix"],
        ["!done"],
    ]
    assert client.call("/interface/print", "=colour=red") == [
        ["!trap", "=message=unknown parameter colour"],
        ["!done"],
    ]


def test_missing_package_is_no_such_command_prefix(fleet: SimFleet) -> None:
    router = fleet.routers[fleet.index("new")]
    client = RawClient(fleet.port(fleet.index("new")))
    try:
        client.login()
        table = "/interface/wifi/registration-table/print"
        assert client.call(table, "=count-only=") == [["!done", "=ret=18"]]
        router.remove_package("wifi-qcom")
        assert client.call(table, "=count-only=") == [
            ["!trap", "=message=no such command prefix"],
            ["!done"],
        ]
    finally:
        router.add_package("wifi-qcom")
        client.close()


def test_quit_is_fatal_and_closes(client: RawClient) -> None:
    client.login()
    assert client.call("/quit") == [["!fatal", "session terminated on request"]]
    assert client.closed()


@pytest.mark.parametrize("client", ["new"], indirect=True)
def test_ping_rows_and_cancel_by_tag(client: RawClient) -> None:
    client.login()
    reply = client.call("/ping", "=address=1.1.1.1", "=count=2", "=interval=20ms")
    assert reply == [
        ["!re", "=seq=0", "=host=1.1.1.1", "=size=56", "=ttl=57", "=time=12ms412us", "=sent=1",
         "=received=1", "=packet-loss=0", "=min-rtt=12ms412us", "=avg-rtt=12ms412us",
         "=max-rtt=12ms412us"],
        ["!re", "=seq=1", "=host=1.1.1.1", "=size=56", "=ttl=57", "=time=12ms712us", "=sent=2",
         "=received=2", "=packet-loss=0", "=min-rtt=12ms412us", "=avg-rtt=12ms562us",
         "=max-rtt=12ms712us"],
        ["!done"],
    ]  # fmt: skip
    client.send("/ping", "=address=1.1.1.1", "=interval=1s", ".tag=p")
    assert client.sentence()[:2] == ["!re", "=seq=0"]
    client.send("/cancel", "=tag=p", ".tag=c")
    got = [client.sentence() for _ in range(3)]
    assert got == [
        ["!trap", "=category=2", "=message=interrupted", ".tag=p"],
        ["!done", ".tag=p"],
        ["!done", ".tag=c"],
    ]


@pytest.mark.parametrize("client", ["pre643"], indirect=True)
def test_challenge_login(client: RawClient) -> None:
    reply = client.call("/login")
    assert reply[0][0] == "!done" and reply[0][1].startswith("=ret=")
    challenge = bytes.fromhex(reply[0][1][5:])
    digest = hashlib.md5(b"\x00" + PASSWORD.encode() + challenge, usedforsecurity=False)
    assert client.call("/login", "=name=pantau", f"=response=00{digest.hexdigest()}") == [["!done"]]
    assert client.call("/system/identity/print") == [["!re", "=name=pre643"], ["!done"]]


@pytest.mark.parametrize("client", ["pre643"], indirect=True)
def test_plain_login_on_old_router_is_not_logged_in(client: RawClient) -> None:
    # A router before 6.43 answers a plain login with a challenge: the client is not in.
    reply = client.call("/login", "=name=pantau", f"=password={PASSWORD}")
    assert reply[0][1].startswith("=ret=")
    assert client.call("/system/identity/print") == [["!fatal", "not logged in"]]


@pytest.mark.parametrize(
    ("client", "dash"), [("utf8", b"\xe2\x80\x93"), ("winbox", b"\x96")], indirect=["client"]
)
def test_identity_bytes_in_the_routers_encoding(client: RawClient, dash: bytes) -> None:
    client.login()
    client.send("/system/identity/print")
    data = b""
    while not data.endswith(b"\x05!done\x00"):
        data += client.sock.recv(65536)
    name = f"=name={IDENTITY}".encode().replace("–".encode(), dash)
    assert data == b"\x03!re" + bytes([len(name)]) + name + b"\x00\x05!done\x00"


@pytest.mark.parametrize("client", ["utf8"], indirect=True)
def test_wan_port_named_by_the_spec(client: RawClient) -> None:
    client.login()
    names = client.call("/interface/print", "=.proplist=name")
    assert names == [["!re", f"=name={n}"] for n in ("ether1-wan", "ether2", "wifi1",
                                                     "bridge-hotspot")] + [["!done"]]  # fmt: skip
    counters = client.call("/interface/print", "=.proplist=rx-byte", "?name=ether1-wan")
    assert counters[0][0] == "!re" and counters[0][1].startswith("=rx-byte=")


def test_cli_serves_until_terminated(tmp_path: Path) -> None:
    secret = tmp_path / "router.pw"
    secret.write_text(PASSWORD)
    secret.chmod(0o600)
    ports_file = tmp_path / "ports.json"
    sim = subprocess.Popen(
        [sys.executable, "-m", "pantau.shared.cli", "routeros-sim", "--routers", "2",
         "--dialect", "6.49", "--dialect", "7.18", "--port", "0", "--password-file", str(secret),
         "--ports-file", str(ports_file), "--hotspot", "1000"],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
    )  # fmt: skip
    try:
        assert sim.stdout is not None
        lines = [sim.stdout.readline().strip() for _ in range(3)]
        listing = json.loads(ports_file.read_text())["routers"]
        assert [(r["name"], r["dialect"]) for r in listing] == [("r001", "6.49"), ("r002", "7.18")]
        assert lines == [
            f"r001 6.49 api 127.0.0.1:{listing[0]['port']}",
            f"r002 7.18 api 127.0.0.1:{listing[1]['port']}",
            "ready: 2 router(s)",
        ]
        raw = RawClient(listing[1]["port"])
        raw.login()
        assert raw.call("/ip/hotspot/active/print", "=count-only=") == [["!done", "=ret=1000"]]
        raw.close()
    finally:
        sim.terminate()
        assert sim.wait(10) == 0


def test_cli_routers_in_utf8_and_a_legacy_code_page(tmp_path: Path) -> None:
    secret = tmp_path / "router.pw"
    secret.write_text(PASSWORD)
    secret.chmod(0o600)
    ports_file = tmp_path / "ports.json"
    sim = subprocess.Popen(
        [sys.executable, "-m", "pantau.shared.cli", "routeros-sim", "--routers", "2",
         "--encoding", "utf-8", "--encoding", "cp1252", "--identity", IDENTITY, "--port", "0",
         "--password-file", str(secret), "--ports-file", str(ports_file)],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
    )  # fmt: skip
    try:
        assert sim.stdout is not None
        assert [sim.stdout.readline().strip() for _ in range(3)][-1] == "ready: 2 router(s)"
        listing = json.loads(ports_file.read_text())["routers"]
        assert [r["encoding"] for r in listing] == ["utf-8", "cp1252"]
        for router, dash in zip(listing, (b"\xe2\x80\x93", b"\x96"), strict=True):
            raw = RawClient(router["port"])
            raw.login()
            raw.send("/system/identity/print")
            data = b""
            while not data.endswith(b"\x05!done\x00"):
                data += raw.sock.recv(65536)
            assert b"=name=Balai Warga " + dash + b" Citangkil 03\x00" in data
            raw.close()
    finally:
        sim.terminate()
        assert sim.wait(10) == 0


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        ([], "pantau routeros-sim: give the API password with --password-file or --password-env"),
        (["--password-env", "PANTAU_NO_SUCH_VAR"],
         "pantau routeros-sim: --password-env: environment variable 'PANTAU_NO_SUCH_VAR' not set"),
        (["--password-env", "HOME", "--routers", "200", "--port", "9000", "--tls-port", "9100"],
         "pantau routeros-sim: --port 9000 and --tls-port 9100 ranges overlap for 200 routers;"
         " keep them at least 200 apart"),
        (["--password-env", "HOME", "--encoding", "klingon"],
         "pantau routeros-sim: --encoding: unknown encoding 'klingon' (e.g. cp1252)"),
    ],
)  # fmt: skip
def test_cli_bad_arguments_are_one_line(extra: list[str], message: str) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "pantau.shared.cli", "routeros-sim", *extra],
        capture_output=True, text=True, timeout=30,
    )  # fmt: skip
    assert result.returncode == 2
    assert result.stderr.strip().splitlines() == [message]
