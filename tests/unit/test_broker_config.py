"""What `pantau broker config` writes: the access rules and mosquitto.conf line by line, the
files and their modes, and the commands end to end (in-process)."""

from __future__ import annotations

import json
import stat
from pathlib import Path

import pytest

from pantau.collector.admin import dynsec
from pantau.collector.admin.broker_cli import admin_port
from pantau.collector.admin.broker_config import (
    TUNING,
    BrokerSettings,
    find_dynsec_plugin,
    limit_lines,
    render_conf,
    rewrite_remembered,
    write_broker_files,
)
from pantau.collector.admin.pki import Identity, Pki, PkiError
from pantau.collector.lab import services
from pantau.shared.cli import main
from tests.pipeline import registry_file


def test_rules_give_each_agent_only_its_own_topics_and_no_subscription() -> None:
    identities = [
        Identity("cit-02", "agent"),
        Identity("cit-01", "agent"),
        Identity("cit-03", "agent", status="revoked"),
        Identity("old-point", "agent"),  # no longer in the registry: no rights
        Identity("pantau-collector", "collector"),
        Identity("noc", "noc"),
    ]
    rules = dynsec.rules_for(["cit-01", "cit-02", "cit-03"], identities)
    assert rules.clients == {
        "cit-01": ("cit-01", frozenset({"pantau-agent-cit-01"})),
        "cit-02": ("cit-02", frozenset({"pantau-agent-cit-02"})),
        "pantau-collector": ("pantau-collector", frozenset({"pantau-collector"})),
        "noc": ("noc", frozenset({"pantau-noc"})),
        "pantau-broker-admin": (None, frozenset({"pantau-admin"})),  # the only one not pinned
    }
    assert rules.revoked == ("cit-03",) and rules.agents == ("cit-01", "cit-02")
    assert sorted(rules.roles["pantau-agent-cit-01"]) == [
        ("publishClientReceive", "pantau/v1/cit-01/receipt", True),
        *[
            ("publishClientSend", f"pantau/v1/cit-01/{kind}", True)
            for kind in ("event", "state", "telemetry")
        ],
        ("subscribePattern", "pantau/v1/cit-01/receipt", True),
    ]  # and nothing else: no other subscription, no other read
    collector = rules.roles["pantau-collector"]
    assert {a[0] for a in collector} == {
        "subscribePattern",
        "publishClientReceive",
        "publishClientSend",
    }
    assert [a for a in collector if a[0] == "publishClientSend"] == [
        ("publishClientSend", "pantau/v1/+/receipt", True)
    ]  # receipts only: a collector never speaks for a point
    assert ("subscribePattern", "$share/+/pantau/v1/+/telemetry", True) in collector
    assert sorted(rules.roles["pantau-noc"]) == [
        ("publishClientReceive", "pantau/v1/+/state", True),
        ("subscribePattern", "pantau/v1/+/state", True),
    ]
    data = rules.to_json()
    assert data["defaultACLAccess"] == {
        "publishClientSend": False,
        "publishClientReceive": False,
        "subscribe": False,
        "unsubscribe": True,
    }
    assert dynsec.Rules.from_json(json.loads(json.dumps(data))) == rules


def test_sync_plans_only_what_differs() -> None:
    want = dynsec.rules_for(["cit-01"], [Identity("cit-01", "agent")])
    live = {"roles": [], "clients": [], "default": {}}
    first = dynsec.plan(live, want)
    assert [c["command"] for c in first] == [
        "setDefaultACLAccess",
        "createRole",
        "createRole",
        "createRole",
        "createRole",
        "createClient",
        "createClient",
    ]
    applied = json.loads(json.dumps(want.to_json()))
    same = {"roles": applied["roles"], "clients": applied["clients"]}
    assert dynsec.plan(same | {"default": dict(dynsec.DEFAULT_ACCESS)}, want) == []
    gone = dynsec.rules_for(["cit-01"], [Identity("cit-01", "agent", status="revoked")])
    later = dynsec.plan(same | {"default": dict(dynsec.DEFAULT_ACCESS)}, gone)
    assert later == [
        {"command": "deleteClient", "username": "cit-01"},
        {"command": "deleteRole", "rolename": "pantau-agent-cit-01"},
    ]


def test_conf_listeners(tmp_path: Path) -> None:
    pki = Pki(tmp_path / "pki")
    pki.init(["127.0.0.1"])
    files = write_broker_files(pki, [], tmp_path / "out", BrokerSettings(plain_port=1883))
    text = render_conf(BrokerSettings(plain_port=1883, bind="203.0.113.7"), files)
    lines = text.splitlines()
    assert lines[1:8] == [
        "user mosquitto",
        "per_listener_settings false",
        "allow_anonymous false",
        f"password_file {files.passwd}",
        "# Subscriptions checked when they are made: collector/admin/dynsec.py",
        f"plugin {find_dynsec_plugin()}",
        f"plugin_opt_config_file {files.dynsec}",
    ]
    limits = [line for line in lines if line.startswith("max_")]
    assert limits == [
        "max_inflight_messages 0",
        "max_packet_size 1049600",  # the collector's 1 MiB and room for topic and properties
        "max_queued_messages 2000000",
        "max_queued_bytes 1073741824",
    ]
    assert lines[-1] == "listener 8885 127.0.0.1"  # admin: loopback, client id not forced
    cert_block = lines[lines.index("listener 8883 203.0.113.7") :][:10]
    assert cert_block[1:] == [
        f"cafile {files.ca}",
        f"certfile {files.cert}",
        f"keyfile {files.key}",
        "tls_version tlsv1.2",
        f"crlfile {files.crl}",
        "require_certificate true",
        "use_identity_as_username true",
        "use_username_as_clientid true",
        "",
    ]
    password_block = lines[lines.index("listener 8884 203.0.113.7") :][:7]
    assert "require_certificate false" in password_block
    assert "listener 1883 127.0.0.1" in lines  # plaintext: loopback only, whatever the bind
    assert "log_dest syslog" in lines and "persistence_location /var/lib/mosquitto/" in lines
    off = render_conf(BrokerSettings(password_port=None), files).splitlines()
    assert [line for line in off if line.startswith("listener")] == [
        "listener 8883",
        "listener 8885 127.0.0.1",
    ]


def test_the_production_broker_keeps_the_tuning_of_the_test_broker(tmp_path: Path) -> None:
    test_broker = services.mosquitto_conf(1883, tmp_path).splitlines()
    assert [line for line in (*TUNING, *limit_lines()) if line not in test_broker] == []
    pki = Pki(tmp_path / "pki")
    pki.init(["127.0.0.1"])
    files = write_broker_files(pki, [], tmp_path / "out", BrokerSettings())
    assert set(TUNING) <= set(files.conf.read_text().splitlines())


def test_files_are_private_complete_and_stable(tmp_path: Path) -> None:
    pki = Pki(tmp_path / "pki")
    pki.init(["127.0.0.1"])
    pki.issue("cit-01", method="both")
    pki.issue("pantau-collector", "collector")
    out = tmp_path / "broker"
    first = write_broker_files(pki, ["cit-01"], out, BrokerSettings(run_as="root"))
    assert first.agents == ["cit-01"] and first.collectors == ["pantau-collector"]
    written = {p: p.read_bytes() for p in out.rglob("*") if p.is_file()}
    assert sorted(p.relative_to(out).as_posix() for p in written) == [
        "admin.password",
        "dynamic-security.json",
        "mosquitto.conf",
        "passwd",
        "rules.json",
        "tls/broker.key",
        "tls/broker.pem",
        "tls/ca.pem",
        "tls/crl.pem",
    ]
    assert all(stat.S_IMODE(p.stat().st_mode) == 0o600 for p in written)
    assert pki.ca_key_path.read_bytes() not in written.values()  # the CA's key stays behind
    passwd = written[out / "passwd"].decode().splitlines()
    assert [line.split(":")[0] for line in passwd] == ["pantau-broker-admin", "cit-01"]
    assert passwd[1].startswith("cit-01:$7$")
    write_broker_files(pki, ["cit-01"], out, BrokerSettings(run_as="root"))
    assert {p: p.read_bytes() for p in written} == written  # re-running changes nothing


def test_revoke_rewrites_the_remembered_broker_files(tmp_path: Path) -> None:
    pki = Pki(tmp_path / "pki")
    pki.init(["127.0.0.1"])
    pki.issue_many(["cit-01", "cit-02"], method="both")
    assert rewrite_remembered(pki) is None  # no broker config yet: nothing to rewrite
    out = tmp_path / "broker"
    write_broker_files(pki, ["cit-01", "cit-02"], out, BrokerSettings(cert_port=18883))
    crl_before = (out / "tls" / "crl.pem").read_bytes()
    pki.revoke("cit-02")
    files = rewrite_remembered(pki)
    assert files is not None and files.out == out.resolve() and files.agents == ["cit-01"]
    users = [line.split(":")[0] for line in (out / "passwd").read_text().splitlines()]
    assert users == ["pantau-broker-admin", "cit-01"]
    rules = dynsec.read_rules(out / "rules.json")
    assert "cit-02" not in rules.clients and rules.revoked == ("cit-02",)
    assert (out / "tls" / "crl.pem").read_bytes() == pki.crl_path.read_bytes() != crl_before
    assert "listener 18883" in (out / "mosquitto.conf").read_text()  # same settings as before


def test_the_commands(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    registry = registry_file(tmp_path / "registry.yaml", ["cit-01", "cit-02"])
    pki = ["--dir", str(tmp_path / "pki")]
    assert main(["pki", "init", *pki, "--host", "127.0.0.1"]) == 0
    assert main(["pki", "issue", "cit-01", *pki, "--registry", str(registry)]) == 0
    assert main(["pki", "issue", "cit-02", *pki, "--method", "password"]) == 0
    assert main(["pki", "issue", "cit-09", *pki, "--registry", str(registry)]) == 2
    assert main(["pki", "issue", "pantau-collector", *pki, "--role", "collector"]) == 0
    out = tmp_path / "broker"
    args = ["broker", "config", *pki, "--registry", str(registry), "--out", str(out)]
    assert main([*args, "--run-as", "root"]) == 0
    assert main(["pki", "revoke", "cit-02", *pki]) == 0
    assert main(["pki", "list", *pki]) == 0
    printed = capsys.readouterr()
    assert "2 of 2 point(s) have credentials" in printed.out
    assert "cit-02: revoked (certificate in the CRL, password entry removed)" in printed.out
    assert f"broker files rewritten in {out}" in printed.out
    assert printed.out.splitlines()[-4:] == [
        "pantau-broker-admin              admin      password       active",
        "cit-01                           agent      cert           active",
        "cit-02                           agent      -              revoked",
        "pantau-collector                 collector  cert           active",
    ]
    assert printed.err.strip() == (
        f"pantau pki: 'cit-09' is not a point of the registry {registry}"
    )
    password = (tmp_path / "pki" / "issued" / "cit-02").glob("password")
    assert list(password) == []  # revoked: the secret is gone, and it was never printed


def test_sync_finds_the_admin_listener_in_the_conf(tmp_path: Path) -> None:
    pki = Pki(tmp_path / "pki")
    pki.init(["127.0.0.1"])
    files = write_broker_files(pki, [], tmp_path / "out", BrokerSettings(admin_port=18885))
    assert admin_port(files.conf) == 18885
    off = write_broker_files(pki, [], tmp_path / "off", BrokerSettings(admin_port=None))
    with pytest.raises(PkiError, match="no admin listener"):
        admin_port(off.conf)
