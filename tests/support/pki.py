"""Certificate bundles made on the fly for tests (device form: keys unencrypted)."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

UTC = dt.UTC
_KEYS: list[rsa.RSAPrivateKey] = []


def _key(index: int) -> rsa.RSAPrivateKey:
    """RSA keys are slow to make: reuse a small pool across the whole test run."""
    while len(_KEYS) <= index:
        _KEYS.append(rsa.generate_private_key(public_exponent=65537, key_size=2048))
    return _KEYS[index]


def _name(cn: str) -> x509.Name:
    return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, cn)])


@dataclass
class CertAuthority:
    key: rsa.RSAPrivateKey
    cert: x509.Certificate

    @classmethod
    def make(cls, cn: str = "Test CA", key_index: int = 0) -> CertAuthority:
        key = _key(key_index)
        now = dt.datetime.now(UTC)
        cert = (
            x509.CertificateBuilder()
            .subject_name(_name(cn))
            .issuer_name(_name(cn))
            .public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - dt.timedelta(days=365))
            .not_valid_after(now + dt.timedelta(days=3650))
            .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
            .sign(key, hashes.SHA256())
        )
        return cls(key, cert)

    def issue(
        self,
        cn: str,
        key: rsa.RSAPrivateKey,
        *,
        days: int = 365,
        not_before_days: int = -1,
        client: bool = True,
    ) -> x509.Certificate:
        now = dt.datetime.now(UTC)
        usages = [ExtendedKeyUsageOID.CLIENT_AUTH] if client else [ExtendedKeyUsageOID.SERVER_AUTH]
        return (
            x509.CertificateBuilder()
            .subject_name(_name(cn))
            .issuer_name(self.cert.subject)
            .public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now + dt.timedelta(days=not_before_days))
            .not_valid_after(now + dt.timedelta(days=days))
            .add_extension(x509.ExtendedKeyUsage(usages), critical=False)
            .sign(self.key, hashes.SHA256())
        )


def pem(item: x509.Certificate | rsa.RSAPrivateKey) -> bytes:
    if isinstance(item, x509.Certificate):
        return item.public_bytes(serialization.Encoding.PEM)
    return item.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )


@dataclass
class DeviceBundle:
    """The five files a node needs, by MMP file name."""

    files: dict[str, bytes] = field(default_factory=dict)
    names: tuple[str, ...] = ()

    @classmethod
    def make(
        cls,
        ca: CertAuthority,
        *,
        prefix: str = "t",
        client_cn: str = "postgres",
        days: int = 365,
    ) -> DeviceBundle:
        server_key, client_key = _key(1), _key(2)
        files = {
            f"{prefix}server.key": pem(server_key),
            f"{prefix}server.cer": pem(ca.issue("db.example", server_key, days=days, client=False)),
            f"{prefix}client.key": pem(client_key),
            f"{prefix}client.cer": pem(ca.issue(client_cn, client_key, days=days)),
            f"{prefix}ca.cer": pem(ca.cert),
        }
        return cls(files, tuple(files))

    def certs_command(self) -> str:
        return "database cluster certs " + " ".join(self.names)
