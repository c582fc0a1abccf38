"""Who may subscribe to what, checked when the subscription is made: mosquitto's dynamic security
plugin, its rules generated from the registry and the PKI.

mosquitto's `acl_file` checks read rights only when a message is delivered, so any identity could
join the collectors' share group (`$share/...`) and take its share of every point's messages,
which the broker then drops for want of a read right. The dynamic security plugin (shipped in
Debian's mosquitto package) checks subscriptions when they are made: an agent may subscribe to
nothing, only collector identities may join the share group, the NOC reads agent states only.

Passwords stay in mosquitto's password file (re-read on SIGHUP); the plugin holds only roles and
rights, and each identity's client id (so no one can take over another's session on the admin
listener, which does not force the client id). The plugin reads its file only at start, so a
running broker is brought in line through its control topic (`sync`), which is also how a revoked
identity's sessions and subscriptions are ended and a revoked point's retained messages cleared.
"""

from __future__ import annotations

import json
import threading
import time
import uuid
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pantau.shared import topics
from pantau.shared.errors import PantauError

ADMIN = "pantau-broker-admin"
CONTROL = "$CONTROL/dynamic-security/v1"
RESPONSE = f"{CONTROL}/response"
AGENT_KINDS = (topics.TELEMETRY, topics.STATE, topics.EVENT)
COLLECTOR_ROLE = "pantau-collector"
NOC_ROLE = "pantau-noc"
ADMIN_ROLE = "pantau-admin"
AGENT_ROLE_PREFIX = "pantau-agent-"
DEFAULT_ACCESS = {  # anything a role does not grant is refused
    "publishClientSend": False,
    "publishClientReceive": False,
    "subscribe": False,
    "unsubscribe": True,
}

Acl = tuple[str, str, bool]  # (acltype, topic, allow)


class DynsecError(PantauError):
    """The broker's dynamic security plugin refused a command or could not be reached."""


@dataclass(frozen=True)
class Rules:
    """Roles (name -> rights) and clients (user name -> (pinned client id, roles))."""

    roles: dict[str, frozenset[Acl]] = field(default_factory=dict)
    clients: dict[str, tuple[str | None, frozenset[str]]] = field(default_factory=dict)
    revoked: tuple[str, ...] = ()  # identities whose sessions must not outlive them
    agents: tuple[str, ...] = ()  # points with an active agent identity

    def to_json(self) -> dict[str, Any]:
        """The plugin's own file format (what it loads at start)."""
        return {
            "defaultACLAccess": dict(DEFAULT_ACCESS),
            "roles": [
                {"rolename": name, "acls": [_acl_json(a) for a in sorted(acls)]}
                for name, acls in sorted(self.roles.items())
            ],
            "clients": [
                {"username": user}
                | ({"clientid": clientid} if clientid else {})
                | {"roles": [{"rolename": r} for r in sorted(roles)]}
                for user, (clientid, roles) in sorted(self.clients.items())
            ],
            "groups": [],
            # Ours, ignored by the plugin: what `pantau broker sync` must also clean up.
            "pantau": {"revoked": list(self.revoked), "agents": list(self.agents)},
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Rules:
        extra = data.get("pantau") or {}
        return cls(
            roles={
                r["rolename"]: frozenset(_acl(a) for a in r.get("acls", []))
                for r in data.get("roles", [])
            },
            clients={
                c["username"]: (
                    c.get("clientid"),
                    frozenset(r["rolename"] for r in c.get("roles", [])),
                )
                for c in data.get("clients", [])
            },
            revoked=tuple(extra.get("revoked", [])),
            agents=tuple(extra.get("agents", [])),
        )


def rules_for(points: Iterable[str], identities: Iterable[Any], admin: str | None = ADMIN) -> Rules:
    """The rights of every active identity: agents publish their own point's three topics and
    read their own receipts, collectors write every point's receipts and subscribe (plain or shared) to every point's, the NOC reads states; an identity
    of a point not in the registry gets no rights at all."""
    registered = set(points)
    roles: dict[str, frozenset[Acl]] = {
        COLLECTOR_ROLE: frozenset(_collector_acls()),
        NOC_ROLE: frozenset(_noc_acls()),
    }
    clients: dict[str, tuple[str | None, frozenset[str]]] = {}
    revoked: list[str] = []
    agents: list[str] = []
    for identity in identities:
        if identity.status != "active":
            revoked.append(identity.name)
            continue
        if identity.role == "agent":
            if identity.name not in registered:
                continue
            role = AGENT_ROLE_PREFIX + identity.name
            receipts = topics.receipt_topic(identity.name)
            roles[role] = frozenset(
                [
                    ("publishClientSend", f"{topics.PREFIX}/{identity.name}/{kind}", True)
                    for kind in AGENT_KINDS
                ]
                + [("subscribePattern", receipts, True), ("publishClientReceive", receipts, True)]
            )
            agents.append(identity.name)
        elif identity.role == "collector":
            role = COLLECTOR_ROLE
        elif identity.role == "noc":
            role = NOC_ROLE
        else:
            continue
        clients[identity.name] = (identity.name, frozenset({role}))
    if admin:
        roles[ADMIN_ROLE] = frozenset(_admin_acls())
        clients[admin] = (None, frozenset({ADMIN_ROLE}))  # the one identity not pinned
    return Rules(roles, clients, tuple(sorted(revoked)), tuple(sorted(agents)))


def _collector_acls() -> list[Acl]:
    acls: list[Acl] = []
    for kind in AGENT_KINDS:
        plain = f"{topics.PREFIX}/+/{kind}"
        acls += [
            ("subscribePattern", plain, True),
            ("subscribePattern", f"$share/+/{plain}", True),
            ("publishClientReceive", plain, True),
        ]
    return [*acls, ("publishClientSend", topics.receipt_topic("+"), True)]


def _noc_acls() -> list[Acl]:
    states = topics.state_topic("+")
    return [("subscribePattern", states, True), ("publishClientReceive", states, True)]


def _admin_acls() -> list[Acl]:
    control = "$CONTROL/dynamic-security/#"
    return [
        ("publishClientSend", control, True),
        ("publishClientReceive", control, True),
        ("subscribePattern", control, True),
        # to find and clear retained messages a revoked point or a faulty agent left behind
        ("subscribePattern", f"{topics.PREFIX}/+/+", True),
        ("publishClientReceive", f"{topics.PREFIX}/#", True),
        ("publishClientSend", f"{topics.PREFIX}/#", True),
    ]


def _acl_json(acl: Acl) -> dict[str, Any]:
    return {"acltype": acl[0], "topic": acl[1], "allow": acl[2]}


def _acl(data: dict[str, Any]) -> Acl:
    return (str(data["acltype"]), str(data["topic"]), bool(data.get("allow", False)))


def plan(live: dict[str, Any], want: Rules) -> list[dict[str, Any]]:
    """Control commands that turn the broker's live rules (`listRoles`/`listClients` answers)
    into `want`. A client is modified only when it differs: the plugin drops its connection."""
    have_roles = {
        r["rolename"]: frozenset(_acl(a) for a in r.get("acls", [])) for r in live["roles"]
    }
    have_clients = {
        c["username"]: (
            c.get("clientid"),
            frozenset(r["rolename"] for r in c.get("roles", [])),
            bool(c.get("disabled")),
        )
        for c in live["clients"]
    }
    commands: list[dict[str, Any]] = []
    if live.get("default") != DEFAULT_ACCESS:
        commands.append(
            {
                "command": "setDefaultACLAccess",
                "acls": [{"acltype": k, "allow": v} for k, v in DEFAULT_ACCESS.items()],
            }
        )
    for name, acls in sorted(want.roles.items()):
        body = {"rolename": name, "acls": [_acl_json(a) for a in sorted(acls)]}
        if name not in have_roles:
            commands.append({"command": "createRole", **body})
        elif have_roles[name] != acls:
            commands.append({"command": "modifyRole", **body})
    for user, (clientid, roles) in sorted(want.clients.items()):
        body = {"username": user, "roles": [{"rolename": r} for r in sorted(roles)]}
        have = have_clients.get(user)
        if have is None:
            commands.append({"command": "createClient", **body, **_clientid(clientid)})
            continue
        if have[0] != clientid or have[1] != roles:
            commands.append({"command": "modifyClient", **body, "clientid": clientid or ""})
        if have[2]:
            commands.append({"command": "enableClient", "username": user})
    for user in sorted(set(have_clients) - set(want.clients)):
        commands.append({"command": "deleteClient", "username": user})  # drops its connections
    for name in sorted(set(have_roles) - set(want.roles)):
        commands.append({"command": "deleteRole", "rolename": name})
    return commands


def _clientid(clientid: str | None) -> dict[str, str]:
    return {"clientid": clientid} if clientid else {}


@dataclass
class SyncReport:
    commands: list[str] = field(default_factory=list)  # "createClient cit-01", ...
    sessions_ended: list[str] = field(default_factory=list)
    retained_cleared: list[str] = field(default_factory=list)  # topics


class Control:
    """One admin connection to the broker's control topic (on the loopback admin listener,
    which does not force the client id: that is how a revoked identity's session is ended)."""

    def __init__(self, host: str, port: int, password: str, timeout_s: float = 10.0) -> None:
        from pantau.shared.mqtt_client import MqttConfig, make_client

        self.host, self.port, self.timeout_s = host, port, timeout_s
        self._password = password
        self._config = MqttConfig(host=host, port=port, username=ADMIN)
        self._responses: dict[str, dict[str, Any]] = {}
        self._retained: dict[str, bytes] = {}
        self._cond = threading.Condition()
        self._suback: list[Any] | None = None
        self._connack: str | None = None
        self.client = make_client(self._config, f"{ADMIN}-{uuid.uuid4().hex[:8]}")
        self.client.username_pw_set(ADMIN, password)
        self.client.on_connect = self._on_connect
        self.client.on_message = self._on_message
        self.client.on_subscribe = self._on_subscribe

    # -- connection ----------------------------------------------------------------------------
    def __enter__(self) -> Control:
        try:
            self.client.connect(self.host, self.port, keepalive=30)
        except OSError as exc:
            raise DynsecError(
                f"broker admin listener {self.host}:{self.port} not reachable: {exc.strerror}"
            ) from None
        self.client.loop_start()
        self._wait(lambda: self._connack is not None, "the broker's CONNACK")
        if self._connack != "Success":
            self.client.loop_stop()
            raise DynsecError(f"the broker refused {ADMIN}: {self._connack}")
        self._subscribe(RESPONSE)
        return self

    def __exit__(self, *exc: object) -> None:
        self.client.disconnect()
        self.client.loop_stop()

    def _on_connect(self, client, userdata, flags, reason_code, properties) -> None:  # type: ignore[no-untyped-def]
        with self._cond:
            self._connack = str(reason_code)
            self._cond.notify_all()

    def _on_subscribe(self, client, userdata, mid, reason_codes, properties) -> None:  # type: ignore[no-untyped-def]
        with self._cond:
            self._suback = list(reason_codes)
            self._cond.notify_all()

    def _on_message(self, client, userdata, message) -> None:  # type: ignore[no-untyped-def]
        with self._cond:
            if message.topic == RESPONSE:
                body = json.loads(message.payload)
                for response in body.get("responses", []):
                    key = response.get("correlationData") or response.get("command", "")
                    self._responses[key] = response
            elif message.retain and message.payload:
                self._retained[message.topic] = message.payload
            self._cond.notify_all()

    def _wait(self, done: Any, what: str) -> None:
        deadline = time.monotonic() + self.timeout_s
        with self._cond:
            while not done():
                left = deadline - time.monotonic()
                if left <= 0:
                    raise DynsecError(f"timed out waiting for {what}")
                self._cond.wait(left)

    def _subscribe(self, topic: str) -> None:
        with self._cond:
            self._suback = None
        self.client.subscribe(topic, qos=1)
        self._wait(lambda: self._suback is not None, f"SUBACK of {topic}")
        assert self._suback is not None
        if any(rc.is_failure for rc in self._suback):
            raise DynsecError(f"the broker refused {ADMIN} the subscription to {topic}")

    # -- commands ------------------------------------------------------------------------------
    def run(self, commands: list[dict[str, Any]]) -> list[dict[str, Any]]:
        """Send commands, wait for every answer; raise on the first error."""
        keys = []
        for command in commands:
            key = uuid.uuid4().hex
            command = {**command, "correlationData": key}
            keys.append(key)
            self.client.publish(CONTROL, json.dumps({"commands": [command]}), qos=1)
        self._wait(lambda: all(k in self._responses for k in keys), "the broker's answers")
        answers = [self._responses.pop(k) for k in keys]
        for command, answer in zip(commands, answers, strict=True):
            if answer.get("error"):
                who = command.get("username") or command.get("rolename") or ""
                raise DynsecError(f"{command['command']} {who}: {answer['error']}".strip())
        return answers

    def live_rules(self) -> dict[str, Any]:
        roles, clients, default = self.run(
            [
                {"command": "listRoles", "verbose": True},
                {"command": "listClients", "verbose": True},
                {"command": "getDefaultACLAccess"},
            ]
        )
        return {
            "roles": roles.get("data", {}).get("roles", []),
            "clients": clients.get("data", {}).get("clients", []),
            "default": {a["acltype"]: a["allow"] for a in default.get("data", {}).get("acls", [])},
        }

    def end_session(self, client_id: str) -> None:
        """Take over `client_id` with a clean start and no session expiry, then leave: the
        broker deletes that session and its subscriptions (a shared one included)."""
        from paho.mqtt.packettypes import PacketTypes
        from paho.mqtt.properties import Properties

        from pantau.shared.mqtt_client import make_client

        state: dict[str, str] = {}
        done = threading.Event()
        client = make_client(self._config, client_id)
        client.username_pw_set(ADMIN, self._password)

        def on_connect(c, u, flags, reason_code, properties) -> None:  # type: ignore[no-untyped-def]
            state["connack"] = str(reason_code)
            done.set()

        client.on_connect = on_connect
        props = Properties(PacketTypes.CONNECT)
        props.SessionExpiryInterval = 0
        client.connect(self.host, self.port, keepalive=30, clean_start=True, properties=props)
        client.loop_start()
        try:
            if not done.wait(self.timeout_s):
                raise DynsecError(f"timed out ending the session of {client_id}")
            if state["connack"] != "Success":
                raise DynsecError(f"could not end the session of {client_id}: {state['connack']}")
        finally:
            client.disconnect()
            client.loop_stop()

    def retained(self, filter_: str) -> dict[str, bytes]:
        """The retained messages under `filter_`: subscribe, then a control round trip (the
        broker queues retained messages before anything sent after the subscription)."""
        with self._cond:
            self._retained.clear()
        self._subscribe(filter_)
        self.run([{"command": "getDefaultACLAccess"}])
        self.client.unsubscribe(filter_)
        with self._cond:
            return dict(self._retained)

    def clear_retained(self, topic: str) -> None:
        info = self.client.publish(topic, b"", qos=1, retain=True)
        info.wait_for_publish(self.timeout_s)


def sync(
    host: str,
    port: int,
    password: str,
    want: Rules,
    end_sessions: Iterable[str] = (),
    timeout_s: float = 10.0,
) -> SyncReport:
    """Bring a running broker in line with `want`: roles and clients, then end the sessions of
    revoked identities (and any named), then clear retained messages no active agent owns and
    any retained telemetry or event (only the state is retained by design)."""
    report = SyncReport()
    with Control(host, port, password, timeout_s) as control:
        commands = plan(control.live_rules(), want)
        if commands:
            control.run(commands)
        report.commands = [
            f"{c['command']} {c.get('username') or c.get('rolename') or ''}".strip()
            for c in commands
        ]
        for name in sorted(set(want.revoked) | set(end_sessions)):
            if name in want.clients:
                continue  # re-issued since: its session is its own again
            control.end_session(name)
            report.sessions_ended.append(name)
        active = set(want.agents)
        for topic in sorted(control.retained(f"{topics.PREFIX}/+/+")):
            parsed = topics.parse_topic(topic)
            if parsed is None or parsed[0] not in active or parsed[1] != topics.STATE:
                control.clear_retained(topic)
                report.retained_cleared.append(topic)
    return report


def write_rules(path: Path, rules: Rules) -> None:
    from pantau.collector.admin.pki import write_private

    write_private(path, (json.dumps(rules.to_json(), indent=1) + "\n").encode())


def read_rules(path: Path) -> Rules:
    try:
        return Rules.from_json(json.loads(path.read_text(encoding="utf-8")))
    except FileNotFoundError:
        raise DynsecError(f"{path}: not found; run `pantau broker config` first") from None
    except (ValueError, KeyError, TypeError) as exc:
        raise DynsecError(f"{path}: not a rules file ({type(exc).__name__})") from None
