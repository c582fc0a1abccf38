"""The simulator's configuration menus answer add/set/remove/print like a router."""

from __future__ import annotations

import pytest

from pantau.collector.lab.routeros_sim import RouterSpec, SimRouter
from pantau.collector.lab.routeros_sim.admin import POLICIES_6, policy_text
from pantau.collector.lab.routeros_sim.commands import Session, execute


def session(router: SimRouter) -> Session:
    s = Session()
    assert execute(router, s, ["/login", "=name=admin", "=password=pw"]).sentences == [["!done"]]
    return s


def call(router: SimRouter, s: Session, *words: str) -> list[list[str]]:
    return execute(router, s, list(words)).sentences


def rows(router: SimRouter, s: Session, menu: str, *query: str) -> list[dict[str, str]]:
    out = []
    for sentence in call(router, s, f"{menu}/print", *query):
        if sentence[0] == "!re":
            out.append(dict(w[1:].split("=", 1) for w in sentence[1:]))
    return out


@pytest.fixture
def router() -> SimRouter:
    return SimRouter(RouterSpec(name="r1", username="admin", password="pw"))


def test_group_and_user_are_added_and_log_in(router: SimRouter) -> None:
    s = session(router)
    assert call(router, s, "/user/group/add", "=name=pantau-ro", "=policy=read,api,test") == [
        ["!done", "=ret=*4"]
    ]
    group = rows(router, s, "/user/group", "?name=pantau-ro")
    assert group == [
        {
            ".id": "*4",
            "skin": "default",
            "name": "pantau-ro",
            "policy": "read,test,api,!local,!telnet,!ssh,!ftp,!reboot,!write,!policy,!winbox,"
            "!password,!web,!sniff,!sensitive,!romon,!rest-api",
        }
    ]
    added = call(router, s, "/user/add", "=name=pantau", "=group=pantau-ro", "=password=s3")
    assert added == [["!done", "=ret=*2"]]
    users = {u["name"]: u for u in rows(router, s, "/user")}
    assert set(users) == {"admin", "pantau"}
    assert users["pantau"]["group"] == "pantau-ro" and "password" not in users["pantau"]
    ok = execute(router, Session(), ["/login", "=name=pantau", "=password=s3"])
    bad = execute(router, Session(), ["/login", "=name=pantau", "=password=nope"])
    assert ok.sentences == [["!done"]]
    assert bad.sentences[0][0] == "!trap"


@pytest.mark.parametrize(
    ("words", "message"),
    [
        (["/user/add", "=name=x", "=group=nogroup"], "input does not match any value of group"),
        (["/user/add", "=name=admin", "=group=full"], "failure: user with the same name"),
        (
            ["/user/group/add", "=name=g", "=policy=read,fly"],
            "input does not match any value of policy: fly",
        ),
        (["/user/group/add", "=name=g", "=colour=red"], "unknown parameter colour"),
        (["/ip/service/add", "=name=x"], "no such command"),
        (["/interface/set", "=.id=*1", "=mtu=1400"], "no such command"),
        (["/user/set", "=.id=*99", "=group=read"], "no such item"),
        (["/certificate/sign", "=number=missing"], "no such item"),
    ],
)
def test_refusals(router: SimRouter, words: list[str], message: str) -> None:
    reply = call(router, session(router), *words)
    assert reply[0][0] == "!trap"
    assert any(w.startswith(f"=message={message}") for w in reply[0])


def test_service_set_by_id_and_booleans(router: SimRouter) -> None:
    s = session(router)
    ssl = rows(router, s, "/ip/service", "?name=api-ssl")[0]
    assert (ssl["disabled"], ssl["certificate"], ssl["port"]) == ("true", "none", "8729")
    done = call(
        router, s, "/ip/service/set", f"=.id={ssl['.id']}", "=disabled=no", "=address=10.0.0.5/32"
    )
    assert done == [["!done"]]
    ssl = rows(router, s, "/ip/service", "?name=api-ssl")[0]
    assert (ssl["disabled"], ssl["address"]) == ("false", "10.0.0.5/32")
    assert len(rows(router, s, "/ip/service")) == 8


def test_certificate_is_signed_once(router: SimRouter) -> None:
    s = session(router)
    assert call(router, s, "/certificate/add", "=name=api", "=common-name=r1")[0][0] == "!done"
    assert "fingerprint" not in rows(router, s, "/certificate")[0]
    assert call(router, s, "/certificate/sign", "=number=api")[-1] == ["!done"]
    cert = rows(router, s, "/certificate", "?name=api")[0]
    assert len(cert["fingerprint"]) == 64 and cert["private-key"] == "true"
    again = call(router, s, "/certificate/sign", "=number=api")
    assert again[0][0] == "!trap"


def test_remove_and_ros6_policies() -> None:
    router = SimRouter(RouterSpec(name="r6", dialect="6.49", username="admin", password="pw"))
    s = session(router)
    call(router, s, "/user/group/add", "=name=g", "=policy=read,dude")
    assert rows(router, s, "/user/group", "?name=g")[0]["policy"] == policy_text(
        "read,dude", POLICIES_6
    )
    assert call(router, s, "/user/group/remove", "=.id=*4") == [["!done"]]
    assert rows(router, s, "/user/group", "?name=g") == []
