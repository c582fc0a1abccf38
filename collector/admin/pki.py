"""The project's own certificate authority and the credentials it hands out.

Agents must trust only the city's broker, and the broker must accept only identities the city
issued: so Pantau keeps a private CA in one directory (mode 700) with an index of every identity,
its role, its current certificate serial and its password hash. Nothing here prints or logs a
secret; plaintext passwords and private keys go only into files of mode 600.

Agents and collectors also get an Ed25519 signing key (`signing.key` beside the MQTT
credentials): agents sign what they publish, the collector signs its daily checkpoints. Every
signing key ever issued stays in the index with its state (active, retired when renewed, revoked
with its identity), and `signing-keys.json` (public, mode 644) lists them for whoever verifies
the evidence: old messages stay checkable after a key is replaced.

A renewal gives the retired key a handover (`handover_until`, `HANDOVER_DAYS` by default): the
new bundle reaches the SBC by hand, and until then its agent signs with the old key, whose
messages dated before the handover's end still count (collector/archive/keys.py). A revocation
ends every key of the identity, retired ones included, at once.
"""

from __future__ import annotations

import base64
import contextlib
import datetime as dt
import ipaddress
import json
import os
import re
import secrets
import shutil
import socket
import subprocess
from collections.abc import Iterable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Literal

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from pantau.collector.archive import signing
from pantau.shared.errors import PantauError
from pantau.shared.signing_format import write_atomically
from pantau.shared.topics import is_point_id

Role = Literal["agent", "collector", "noc", "admin"]
Method = Literal["cert", "password", "both"]
ROLES: tuple[Role, ...] = ("agent", "collector", "noc")  # what `pantau pki issue` hands out
ADMIN_ROLE: Role = "admin"  # the broker's own administrator (collector/admin/dynsec.py)
SIGNING_ROLES: tuple[Role, ...] = ("agent", "collector")  # who gets an Ed25519 signing key
SIGNING_KEY = "signing.key"
SIGNING_PUB = "signing.pub"
CA_DAYS = 20 * 365
# How long a renewed point's old key keeps vouching for what its agent signs, by default: time
# for a technician to copy the new bundle to the SBC. MAX_HANDOVER_DAYS bounds an old key's
# life after a renewal; a key that may be stolen is revoked, not renewed.
HANDOVER_DAYS = 14
MAX_HANDOVER_DAYS = 90
LEAF_DAYS = 10 * 365
_NAME = re.compile(r"^[a-z0-9][a-z0-9._-]{0,62}$")
_PASSWD_BINARIES = ("/usr/bin/mosquitto_passwd", "mosquitto_passwd")


class PkiError(PantauError):
    """The PKI directory is missing, damaged, or a request does not make sense."""


@dataclass
class Identity:
    """Who may log in to the broker, in which role, with what."""

    name: str
    role: Role
    status: Literal["active", "revoked"] = "active"
    serial: str | None = None  # hex serial of the current client certificate
    password_hash: str | None = None  # a mosquitto_passwd line's hash part
    issued_at: str = ""
    revoked_at: str | None = None
    key_id: str | None = None  # its current signing key (agents and collectors)

    @property
    def methods(self) -> list[str]:
        return [m for m, on in (("cert", self.serial), ("password", self.password_hash)) if on]


@dataclass
class SigningKey:
    """One Ed25519 public key in the registry, and until when it may be trusted."""

    key_id: str
    name: str
    role: Role
    public_key: str  # base64 of the 32 raw bytes
    status: Literal["active", "retired", "revoked"] = "active"
    created_at: str = ""
    retired_at: str | None = None  # replaced by a renewal: good for what it signed before
    revoked_at: str | None = None  # its identity was revoked: nothing it signs after counts
    # retired: what it signs dated from then on no longer counts (its agent has the new bundle)
    handover_until: str | None = None

    def public(self) -> Ed25519PublicKey:
        return signing.public_key_from_raw(base64.b64decode(self.public_key))


@dataclass
class Issued:
    name: str
    role: Role
    bundle: Path
    created: list[str]  # "certificate", "password": what this call made
    kept: list[str]  # what already existed and was left alone
    retired_key: str | None = None  # the signing key this renewal retired
    handover_until: str | None = None  # until when that key still vouches (keys.py)

    @property
    def cert_file(self) -> Path:
        return self.bundle / "cert.pem"

    @property
    def key_file(self) -> Path:
        return self.bundle / "key.pem"

    @property
    def ca_file(self) -> Path:
        return self.bundle / "ca.pem"

    @property
    def password_file(self) -> Path:
        return self.bundle / "password"

    @property
    def signing_key_file(self) -> Path:
        return self.bundle / SIGNING_KEY

    @property
    def signing_pub_file(self) -> Path:
        return self.bundle / SIGNING_PUB


@dataclass
class _Index:
    version: int = 1
    identities: dict[str, Identity] = field(default_factory=dict)
    revoked_serials: dict[str, str] = field(default_factory=dict)  # hex serial -> when
    broker: dict[str, Any] | None = None  # the last `pantau broker config` settings
    signing_keys: dict[str, SigningKey] = field(default_factory=dict)  # by key id


def now_utc() -> dt.datetime:
    return dt.datetime.now(dt.UTC).replace(microsecond=0)


def write_private(path: Path, data: bytes, sync: bool = True) -> None:
    """A file only its owner can read, written atomically (never a moment of wider mode)."""
    write_atomically(path, data, 0o600, sync)


def write_public(path: Path, data: bytes, sync: bool = True) -> None:
    """Certificates and CRLs are public: mode 644, written atomically."""
    write_atomically(path, data, 0o644, sync)


def default_broker_hosts() -> list[str]:
    names = ["localhost", "127.0.0.1", socket.gethostname(), socket.getfqdn()]
    return list(dict.fromkeys(n for n in names if n))


class Pki:
    """A PKI directory: ca.key/ca.pem, broker.key/broker.pem, crl.pem, index.json, issued/."""

    def __init__(self, directory: Path) -> None:
        self.dir = Path(directory)

    # -- paths ---------------------------------------------------------------------------------
    @property
    def ca_cert_path(self) -> Path:
        return self.dir / "ca.pem"

    @property
    def ca_key_path(self) -> Path:
        return self.dir / "ca.key"

    @property
    def broker_cert_path(self) -> Path:
        return self.dir / "broker.pem"

    @property
    def broker_key_path(self) -> Path:
        return self.dir / "broker.key"

    @property
    def crl_path(self) -> Path:
        return self.dir / "crl.pem"

    @property
    def index_path(self) -> Path:
        return self.dir / "index.json"

    @property
    def signing_keys_path(self) -> Path:
        return self.dir / "signing-keys.json"

    def bundle_dir(self, name: str) -> Path:
        return self.dir / "issued" / name

    # -- init ----------------------------------------------------------------------------------
    def init(self, broker_hosts: Iterable[str] = (), ca_name: str = "Pantau CA") -> list[str]:
        """Create what is missing; keep what exists. Returns what was done, one line each.

        A broker certificate is reissued (by the same CA) only when asked for other host
        names, so agents that trust the CA keep working.
        """
        done: list[str] = []
        self.dir.mkdir(parents=True, exist_ok=True)
        self.dir.chmod(0o700)
        if not self.ca_key_path.exists():
            if self.ca_cert_path.exists():
                raise PkiError(f"{self.ca_cert_path} exists without its key {self.ca_key_path}")
            key = ec.generate_private_key(ec.SECP256R1())
            name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, ca_name)])
            cert = (
                self._builder(name, name, key.public_key(), CA_DAYS)
                .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
                .add_extension(_usage(ca=True), critical=True)
                .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), False)
                .sign(key, hashes.SHA256())
            )
            write_private(self.ca_key_path, _key_pem(key))
            write_public(self.ca_cert_path, cert.public_bytes(serialization.Encoding.PEM))
            done.append(f"created CA {self.ca_cert_path}")
        hosts = list(dict.fromkeys(h.strip() for h in broker_hosts if h.strip()))
        current = self.broker_hosts() if self.broker_cert_path.exists() else None
        if current is None or (hosts and sorted(hosts) != sorted(current)):
            hosts = hosts or default_broker_hosts()
            self._issue_broker_cert(hosts)
            verb = "created" if current is None else "reissued"
            done.append(f"{verb} broker certificate for {', '.join(hosts)}")
        if not self.index_path.exists():
            self._save(_Index())
            done.append(f"created index {self.index_path}")
        if not self.crl_path.exists():
            self._write_crl(self._load())
            done.append(f"created revocation list {self.crl_path}")
        return done

    def require(self) -> None:
        if not (self.ca_key_path.exists() and self.index_path.exists()):
            raise PkiError(f"{self.dir}: no PKI here; run `pantau pki init --dir {self.dir}`")

    def broker_hosts(self) -> list[str]:
        cert = _load_cert(self.broker_cert_path)
        try:
            san = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
        except x509.ExtensionNotFound:
            return []
        names = [str(ip) for ip in san.get_values_for_type(x509.IPAddress)]
        return san.get_values_for_type(x509.DNSName) + names

    def _issue_broker_cert(self, hosts: list[str]) -> None:
        ca_cert, ca_key = self._ca()
        key = ec.generate_private_key(ec.SECP256R1())
        subject = x509.Name(
            [
                x509.NameAttribute(NameOID.ORGANIZATION_NAME, "Pantau"),
                x509.NameAttribute(NameOID.COMMON_NAME, hosts[0][:64]),
            ]
        )
        cert = (
            self._builder(subject, ca_cert.subject, key.public_key(), LEAF_DAYS)
            .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
            .add_extension(_usage(ca=False), critical=True)
            .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), False)
            .add_extension(x509.SubjectAlternativeName(_general_names(hosts)), critical=False)
            .add_extension(_aki(ca_cert), critical=False)
            .sign(ca_key, hashes.SHA256())
        )
        write_private(self.broker_key_path, _key_pem(key))
        write_public(self.broker_cert_path, cert.public_bytes(serialization.Encoding.PEM))

    # -- identities ----------------------------------------------------------------------------
    def identities(self) -> list[Identity]:
        self.require()
        return sorted(self._load().identities.values(), key=lambda i: (i.role, i.name))

    def issue(
        self,
        name: str,
        role: Role = "agent",
        method: Method = "cert",
        renew: bool = False,
        days: int = LEAF_DAYS,
        password: str | None = None,
        handover_days: float = HANDOVER_DAYS,
    ) -> Issued:
        """Credentials for one identity. Re-running keeps what exists unless `renew`.

        `password` sets a password made elsewhere (e.g. kept in a deployment vault), which is
        then not written into the bundle; by default a random one is made and written there.
        `handover_days`: how long a renewed signing key's predecessor keeps vouching.
        """
        given = {name: password} if password is not None else None
        return self.issue_many([name], role, method, renew, days, given, handover_days)[0]

    def issue_many(
        self,
        names: list[str],
        role: Role = "agent",
        method: Method = "cert",
        renew: bool = False,
        days: int = LEAF_DAYS,
        passwords: dict[str, str] | None = None,
        handover_days: float = HANDOVER_DAYS,
    ) -> list[Issued]:
        """`issue` for many names at once: one index write, one run of mosquitto_passwd."""
        self.require()
        if not 0 <= handover_days <= MAX_HANDOVER_DAYS:
            raise PkiError(f"the handover is 0 to {MAX_HANDOVER_DAYS} days, not {handover_days}")
        for name in names:
            _check_name(name, role)
        given = passwords or {}
        index = self._load()
        results: list[Issued] = []
        to_hash: dict[str, str] = {}
        at = now_utc()
        now = at.isoformat()
        until = (at + dt.timedelta(days=handover_days)).isoformat()
        for name in dict.fromkeys(names):
            identity = index.identities.get(name)
            if identity is not None and identity.role != role:
                raise PkiError(f"{name!r} is already issued as {identity.role}, not {role}")
            if identity is None or identity.status == "revoked":
                identity = Identity(name=name, role=role, issued_at=now)
            bundle = self.bundle_dir(name)
            issued = Issued(name, role, bundle, [], [])
            if method in ("cert", "both"):
                if identity.serial is not None and not renew:
                    issued.kept.append("certificate")
                else:
                    if identity.serial is not None:
                        index.revoked_serials[identity.serial] = now
                    identity.serial = self._issue_client_cert(name, role, bundle, days)
                    issued.created.append("certificate")
            if method in ("password", "both"):
                if identity.password_hash is not None and not renew and name not in given:
                    issued.kept.append("password")
                else:
                    if name in given:
                        _check_password(given[name])
                        to_hash[name] = given[name]
                    else:
                        to_hash[name] = secrets.token_urlsafe(24)
                        write_private(bundle / "password", to_hash[name].encode() + b"\n", False)
                    issued.created.append("password")
            if role in SIGNING_ROLES:
                if identity.key_id is not None and not renew:
                    issued.kept.append("signing key")
                else:
                    handover = until if role == "agent" else None  # agents sign evidence
                    retired = self._issue_signing_key(index, identity, bundle, now, handover)
                    issued.retired_key = retired
                    issued.handover_until = handover if retired else None
                    issued.created.append("signing key")
            if issued.created:
                write_public(bundle / "ca.pem", self.ca_cert_path.read_bytes(), sync=False)
            identity.status = "active"
            identity.revoked_at = None
            index.identities[name] = identity
            results.append(issued)
        for name, hashed in hash_passwords(to_hash, self.dir).items():
            index.identities[name].password_hash = hashed
        self._save(index)
        if renew and any("certificate" in r.created for r in results):
            self._write_crl(index)
        return results

    def revoke(self, name: str) -> bool:
        """Revoke every credential of `name`. False when it was already revoked."""
        self.require()
        index = self._load()
        identity = index.identities.get(name)
        if identity is None:
            raise PkiError(f"{name!r}: no credentials were ever issued to it")
        if identity.status == "revoked":
            return False
        at = now_utc().isoformat()
        if identity.serial is not None:
            index.revoked_serials[identity.serial] = at
        identity.serial = None
        identity.password_hash = None
        identity.status = "revoked"
        identity.revoked_at = at
        for key in index.signing_keys.values():  # retired keys too: no handover, no backlog
            if key.name == name and key.role == identity.role and key.status != "revoked":
                key.status, key.revoked_at = "revoked", at
        identity.key_id = None
        self._save(index)
        self._write_crl(index)
        bundle = self.bundle_dir(name)
        for secret in (bundle / "key.pem", bundle / "password", bundle / SIGNING_KEY):
            with contextlib.suppress(FileNotFoundError):
                secret.unlink()
        return True

    def ensure_admin(self, name: str) -> Path:
        """The broker administrator's identity (a password only), made once; returns the file
        that holds its password (mode 600, in this directory only)."""
        identity = self._load().identities.get(name)
        password = self.bundle_dir(name) / "password"
        if identity is not None and identity.role != ADMIN_ROLE:
            raise PkiError(f"{name!r} is issued as {identity.role}; it is reserved for the broker")
        renew = identity is None or identity.status != "active" or not password.exists()
        if renew:
            self.issue(name, ADMIN_ROLE, "password", renew=True)
        return password

    def password_lines(self) -> list[str]:
        """`name:hash` lines of every active password identity, for the broker's password file."""
        return [
            f"{i.name}:{i.password_hash}"
            for i in self.identities()
            if i.status == "active" and i.password_hash
        ]

    def signing_keys(self) -> dict[str, SigningKey]:
        """Every signing key ever issued, by key id: active, retired and revoked."""
        self.require()
        return dict(self._load().signing_keys)

    def revoked_serials(self) -> list[int]:
        self.require()
        return sorted(int(s, 16) for s in self._load().revoked_serials)

    # -- broker settings memory (so that `revoke` can regenerate the broker files) ---------------
    def remember_broker(self, settings: dict[str, Any]) -> None:
        index = self._load()
        index.broker = settings
        self._save(index)

    def broker_settings(self) -> dict[str, Any] | None:
        return self._load().broker

    # -- internals -----------------------------------------------------------------------------
    def _issue_signing_key(
        self,
        index: _Index,
        identity: Identity,
        bundle: Path,
        now: str,
        handover_until: str | None,
    ) -> str | None:
        """A new key pair beside the MQTT credentials; the one it replaces is retired, with its
        handover (an agent's: a collector's keys sign checkpoints, whatever their state).
        Returns the retired key's id."""
        old = index.signing_keys.get(identity.key_id or "")
        retired = None
        if old is not None and old.status == "active":
            old.status, old.retired_at, old.handover_until = "retired", now, handover_until
            retired = old.key_id
        key = signing.generate()
        public = key.public_key()
        signing.save_private_key(bundle / SIGNING_KEY, key)
        signing.save_public_key(bundle / SIGNING_PUB, public)
        key_id = signing.key_id(public)
        index.signing_keys[key_id] = SigningKey(
            key_id=key_id,
            name=identity.name,
            role=identity.role,
            public_key=base64.b64encode(signing.public_raw(public)).decode("ascii"),
            created_at=now,
        )
        identity.key_id = key_id
        return retired

    def _issue_client_cert(self, name: str, role: Role, bundle: Path, days: int) -> str:
        ca_cert, ca_key = self._ca()
        key = ec.generate_private_key(ec.SECP256R1())
        subject = x509.Name(
            [
                x509.NameAttribute(NameOID.ORGANIZATION_NAME, "Pantau"),
                x509.NameAttribute(NameOID.ORGANIZATIONAL_UNIT_NAME, role),
                x509.NameAttribute(NameOID.COMMON_NAME, name),
            ]
        )
        cert = (
            self._builder(subject, ca_cert.subject, key.public_key(), days)
            .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
            .add_extension(_usage(ca=False), critical=True)
            .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.CLIENT_AUTH]), False)
            .add_extension(_aki(ca_cert), critical=False)
            .sign(ca_key, hashes.SHA256())
        )
        write_private(bundle / "key.pem", _key_pem(key), sync=False)
        write_public(bundle / "cert.pem", cert.public_bytes(serialization.Encoding.PEM), False)
        return format(cert.serial_number, "x")

    def _builder(
        self, subject: x509.Name, issuer: x509.Name, public_key: Any, days: int
    ) -> x509.CertificateBuilder:
        start = now_utc() - dt.timedelta(hours=1)  # tolerate a site clock running a bit behind
        return (
            x509.CertificateBuilder()
            .subject_name(subject)
            .issuer_name(issuer)
            .public_key(public_key)
            .serial_number(x509.random_serial_number())
            .not_valid_before(start)
            .not_valid_after(start + dt.timedelta(days=days))
        )

    def _ca(self) -> tuple[x509.Certificate, ec.EllipticCurvePrivateKey]:
        key = serialization.load_pem_private_key(self.ca_key_path.read_bytes(), password=None)
        assert isinstance(key, ec.EllipticCurvePrivateKey)
        return _load_cert(self.ca_cert_path), key

    def _write_crl(self, index: _Index) -> None:
        """A CRL valid as long as the CA: an expired CRL would lock every client out."""
        ca_cert, ca_key = self._ca()
        now = now_utc()
        builder = (
            x509.CertificateRevocationListBuilder()
            .issuer_name(ca_cert.subject)
            .last_update(now - dt.timedelta(hours=1))
            .next_update(max(ca_cert.not_valid_after_utc, now + dt.timedelta(days=1)))
            .add_extension(_aki(ca_cert), critical=False)
        )
        for serial, at in sorted(index.revoked_serials.items()):
            builder = builder.add_revoked_certificate(
                x509.RevokedCertificateBuilder()
                .serial_number(int(serial, 16))
                .revocation_date(dt.datetime.fromisoformat(at))
                .build()
            )
        crl = builder.sign(ca_key, hashes.SHA256())
        write_public(self.crl_path, crl.public_bytes(serialization.Encoding.PEM))

    def _load(self) -> _Index:
        try:
            raw = json.loads(self.index_path.read_text(encoding="utf-8"))
            identities = {
                name: Identity(**value) for name, value in raw.get("identities", {}).items()
            }
            keys = {k: SigningKey(**value) for k, value in raw.get("signing_keys", {}).items()}
            return _Index(
                version=int(raw.get("version", 1)),
                identities=identities,
                revoked_serials=dict(raw.get("revoked_serials", {})),
                broker=raw.get("broker"),
                signing_keys=keys,
            )
        except FileNotFoundError:
            raise PkiError(f"{self.dir}: no PKI here; run `pantau pki init`") from None
        except (ValueError, TypeError) as exc:
            raise PkiError(f"{self.index_path}: damaged index ({type(exc).__name__})") from None

    def _save(self, index: _Index) -> None:
        data = {
            "version": index.version,
            "identities": {n: asdict(i) for n, i in sorted(index.identities.items())},
            "revoked_serials": dict(sorted(index.revoked_serials.items())),
            "broker": index.broker,
            "signing_keys": {k: _key_entry(v) for k, v in sorted(index.signing_keys.items())},
        }
        write_private(self.index_path, (json.dumps(data, indent=2) + "\n").encode())
        public = {"version": 1, "keys": data["signing_keys"]}
        write_public(self.signing_keys_path, (json.dumps(public, indent=2) + "\n").encode())


def _key_entry(key: SigningKey) -> dict[str, Any]:
    """A key as the index and signing-keys.json hold it; `handover_until` only once a renewal
    gave it one, so a key ring without renewals reads the same to an older verifier."""
    entry = asdict(key)
    if entry["handover_until"] is None:
        del entry["handover_until"]
    return entry


def hash_passwords(passwords: dict[str, str], workdir: Path) -> dict[str, str]:
    """Hash with mosquitto's own tool, through a private file: never on a command line."""
    if not passwords:
        return {}
    binary = next(
        (b for b in (shutil.which(c) or c for c in _PASSWD_BINARIES) if os.access(b, os.X_OK)),
        None,
    )
    if binary is None:
        raise PkiError("mosquitto_passwd is not installed (Debian package mosquitto)")
    tmp = workdir / f".passwd-{secrets.token_hex(6)}"
    write_private(tmp, "".join(f"{n}:{p}\n" for n, p in passwords.items()).encode())
    try:
        result = subprocess.run(
            [binary, "-U", str(tmp)], capture_output=True, timeout=60, check=False
        )
        if result.returncode != 0:
            raise PkiError(f"mosquitto_passwd failed with exit code {result.returncode}")
        lines = tmp.read_text(encoding="utf-8").splitlines()
    finally:
        with contextlib.suppress(FileNotFoundError):
            tmp.unlink()
    hashed = dict(line.partition(":")[::2] for line in lines if line)
    if sorted(hashed) != sorted(passwords) or not all(h.startswith("$") for h in hashed.values()):
        raise PkiError("mosquitto_passwd wrote unexpected lines")
    return hashed


def _check_name(name: str, role: Role) -> None:
    if role not in (*ROLES, ADMIN_ROLE):
        raise PkiError(f"role {role!r} is not one of {', '.join(ROLES)}")
    if role == "agent" and not is_point_id(name):
        raise PkiError(f"{name!r} is not a point id (lowercase a-z, 0-9 and '-')")
    if not _NAME.match(name):
        raise PkiError(f"{name!r} is not a valid name (lowercase a-z, 0-9, '.', '_', '-')")


def _check_password(password: str) -> None:
    if len(password) < 12:
        raise PkiError("the given password is shorter than 12 characters")
    if any(c in password for c in ":\n\r\0"):
        raise PkiError("the given password contains ':' or a line break")


def _general_names(hosts: list[str]) -> list[x509.GeneralName]:
    names: list[x509.GeneralName] = []
    for host in hosts:
        try:
            names.append(x509.IPAddress(ipaddress.ip_address(host)))
        except ValueError:
            names.append(x509.DNSName(host))
    return names


def _usage(ca: bool) -> x509.KeyUsage:
    return x509.KeyUsage(
        digital_signature=not ca,
        content_commitment=False,
        key_encipherment=False,
        data_encipherment=False,
        key_agreement=not ca,
        key_cert_sign=ca,
        crl_sign=ca,
        encipher_only=False,
        decipher_only=False,
    )


def _aki(ca_cert: x509.Certificate) -> x509.AuthorityKeyIdentifier:
    ski = ca_cert.extensions.get_extension_for_class(x509.SubjectKeyIdentifier).value
    return x509.AuthorityKeyIdentifier.from_issuer_subject_key_identifier(ski)


def _key_pem(key: ec.EllipticCurvePrivateKey) -> bytes:
    return key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )


def _load_cert(path: Path) -> x509.Certificate:
    try:
        return x509.load_pem_x509_certificate(path.read_bytes())
    except (OSError, ValueError) as exc:
        raise PkiError(f"{path}: cannot read certificate ({type(exc).__name__})") from None
