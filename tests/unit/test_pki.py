"""The project CA: what `pantau pki` makes, keeps, renews and revokes (real files, real
mosquitto_passwd)."""

from __future__ import annotations

import base64
import json
import stat
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from pantau.collector.admin.pki import Pki, PkiError
from pantau.collector.archive import signing


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def cert(path: Path) -> x509.Certificate:
    return x509.load_pem_x509_certificate(path.read_bytes())


def crl_serials(pki: Pki) -> set[int]:
    crl = x509.load_pem_x509_crl(pki.crl_path.read_bytes())
    assert crl.is_signature_valid(cert(pki.ca_cert_path).public_key())  # type: ignore[arg-type]
    return {r.serial_number for r in crl}


@pytest.fixture
def pki(tmp_path: Path) -> Pki:
    pki = Pki(tmp_path / "pki")
    pki.init(["127.0.0.1", "localhost", "mqtt.pantau.example"])
    return pki


def test_init_makes_a_private_ca_and_a_broker_certificate(pki: Pki) -> None:
    assert mode(pki.dir) == 0o700
    assert mode(pki.ca_key_path) == mode(pki.broker_key_path) == mode(pki.index_path) == 0o600
    assert mode(pki.ca_cert_path) == mode(pki.crl_path) == 0o644
    ca, broker = cert(pki.ca_cert_path), cert(pki.broker_cert_path)
    assert ca.extensions.get_extension_for_class(x509.BasicConstraints).value.ca is True
    broker.verify_directly_issued_by(ca)
    san = broker.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert san.get_values_for_type(x509.DNSName) == ["localhost", "mqtt.pantau.example"]
    assert [str(ip) for ip in san.get_values_for_type(x509.IPAddress)] == ["127.0.0.1"]
    usage = broker.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value
    assert list(usage) == [ExtendedKeyUsageOID.SERVER_AUTH]
    assert crl_serials(pki) == set()


def test_init_again_keeps_everything_unless_the_hosts_change(pki: Pki) -> None:
    ca_before, broker_before = pki.ca_cert_path.read_bytes(), pki.broker_cert_path.read_bytes()
    assert pki.init() == []
    assert pki.init(["mqtt.pantau.example", "localhost", "127.0.0.1"]) == []  # same set
    assert pki.broker_cert_path.read_bytes() == broker_before
    assert pki.init(["127.0.0.1", "10.0.0.5"]) == [
        "reissued broker certificate for 127.0.0.1, 10.0.0.5"
    ]
    assert pki.ca_cert_path.read_bytes() == ca_before  # agents keep trusting the same CA
    assert sorted(pki.broker_hosts()) == ["10.0.0.5", "127.0.0.1"]
    cert(pki.broker_cert_path).verify_directly_issued_by(cert(pki.ca_cert_path))


def test_a_client_certificate_names_its_point_and_role(pki: Pki) -> None:
    issued = pki.issue("citangkil-03")
    assert issued.created == ["certificate", "signing key"] and issued.kept == []
    client = cert(issued.cert_file)
    client.verify_directly_issued_by(cert(pki.ca_cert_path))
    assert client.subject.get_attributes_for_oid(NameOID.COMMON_NAME)[0].value == "citangkil-03"
    unit = client.subject.get_attributes_for_oid(NameOID.ORGANIZATIONAL_UNIT_NAME)[0].value
    assert unit == "agent"
    usage = client.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value
    assert list(usage) == [ExtendedKeyUsageOID.CLIENT_AUTH]
    assert mode(issued.key_file) == 0o600
    assert issued.ca_file.read_bytes() == pki.ca_cert_path.read_bytes()
    (identity,) = pki.identities()
    assert (identity.name, identity.role, identity.methods, identity.status) == (
        "citangkil-03",
        "agent",
        ["cert"],
        "active",
    )
    assert identity.serial == format(client.serial_number, "x")


def test_issuing_again_keeps_and_renewing_revokes_the_old_certificate(pki: Pki) -> None:
    first = cert(pki.issue("cit-01").cert_file).serial_number
    again = pki.issue("cit-01")
    assert again.created == [] and again.kept == ["certificate", "signing key"]
    assert cert(again.cert_file).serial_number == first
    renewed = pki.issue("cit-01", renew=True)
    assert renewed.created == ["certificate", "signing key"]
    assert cert(renewed.cert_file).serial_number != first
    assert crl_serials(pki) == {first}


def test_password_entries_are_hashed_by_mosquitto_passwd(pki: Pki) -> None:
    issued = pki.issue("cit-02", method="password")
    password = issued.password_file.read_text().strip()
    assert len(password) >= 30 and mode(issued.password_file) == 0o600
    (line,) = pki.password_lines()
    user, hashed = line.split(":", 1)
    assert user == "cit-02" and hashed.startswith("$7$") and password not in line
    assert password not in pki.index_path.read_text()
    both = pki.issue("cit-02", method="both")  # adds a certificate, keeps the password
    assert both.created == ["certificate"] and both.kept == ["password", "signing key"]
    assert pki.password_lines() == [line]


def test_a_given_password_is_used_and_not_copied(pki: Pki) -> None:
    issued = pki.issue("cit-04", method="password", password="from-the-vault-0123456789")
    assert issued.created == ["password", "signing key"] and not issued.password_file.exists()
    with pytest.raises(PkiError, match="shorter than 12"):
        pki.issue("cit-05", method="password", password="short")
    with pytest.raises(PkiError, match="line break"):
        pki.issue("cit-05", method="password", password="a-long-password\nwith-a-break")


def test_revoking_takes_every_credential(pki: Pki) -> None:
    issued = pki.issue("cit-01", method="both")
    pki.issue("cit-02", method="both")
    serial = cert(issued.cert_file).serial_number
    assert pki.revoke("cit-01") is True
    assert crl_serials(pki) == {serial}
    assert [line.split(":")[0] for line in pki.password_lines()] == ["cit-02"]
    assert not issued.key_file.exists() and not issued.password_file.exists()
    states = {i.name: (i.status, i.methods) for i in pki.identities()}
    assert states == {"cit-01": ("revoked", []), "cit-02": ("active", ["cert", "password"])}
    assert pki.revoke("cit-01") is False  # already done: nothing changes
    assert crl_serials(pki) == {serial}
    # A replaced SBC gets new credentials; the old certificate stays revoked.
    back = pki.issue("cit-01")
    assert back.created == ["certificate", "signing key"]
    assert cert(back.cert_file).serial_number != serial
    assert crl_serials(pki) == {serial}


def test_many_at_once(pki: Pki) -> None:
    names = [f"cit-{n:02d}" for n in range(1, 41)]
    issued = pki.issue_many(names, method="both")
    assert [i.name for i in issued] == names
    assert all(i.created == ["certificate", "password", "signing key"] for i in issued)
    assert [line.split(":")[0] for line in pki.password_lines()] == names


@pytest.mark.parametrize(
    ("name", "role", "message"),
    [
        ("Citangkil_03", "agent", "is not a point id"),
        ("-cit", "agent", "is not a point id"),
        ("collector one", "collector", "is not a valid name"),
        ("a:b", "noc", "is not a valid name"),
        ("cit-01", "root", "role 'root' is not one of agent, collector, noc"),
    ],
)
def test_names_and_roles_are_checked(pki: Pki, name: str, role: str, message: str) -> None:
    with pytest.raises(PkiError, match=message):
        pki.issue(name, role)  # type: ignore[arg-type]


def test_one_name_one_role(pki: Pki) -> None:
    pki.issue("pantau-collector", "collector")
    with pytest.raises(PkiError, match="already issued as collector, not noc"):
        pki.issue("pantau-collector", "noc")


def test_without_init_every_command_says_what_to_run(tmp_path: Path) -> None:
    with pytest.raises(PkiError, match="no PKI here; run `pantau pki init"):
        Pki(tmp_path / "nothing").issue("cit-01")
    with pytest.raises(PkiError, match="no credentials were ever issued"):
        pki = Pki(tmp_path / "p")
        pki.init(["127.0.0.1"])
        pki.revoke("cit-01")


def registry_file(pki: Pki) -> dict[str, dict[str, object]]:
    data = json.loads(pki.signing_keys_path.read_text())
    assert data["version"] == 1 and mode(pki.signing_keys_path) == 0o644
    return data["keys"]


def test_an_agent_gets_a_signing_key_beside_its_credentials(pki: Pki) -> None:
    issued = pki.issue("cit-01", method="both")
    assert issued.signing_key_file == issued.bundle / "signing.key"
    assert mode(issued.signing_key_file) == 0o600 and mode(issued.signing_pub_file) == 0o644
    private = signing.load_private_key(issued.signing_key_file)
    public = signing.load_public_key(issued.signing_pub_file)
    key_id = signing.key_id(public)
    assert signing.key_id(private.public_key()) == key_id
    (identity,) = pki.identities()
    assert identity.key_id == key_id
    (entry,) = pki.signing_keys().values()
    assert (entry.key_id, entry.name, entry.role, entry.status) == (
        key_id,
        "cit-01",
        "agent",
        "active",
    )
    assert entry.created_at == identity.issued_at and entry.revoked_at is entry.retired_at is None
    assert signing.public_raw(entry.public()) == signing.public_raw(public)
    assert base64.b64decode(entry.public_key) == signing.public_raw(public)
    data = b'{"v":1,"point":"cit-01"}'
    assert signing.verify(entry.public(), data, signing.sign(private, data)) is True
    # The public registry holds the public key only: nothing of the private one.
    assert registry_file(pki) == {
        key_id: {
            "key_id": key_id,
            "name": "cit-01",
            "role": "agent",
            "public_key": entry.public_key,
            "status": "active",
            "created_at": entry.created_at,
            "retired_at": None,
            "revoked_at": None,
        }
    }
    seed = base64.b64encode(private.private_bytes_raw()).decode()
    assert seed not in pki.signing_keys_path.read_text()
    assert seed not in pki.index_path.read_text()


def test_a_collector_signs_too_and_the_noc_does_not(pki: Pki) -> None:
    collector = pki.issue("pantau-collector", "collector")
    noc = pki.issue("noc-1", "noc", method="password")
    assert collector.created == ["certificate", "signing key"]
    assert noc.created == ["password"] and not noc.signing_key_file.exists()
    keys = pki.signing_keys()
    assert [(k.name, k.role) for k in keys.values()] == [("pantau-collector", "collector")]
    by_name = {i.name: i.key_id for i in pki.identities()}
    assert by_name == {"pantau-collector": next(iter(keys)), "noc-1": None}
    assert signing.key_id(signing.load_private_key(collector.signing_key_file).public_key()) in keys


def test_renewing_retires_the_old_key_and_keeps_it_for_what_it_signed(pki: Pki) -> None:
    first = pki.issue("cit-01")
    old_id = signing.key_id(signing.load_public_key(first.signing_pub_file))
    renewed = pki.issue("cit-01", renew=True)
    new_id = signing.key_id(signing.load_public_key(renewed.signing_pub_file))
    assert new_id != old_id
    keys = pki.signing_keys()
    assert sorted(keys) == sorted([old_id, new_id])
    assert (keys[old_id].status, keys[new_id].status) == ("retired", "active")
    assert keys[old_id].retired_at is not None and keys[old_id].revoked_at is None
    (identity,) = pki.identities()
    assert identity.key_id == new_id
    assert sorted(registry_file(pki)) == sorted([old_id, new_id])


def test_revoking_an_identity_revokes_its_signing_key(pki: Pki) -> None:
    issued = pki.issue("cit-01")
    pki.issue("cit-02")
    key_id = signing.key_id(signing.load_public_key(issued.signing_pub_file))
    assert pki.revoke("cit-01") is True
    (identity,) = [i for i in pki.identities() if i.name == "cit-01"]
    key = pki.signing_keys()[key_id]
    assert (key.status, key.revoked_at) == ("revoked", identity.revoked_at)
    assert identity.key_id is None
    assert not issued.signing_key_file.exists()  # the secret is gone
    assert issued.signing_pub_file.exists()  # the public key stays, for checking old messages
    assert registry_file(pki)[key_id]["status"] == "revoked"
    states = sorted((k.name, k.status) for k in pki.signing_keys().values())
    assert states == [("cit-01", "revoked"), ("cit-02", "active")]
    # A replaced SBC gets a new key; the old one stays revoked.
    back = pki.issue("cit-01")
    new_id = signing.key_id(signing.load_public_key(back.signing_pub_file))
    assert new_id != key_id and pki.signing_keys()[key_id].status == "revoked"
    assert pki.signing_keys()[new_id].status == "active"


def test_an_index_from_before_signing_keys_gets_them_on_the_next_issue(pki: Pki) -> None:
    pki.issue("cit-01")
    raw = json.loads(pki.index_path.read_text())
    del raw["signing_keys"]
    for identity in raw["identities"].values():
        del identity["key_id"]
    pki.index_path.write_text(json.dumps(raw))
    assert pki.signing_keys() == {} and pki.identities()[0].key_id is None
    again = pki.issue("cit-01")
    assert again.created == ["signing key"] and again.kept == ["certificate"]
    (identity,) = pki.identities()
    assert identity.key_id in pki.signing_keys()
