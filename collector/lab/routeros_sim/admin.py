"""The simulator's configuration menus: users, user groups, IP services and certificates.

These are what a deployment changes on a router (`/user/group add`, `/user add`,
`/ip/service set`, `/certificate add` and `sign`), answered the way RouterOS answers them, so
the community.routeros Ansible modules can configure a simulated router and read it back.
Each router keeps its own tables; the API user the simulator was started with is the `full`
admin, and users added here can log in too.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from dataclasses import dataclass, field

from pantau.collector.lab.routeros_sim import commands
from pantau.collector.lab.routeros_sim.commands import Reply, Request, Session, trap
from pantau.collector.lab.routeros_sim.router import TABLES, Row, SimRouter

BASE_POLICIES = [
    *("local", "telnet", "ssh", "ftp", "reboot", "read", "write", "policy", "test", "winbox"),
    *("password", "web", "sniff", "sensitive", "api", "romon"),
]
POLICIES_7 = [*BASE_POLICIES, "rest-api"]
POLICIES_6 = [*BASE_POLICIES, "dude", "tikapp"]
DEFAULT_GROUPS = {
    "read": "local,telnet,ssh,reboot,read,test,winbox,password,web,sniff,sensitive,api,romon",
    "write": "local,telnet,ssh,reboot,read,write,test,winbox,password,web,sniff,sensitive,api,"
    "romon",
    "full": ",".join(BASE_POLICIES),  # and whatever the release adds
}
SERVICES = (  # name, port, has TLS
    ("telnet", 23, False),
    ("ftp", 21, False),
    ("www", 80, False),
    ("ssh", 22, False),
    ("www-ssl", 443, True),
    ("api", 8728, False),
    ("winbox", 8291, False),
    ("api-ssl", 8729, True),
)
WRITABLE = {
    "/user/group": {"name", "policy", "skin", "comment"},
    "/user": {"name", "group", "password", "address", "comment", "disabled"},
    "/ip/service": {"port", "address", "certificate", "tls-version", "disabled", "vrf"},
    "/certificate": {
        "name",
        "common-name",
        "subject-alt-name",
        "key-size",
        "key-usage",
        "days-valid",
        "country",
        "state",
        "locality",
        "organization",
        "unit",
        "trusted",
    },
}
BOOLEANS = {"disabled", "trusted"}


@dataclass
class Table:
    """Rows of one menu with RouterOS-style ids (`*1`, `*2`, ... never reused)."""

    rows: list[Row] = field(default_factory=list)
    next_id: int = 1

    def add(self, row: Row) -> str:
        ident = f"*{self.next_id:X}"
        self.next_id += 1
        self.rows.append({".id": ident, **row})
        return ident

    def find(self, key: str) -> Row | None:
        """By `.id` or, as RouterOS allows for named items, by name."""
        for row in self.rows:
            if key in (row[".id"], row.get("name")):
                return row
        return None


@dataclass
class AdminState:
    policies: list[str]
    tables: dict[str, Table]
    passwords: dict[str, str] = field(default_factory=dict)  # user name -> password


def state(router: SimRouter) -> AdminState:
    """The router's admin tables, made on first use (kept on the router object)."""
    found = vars(router).get("admin_state")
    if isinstance(found, AdminState):
        return found
    made = _initial(router)
    vars(router)["admin_state"] = made
    return made


def _initial(router: SimRouter) -> AdminState:
    policies = POLICIES_7 if router.dialect.major >= 7 else POLICIES_6
    groups = Table()
    for name, granted in DEFAULT_GROUPS.items():
        if name == "full":
            granted = ",".join(policies)
        groups.add({"name": name, "policy": policy_text(granted, policies), "skin": "default"})
    users = Table()
    users.add(_user_row({"name": router.spec.username, "group": "full"}))
    services = Table()
    for name, port, tls in SERVICES:
        row = {"name": name, "port": str(port), "address": "", "disabled": "false"}
        if tls:
            row |= {"certificate": "none", "tls-version": "any"}
            row["disabled"] = "true"
        row["invalid"] = "false"
        if router.dialect.major >= 7:
            row["vrf"] = "main"
            row["max-sessions"] = "20"
        services.add(row)
    tables = {"/user/group": groups, "/user": users, "/ip/service": services}
    tables["/certificate"] = Table()
    return AdminState(policies=policies, tables=tables)


def policy_text(given: str, policies: list[str]) -> str:
    """What a router prints for a policy list: granted ones, then the others negated."""
    granted = {p for p in given.split(",") if p and not p.startswith("!")}
    unknown = sorted(granted - set(policies))
    if unknown:
        raise ValueError(unknown[0])
    return ",".join(
        [p for p in policies if p in granted] + [f"!{p}" for p in policies if p not in granted]
    )


def _user_row(attrs: dict[str, str]) -> Row:
    row = {
        "name": attrs["name"],
        "group": attrs["group"],
        "address": attrs.get("address", ""),
        "last-logged-in": "",
        "disabled": "false",
        "expired": "false",
    }
    if "comment" in attrs:
        row["comment"] = attrs["comment"]
    return row


def _reader(menu: str) -> Callable[[SimRouter], list[Row]]:
    def read(router: SimRouter) -> list[Row]:
        return [dict(row) for row in state(router).tables[menu].rows]

    return read


def _bool(value: str) -> str:
    return "true" if value.lower() in ("yes", "true") else "false"


def _check(menu: str, attributes: dict[str, str], allowed: set[str]) -> str | None:
    unknown = sorted(set(attributes) - allowed)
    return f"unknown parameter {unknown[0]}" if unknown else None


def _normalise(menu: str, attributes: dict[str, str], admin: AdminState) -> dict[str, str]:
    values = {k: _bool(v) if k in BOOLEANS else v for k, v in attributes.items()}
    if menu == "/user/group" and "policy" in values:
        values["policy"] = policy_text(values["policy"], admin.policies)
    return values


def add(router: SimRouter, session: Session, request: Request) -> Reply:
    menu = request.command.rpartition("/")[0]
    if menu not in WRITABLE or menu == "/ip/service":
        return trap("no such command")
    admin = state(router)
    problem = _check(menu, request.attributes, WRITABLE[menu])
    if problem:
        return trap(problem)
    name = request.attributes.get("name", "")
    if not name:
        return trap("missing value of argument name")
    table = admin.tables[menu]
    if table.find(name) is not None:
        what = {"/user": "user", "/user/group": "group"}.get(menu, "item")
        return trap(f"failure: {what} with the same name already exists")
    try:
        values = _normalise(menu, request.attributes, admin)
    except ValueError as exc:
        return trap(f"input does not match any value of policy: {exc}")
    if menu == "/user":
        if admin.tables["/user/group"].find(values.get("group", "")) is None:
            return trap("input does not match any value of group")
        admin.passwords[name] = values.pop("password", "")
        row = _user_row(values)
    elif menu == "/user/group":
        row = {"skin": "default", **values}
        row.setdefault("policy", policy_text("", admin.policies))
    else:
        row = _certificate_row(values)
    return Reply([["!done", f"=ret={table.add(row)}"]])


def set_(router: SimRouter, session: Session, request: Request) -> Reply:
    menu = request.command.rpartition("/")[0]
    if menu not in WRITABLE:
        return trap("no such command")
    admin = state(router)
    attrs = dict(request.attributes)
    key = attrs.pop(".id", None) or attrs.pop("numbers", None)
    if not key:
        return trap("missing value of argument numbers")
    problem = _check(menu, attrs, WRITABLE[menu] - ({"name"} if menu == "/ip/service" else set()))
    if problem:
        return trap(problem)
    table = admin.tables[menu]
    rows = [table.find(k) for k in key.split(",")]
    if any(row is None for row in rows):
        return trap("no such item")
    try:
        values = _normalise(menu, attrs, admin)
    except ValueError as exc:
        return trap(f"input does not match any value of policy: {exc}")
    if (
        menu == "/user"
        and "group" in values
        and admin.tables["/user/group"].find(values["group"]) is None
    ):
        return trap("input does not match any value of group")
    for row in rows:
        assert row is not None
        if menu == "/user" and "password" in values:
            admin.passwords[row["name"]] = values["password"]
        row.update({k: v for k, v in values.items() if k != "password"})
    return Reply([["!done"]])


def remove(router: SimRouter, session: Session, request: Request) -> Reply:
    menu = request.command.rpartition("/")[0]
    if menu not in WRITABLE or menu == "/ip/service":
        return trap("no such command")
    table = state(router).tables[menu]
    key = request.attributes.get(".id") or request.attributes.get("numbers", "")
    rows = [table.find(k) for k in key.split(",") if k]
    if not rows or any(row is None for row in rows):
        return trap("no such item")
    table.rows = [row for row in table.rows if all(row is not r for r in rows)]
    return Reply([["!done"]])


def _certificate_row(values: dict[str, str]) -> Row:
    return {
        "name": values["name"],
        "common-name": values.get("common-name", values["name"]),
        "subject-alt-name": values.get("subject-alt-name", ""),
        "key-size": values.get("key-size", "2048"),
        "days-valid": values.get("days-valid", "365"),
        "key-usage": values.get("key-usage", ""),
        "trusted": values.get("trusted", "false"),
        "private-key": "false",
    }


SIGN_PARAMETERS = {"number", "numbers", ".id", "ca", "name", "ca-on-smart-card", "ca-crl-host"}


def sign(router: SimRouter, session: Session, request: Request) -> Reply:
    """Self-sign (or sign with a CA on the router) a certificate template added before."""
    attrs = request.attributes
    unknown = sorted(set(attrs) - SIGN_PARAMETERS)
    if unknown:
        return trap(f"unknown parameter {unknown[0]}")
    table = state(router).tables["/certificate"]
    key = attrs.get("number") or attrs.get("numbers") or attrs.get(".id", "")
    row = table.find(key)
    if row is None:
        return trap("no such item")
    if row.get("fingerprint"):
        return trap("certificate is already issued")
    ca = attrs.get("ca")
    if ca and table.find(ca) is None:
        return trap("no such CA certificate")
    if attrs.get("name"):
        row["name"] = attrs["name"]
    signer = table.find(ca) if ca else row
    assert signer is not None
    digest = hashlib.sha256(f"{router.spec.name}/{row['.id']}/{row['common-name']}".encode())
    row |= {
        "fingerprint": digest.hexdigest(),
        "serial-number": digest.hexdigest()[:16].upper(),
        "private-key": "true",
        "issuer": f"CN={signer['common-name']}",
    }
    return Reply([["!re", "=progress=done"], ["!done"]])


def login_ok(router: SimRouter, name: str, password: str) -> bool:
    """Users added through the API log in with the password they were given."""
    admin = state(router)
    user = admin.tables["/user"].find(name)
    return (
        user is not None
        and user.get("disabled") != "true"
        and name in admin.passwords
        and admin.passwords[name] == password
    )


for _menu in WRITABLE:
    TABLES[_menu] = _reader(_menu)
commands.MENU_COMMANDS["add"] = add
commands.MENU_COMMANDS["set"] = set_
commands.MENU_COMMANDS["remove"] = remove
commands.COMMANDS["/certificate/sign"] = sign
commands.LOGIN_CHECKS.append(login_ok)
