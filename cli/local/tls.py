"""A local certificate authority and a server certificate for the local host names, generated once."""

from __future__ import annotations

import datetime as dt
import ipaddress
import json
from dataclasses import dataclass
from pathlib import Path

HOST_NAMES = ("localhost", "api.localhost")
ADDRESSES = ("127.0.0.1", "::1")
LEAF_DAYS = 365
"""Lifetime of the server certificate: within the 366 days of Mozilla's TLS profiles (browsers allow 398)."""
RENEW_BEFORE_DAYS = 30
"""`up` makes a new certificate once the current one has fewer days than this left."""


@dataclass(frozen=True)
class TlsFiles:
    """Where the CA certificate, the server certificate and its key live."""

    directory: Path

    @property
    def ca_cert(self) -> Path:
        return self.directory / "ca.pem"

    @property
    def server_cert(self) -> Path:
        return self.directory / "server.pem"

    @property
    def server_key(self) -> Path:
        return self.directory / "server-key.pem"

    @property
    def names(self) -> Path:
        """The declared host names the certificate carries besides the local ones."""
        return self.directory / "names.json"

    def declared_names(self) -> list[str]:
        try:
            return json.loads(self.names.read_text())
        except (OSError, ValueError):
            return []

    def exist(self) -> bool:
        return self.ca_cert.is_file() and self.server_cert.is_file() and self.server_key.is_file()


def _name(common_name: str):
    from cryptography import x509
    from cryptography.x509.oid import NameOID

    return x509.Name(
        [
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, "groundwork local stack"),
            x509.NameAttribute(NameOID.COMMON_NAME, common_name),
        ]
    )


def renewal_due(files: TlsFiles, now: dt.datetime | None = None) -> bool:
    """Whether the server certificate is unreadable, or expires within RENEW_BEFORE_DAYS of `now`."""
    from cryptography import x509

    try:
        certificate = x509.load_pem_x509_certificate(files.server_cert.read_bytes())
    except (OSError, ValueError):
        return True
    left = certificate.not_valid_after_utc - (now or dt.datetime.now(dt.UTC))
    return left < dt.timedelta(days=RENEW_BEFORE_DAYS)


def generate(files: TlsFiles, names: tuple[str, ...] = (), lifetime_days: int = LEAF_DAYS) -> None:
    """Write a fresh CA (10 years) and a server certificate it signs (`lifetime_days`, at most 366); EC P-256.

    The certificate names the local host names and `names` (the host names the program's certificate declares).
    """
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import ExtendedKeyUsageOID

    if not 1 <= lifetime_days <= 366:
        raise ValueError(f"lifetime_days={lifetime_days} is not allowed; allowed: 1 to 366")
    now = dt.datetime.now(dt.UTC)
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_name = _name("groundwork local CA")
    ca_cert = (
        x509.CertificateBuilder()
        .subject_name(ca_name)
        .issuer_name(ca_name)
        .public_key(ca_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=3650))
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=True,
                key_cert_sign=True,
                crl_sign=True,
                content_commitment=False,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(ca_key.public_key()), critical=False)
        .sign(ca_key, hashes.SHA256())
    )
    server_key = ec.generate_private_key(ec.SECP256R1())
    alt_names = [x509.DNSName(name) for name in dict.fromkeys((*HOST_NAMES, *names))]
    alt_names += [x509.IPAddress(ipaddress.ip_address(address)) for address in ADDRESSES]
    server_cert = (
        x509.CertificateBuilder()
        .subject_name(_name(HOST_NAMES[0]))
        .issuer_name(ca_name)
        .public_key(server_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now)
        .not_valid_after(now + dt.timedelta(days=lifetime_days))
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(x509.SubjectAlternativeName(alt_names), critical=False)
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
        .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()), critical=False)
        .sign(ca_key, hashes.SHA256())
    )
    files.directory.mkdir(parents=True, exist_ok=True)
    files.ca_cert.write_bytes(ca_cert.public_bytes(serialization.Encoding.PEM))
    files.server_cert.write_bytes(server_cert.public_bytes(serialization.Encoding.PEM))
    files.names.write_text(json.dumps(sorted(names)))
    files.server_key.touch(mode=0o600)
    files.server_key.write_bytes(
        server_key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
    )
    # The CA's key is not kept: nothing else is ever signed with it, so nothing can be forged with it either.
