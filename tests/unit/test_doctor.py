"""The doctor's checks that need no network: files, modes, certificates, the table."""

from __future__ import annotations

import argparse
import datetime as dt
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
from pydantic import SecretStr

from pantau.agent import cli
from pantau.agent.config import AgentConfig, MqttConfig
from pantau.agent.doctor import (
    Result,
    Status,
    check_ca,
    check_cleartext,
    check_client_cert,
    check_secret_file,
    check_speedtest_token,
    check_state_dir,
    diagnose,
    exit_code,
    fail,
    ok,
    render,
    warn,
)
from pantau.shared.mqtt_client import TlsConfig
from pantau.shared.speedtest.contract import TOKEN_FILE_ENV
from tests.pipeline import write_yaml

NOW = dt.datetime.now(dt.UTC)


def make_cert(folder: Path, name: str, days: tuple[int, int] = (-1, 365)) -> tuple[Path, Path]:
    """A self-signed certificate valid from NOW+days[0] to NOW+days[1], and its key (mode 600)."""
    key = ec.generate_private_key(ec.SECP256R1())
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)])
    cert = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(NOW + dt.timedelta(days=days[0]))
        .not_valid_after(NOW + dt.timedelta(days=days[1]))
        .sign(key, hashes.SHA256())
    )
    cert_path, key_path = folder / f"{name}.pem", folder / f"{name}.key"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    key_path.chmod(0o600)
    return cert_path, key_path


def secret_file(path: Path, text: str = "s3cret\n", mode: int = 0o600) -> Path:
    path.write_text(text)
    path.chmod(mode)
    return path


# --- secret files --------------------------------------------------------------------------------


def test_a_private_secret_file_passes(tmp_path: Path) -> None:
    path = secret_file(tmp_path / "password")
    assert check_secret_file("pw", str(path), "mqtt.password_file") == ok(
        "pw", f"{path}: mode 600, not empty"
    )


@pytest.mark.parametrize("mode", [0o640, 0o604, 0o660, 0o644])
def test_a_secret_file_others_can_read_fails_with_the_chmod(tmp_path: Path, mode: int) -> None:
    path = secret_file(tmp_path / "password", mode=mode)
    assert check_secret_file("pw", str(path), "mqtt.password_file") == fail(
        "pw", f"{path}: readable by group or others (mode {mode:o})", f"chmod 600 {path}"
    )


def test_a_missing_or_empty_secret_file_fails(tmp_path: Path) -> None:
    missing = tmp_path / "nope"
    assert check_secret_file("pw", str(missing), "mqtt.password_file") == fail(
        "pw", f"{missing}: not found", "write it (mode 600) or correct mqtt.password_file"
    )
    empty = secret_file(tmp_path / "empty", text="\n")
    assert check_secret_file("pw", str(empty), "mqtt.password_file") == fail(
        "pw", f"{empty}: empty", f"write the secret into {empty}"
    )


def test_the_speed_test_token_file_is_checked_like_any_secret(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    token = secret_file(tmp_path / "token", mode=0o644)
    monkeypatch.setenv(TOKEN_FILE_ENV, str(token))
    config = AgentConfig.model_validate(
        {"points": [{"id": "citangkil-01", "source": {"kind": "linux", "wan_interface": "lo"}}]}
    )
    result = check_speedtest_token(config)
    assert result is not None
    assert (result.check, result.status, result.fix) == (
        "speed-test token file",
        Status.FAIL,
        f"chmod 600 {token}",
    )


# --- TLS files -----------------------------------------------------------------------------------


def test_a_valid_client_certificate_and_its_key(tmp_path: Path) -> None:
    cert, key = make_cert(tmp_path, "citangkil-01")
    results = check_client_cert(str(cert), str(key), "citangkil-01")
    assert [(r.check, r.status) for r in results] == [
        ("mqtt client cert (citangkil-01)", Status.OK),
        ("mqtt client key (citangkil-01)", Status.OK),
    ]
    assert results[1].detail == f"{key}: mode 600, matches the certificate"


def test_a_key_of_another_certificate_fails(tmp_path: Path) -> None:
    cert, _ = make_cert(tmp_path, "citangkil-01")
    _, other_key = make_cert(tmp_path, "citangkil-02")
    results = check_client_cert(str(cert), str(other_key), None)
    assert results[0].status is Status.OK
    assert results[1].status is Status.FAIL
    assert results[1].detail.startswith(f"{other_key}: does not match {cert} (")
    assert results[1].fix == "use the key issued with that certificate"


def test_an_expired_certificate_fails_and_one_about_to_expire_warns(tmp_path: Path) -> None:
    expired, key = make_cert(tmp_path, "old", days=(-400, -1))
    (result, _) = check_client_cert(str(expired), str(key), None)
    assert result.status is Status.FAIL
    assert result.detail.startswith(f"{expired}: expired on ")
    assert result.fix == "issue a new one: pantau pki issue"
    soon, key = make_cert(tmp_path, "soon", days=(-300, 10))
    (result, _) = check_client_cert(str(soon), str(key), None)
    assert result.status is Status.WARN
    assert result.detail.startswith(f"{soon}: expires on ")


def test_a_certificate_without_its_key_fails(tmp_path: Path) -> None:
    cert, _ = make_cert(tmp_path, "citangkil-01")
    assert check_client_cert(str(cert), None, None) == [
        fail("mqtt client cert", "mqtt.tls.key_file is not set", "set both cert_file and key_file")
    ]


def test_ca_file_missing_or_not_a_certificate(tmp_path: Path) -> None:
    missing = tmp_path / "ca.pem"
    assert check_ca(TlsConfig(ca_file=str(missing))) == [
        fail(
            "mqtt CA file",
            f"{missing}: not found",
            "copy it there (from `pantau pki`) or correct mqtt.tls.ca_file",
        )
    ]
    garbage = tmp_path / "garbage.pem"
    garbage.write_text("not a certificate\n")
    (result,) = check_ca(TlsConfig(ca_file=str(garbage)))
    assert (result.status, result.detail) == (Status.FAIL, f"{garbage}: no PEM certificate in it")
    ca, _ = make_cert(tmp_path, "ca")
    (result,) = check_ca(TlsConfig(ca_file=str(ca)))
    assert result.status is Status.OK and result.detail.startswith(f"{ca}: valid until ")


# --- passwords in clear --------------------------------------------------------------------------


def test_a_password_without_tls_fails_unless_the_broker_is_this_host() -> None:
    remote = MqttConfig(host="mqtt.noc.example", password=SecretStr("x"))
    assert check_cleartext(remote) == fail(
        "mqtt password in clear",
        "no tls: the password would travel in clear to mqtt.noc.example",
        "add tls: {ca_file: <the project's ca.pem>} and use the broker's TLS port",
    )
    for host in ("127.0.0.1", "::1", "localhost"):
        result = check_cleartext(MqttConfig(host=host, password_file="/etc/pw"))
        assert result is not None and result.status is Status.OK
    assert check_cleartext(MqttConfig(host="mqtt.noc.example")) is None  # no password at all
    with_tls = MqttConfig(host="10.0.0.1", password=SecretStr("x"), tls=TlsConfig())
    assert check_cleartext(with_tls) is None


# --- spool, config -------------------------------------------------------------------------------


def test_a_state_dir_that_is_a_file_fails(tmp_path: Path) -> None:
    blocker = tmp_path / "state"
    blocker.write_text("")
    config = AgentConfig.model_validate(
        {
            "state_dir": str(blocker),
            "points": [{"id": "citangkil-01", "source": {"kind": "linux", "wan_interface": "lo"}}],
        }
    )
    assert check_state_dir(config) == [
        fail("spool directory", f"{blocker}: not a directory", "set state_dir to a directory")
    ]


def test_an_invalid_config_is_one_fail_line(tmp_path: Path) -> None:
    path = write_yaml(tmp_path / "agent.yaml", {"points": [], "mqtt": {"prot": 1883}})
    (result,) = diagnose(path)
    assert result.check == "config" and result.status is Status.FAIL
    assert result.detail.startswith(f"{path}: field ")
    assert exit_code([result]) == 1


# --- the table and the command line --------------------------------------------------------------


def test_the_table_puts_a_fix_under_every_row_that_is_not_ok() -> None:
    results = [
        ok("config", "agent.yaml: 1 point(s): citangkil-01"),
        warn("clock", "not synchronised", "enable NTP"),
        fail("mqtt CA file", "/etc/pantau/ca.pem: not found", "copy ca.pem there"),
        Result("broker login", Status.SKIP, "not tried"),
    ]
    assert render(results) == (
        "STATUS  CHECK         RESULT\n"
        "ok      config        agent.yaml: 1 point(s): citangkil-01\n"
        "warn    clock         not synchronised\n"
        "                      fix: enable NTP\n"
        "FAIL    mqtt CA file  /etc/pantau/ca.pem: not found\n"
        "                      fix: copy ca.pem there\n"
        "skip    broker login  not tried\n"
        "\n"
        "1 ok, 1 warn, 1 FAIL, 1 skip: not ready"
    )
    assert exit_code(results) == 1
    assert exit_code(results[:2]) == 0  # a warning alone is not a failure
    assert "\033[1;31mFAIL  \033[0m" in render(results, colour=True)


@pytest.mark.parametrize(
    ("argv", "mode"),
    [
        (["--config", "a.yaml"], None),
        (["--check", "--config", "a.yaml"], "all"),
        (["--config", "a.yaml", "--check"], "all"),
        (["--check", "local", "--config", "a.yaml"], "local"),
    ],
)
def test_check_option(argv: list[str], mode: str | None) -> None:
    parser = argparse.ArgumentParser()
    cli.add_arguments(parser)
    assert parser.parse_args(argv).check == mode
