"""Real certificate semantics for the simulated device (cryptography, no canned answers)."""

from __future__ import annotations

import functools
from dataclasses import dataclass
from datetime import datetime

from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa
from cryptography.hazmat.primitives.asymmetric.types import PrivateKeyTypes
from cryptography.x509.oid import NameOID


@dataclass(frozen=True)
class FileContent:
    """What a file in the node's area holds, as the device would see it."""

    certificates: tuple[x509.Certificate, ...]
    private_key: PrivateKeyTypes | None

    @property
    def kind(self) -> str:
        if self.certificates:
            return "certificate"
        if self.private_key is not None:
            return "private_key"
        return "unknown"


@functools.lru_cache(maxsize=256)
def read_file_content(data: bytes) -> FileContent:
    """Parse PEM certificates (one or more) or an unencrypted PEM private key.

    Cached: status and every settle re-check the same few files, and loading an RSA key
    is slow.
    """
    certificates: tuple[x509.Certificate, ...] = ()
    if b"-----BEGIN CERTIFICATE-----" in data:
        try:
            certificates = tuple(x509.load_pem_x509_certificates(data))
        except ValueError:
            certificates = ()
    key: PrivateKeyTypes | None = None
    if b"PRIVATE KEY-----" in data and b"ENCRYPTED" not in data:
        try:
            key = serialization.load_pem_private_key(data, password=None)
        except (ValueError, TypeError):
            key = None
    return FileContent(certificates, key)


def leaf(data: bytes) -> x509.Certificate | None:
    """The first certificate of a file, or None."""
    content = read_file_content(data)
    return content.certificates[0] if content.certificates else None


def within_validity(cert: x509.Certificate, now: datetime) -> bool:
    return cert.not_valid_before_utc <= now <= cert.not_valid_after_utc


def expired(cert: x509.Certificate, now: datetime) -> bool:
    return now > cert.not_valid_after_utc


def common_name(cert: x509.Certificate) -> str | None:
    names = cert.subject.get_attributes_for_oid(NameOID.COMMON_NAME)
    return str(names[0].value) if names else None


def chains_to(cert: x509.Certificate, bundle: tuple[x509.Certificate, ...], now: datetime) -> bool:
    """True when ``cert`` is issued, directly or through intermediates, by a root in ``bundle``.

    This is what the database service's ``sslmode=verify-ca`` checks (reference §4.2): the
    chain and the validity of each certificate, not host names.
    """
    current = cert
    for _ in range(len(bundle) + 1):
        issuer = _find_issuer(current, bundle)
        if issuer is None or not within_validity(issuer, now):
            return False
        if issuer.subject == issuer.issuer:
            return True
        current = issuer
    return False


def _find_issuer(
    cert: x509.Certificate, bundle: tuple[x509.Certificate, ...]
) -> x509.Certificate | None:
    for candidate in bundle:
        if candidate.subject != cert.issuer:
            continue
        try:
            cert.verify_directly_issued_by(candidate)
        except (ValueError, TypeError, InvalidSignature):
            continue
        return candidate
    return None


def key_bits(key: PrivateKeyTypes) -> int:
    if isinstance(key, rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey):
        return key.key_size
    if isinstance(key, ed25519.Ed25519PrivateKey):
        return 256
    return 0


def _dn(name: x509.Name) -> str:
    """DN as the MMP prints it: ``K=V, K=V`` in encoding order (``C=.., CN=..``)."""
    return ", ".join(attribute.rfc4514_string() for attribute in name)


def _when(moment: datetime) -> str:
    return moment.strftime("%b %e %H:%M:%S %Y GMT")


def render_inspect(cert: x509.Certificate) -> list[str]:
    """The x509 dump of ``pki inspect`` (reference §2.1), 2-space indented."""
    serial = f"{cert.serial_number:x}"
    if len(serial) % 2:
        serial = "0" + serial
    serial_text = ":".join(serial[i : i + 2] for i in range(0, len(serial), 2))
    public_key = cert.public_key()
    if isinstance(public_key, rsa.RSAPublicKey):
        algorithm, bits = "rsaEncryption", public_key.key_size
    elif isinstance(public_key, ec.EllipticCurvePublicKey):
        algorithm, bits = "id-ecPublicKey", public_key.key_size
    else:
        algorithm, bits = "unknown", 0
    signature = cert.signature_algorithm_oid._name
    return [
        "Certificate:",
        "  Data:",
        f"    Version: {cert.version.value + 1} (0x{cert.version.value:x})",
        "    Serial Number:",
        f"      {serial_text}",
        f"    Signature Algorithm: {signature}",
        f"    Issuer: {_dn(cert.issuer)}",
        "    Validity:",
        f"      Not Before: {_when(cert.not_valid_before_utc)}",
        f"      Not After : {_when(cert.not_valid_after_utc)}",
        f"    Subject: {_dn(cert.subject)}",
        "    Subject Public Key Info:",
        f"      Public Key Algorithm: {algorithm}",
        f"      Public-Key: ({bits} bit)",
    ]
