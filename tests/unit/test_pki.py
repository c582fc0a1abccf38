"""The project CA: what `pantau pki` makes, keeps, renews and revokes (real files, real
mosquitto_passwd)."""

from __future__ import annotations

import stat
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from pantau.collector.admin.pki import Pki, PkiError


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
    assert issued.created == ["certificate"] and issued.kept == []
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
    assert again.created == [] and again.kept == ["certificate"]
    assert cert(again.cert_file).serial_number == first
    renewed = pki.issue("cit-01", renew=True)
    assert renewed.created == ["certificate"]
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
    assert both.created == ["certificate"] and both.kept == ["password"]
    assert pki.password_lines() == [line]


def test_a_given_password_is_used_and_not_copied(pki: Pki) -> None:
    issued = pki.issue("cit-04", method="password", password="from-the-vault-0123456789")
    assert issued.created == ["password"] and not issued.password_file.exists()
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
    assert back.created == ["certificate"] and cert(back.cert_file).serial_number != serial
    assert crl_serials(pki) == {serial}


def test_many_at_once(pki: Pki) -> None:
    names = [f"cit-{n:02d}" for n in range(1, 41)]
    issued = pki.issue_many(names, method="both")
    assert [i.name for i in issued] == names
    assert all(i.created == ["certificate", "password"] for i in issued)
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
