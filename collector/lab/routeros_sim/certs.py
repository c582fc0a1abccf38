"""Certificates for the simulator's api-ssl: a throwaway CA and a router certificate it signed,
made with the openssl command (as a technician would for a real router)."""

from __future__ import annotations

import hashlib
import ssl
import subprocess
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class CertFiles:
    ca_cert: Path
    cert: Path
    key: Path

    def server_context(self) -> ssl.SSLContext:
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.minimum_version = ssl.TLSVersion.TLSv1_2
        context.load_cert_chain(self.cert, self.key)
        return context

    def fingerprint_sha256(self) -> str:
        """SHA-256 of the router certificate (DER), as the agent pins it."""
        pem = self.cert.read_text()
        return hashlib.sha256(ssl.PEM_cert_to_DER_cert(pem)).hexdigest()


def make_certs(directory: Path, names: tuple[str, ...] = ("127.0.0.1", "localhost")) -> CertFiles:
    """A CA and a router certificate for `names` (IP addresses and DNS names), in `directory`."""
    directory.mkdir(parents=True, exist_ok=True)
    ca_key, ca_cert = directory / "ca.key", directory / "ca.pem"
    key, csr, cert = directory / "router.key", directory / "router.csr", directory / "router.pem"
    ext = directory / "router.ext"
    alt = ",".join(f"IP:{n}" if _is_ip(n) else f"DNS:{n}" for n in names)
    ext.write_text(f"subjectAltName={alt}\nbasicConstraints=CA:FALSE\n")
    # P-256 keys (RouterOS 7: key-type=ec): handshakes cheap enough for a fleet in one process
    new_key = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes"]
    _openssl("req", "-x509", *new_key, "-days", 3650, "-subj", "/CN=pantau-sim-ca",
             "-keyout", ca_key, "-out", ca_cert)  # fmt: skip
    _openssl("req", *new_key, "-subj", f"/CN={names[0]}", "-keyout", key, "-out", csr)
    _openssl("x509", "-req", "-in", csr, "-CA", ca_cert, "-CAkey", ca_key, "-CAcreateserial",
             "-days", 3650, "-extfile", ext, "-out", cert)  # fmt: skip
    for secret in (ca_key, key):
        secret.chmod(0o600)
    return CertFiles(ca_cert=ca_cert, cert=cert, key=key)


def _is_ip(name: str) -> bool:
    return all(part.isdigit() for part in name.split(".")) or ":" in name


def _openssl(*args: object) -> None:
    subprocess.run(
        ["openssl", *(str(a) for a in args)],
        check=True,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        timeout=60,
    )
