"""Test certificates built with cryptography, in the way scripts/make_lab_material.py does.

RSA key generation is slow, so keys are made once per session (``Pki``) and reused; only
certificates (cheap) are made per test. Validity is relative to ``NOW``, the real clock at
import, so that the CLI (which cannot be given a clock) sees the same validity as the tests.
"""

from __future__ import annotations

import datetime as dt
import ipaddress
from dataclasses import dataclass, field

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa
from cryptography.hazmat.primitives.asymmetric.types import PrivateKeyTypes
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

UTC = dt.UTC
NOW = dt.datetime.now(UTC).replace(microsecond=0)
PASSPHRASE = "test-passphrase"
SERVER_AUTH = ExtendedKeyUsageOID.SERVER_AUTH
CLIENT_AUTH = ExtendedKeyUsageOID.CLIENT_AUTH
YEAR = dt.timedelta(days=365)


NODE_SANS: tuple[x509.GeneralName, ...] = tuple(
    entry
    for n in range(1, 8)
    for entry in (x509.DNSName(f"cms{n}"), x509.IPAddress(ipaddress.ip_address(f"10.0.0.{n}")))
)
"""The test cluster's nodes (``labrepo.good_doc``, and up to seven as some tests make it) by
name and address, as ``certs issue`` names them: every leaf carries them unless a test says
otherwise (``sans=()``)."""


def name(common_name: str) -> x509.Name:
    return x509.Name(
        [
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, "TEST ONLY"),
            x509.NameAttribute(NameOID.COMMON_NAME, common_name),
        ]
    )


def rsa_key(bits: int = 2048) -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=bits)


@dataclass
class Issuer:
    key: PrivateKeyTypes
    cert: x509.Certificate


@dataclass
class Pki:
    """Session-wide keys and CAs; ``leaf`` makes certificates on demand."""

    root: Issuer
    other_root: Issuer
    twin_root: Issuer
    """Same subject name as ``root`` but a different key (a look-alike CA)."""
    intermediate: Issuer
    server_key: rsa.RSAPrivateKey
    client_key: rsa.RSAPrivateKey
    spare_key: rsa.RSAPrivateKey
    small_key: rsa.RSAPrivateKey
    ec_key: ec.EllipticCurvePrivateKey
    _cache: dict[str, bytes] = field(default_factory=dict)

    def leaf(
        self,
        key: PrivateKeyTypes,
        common_name: str,
        issuer: Issuer | None = None,
        usages: list[x509.ObjectIdentifier] | None = None,
        not_before: dt.datetime | None = None,
        not_after: dt.datetime | None = None,
        digest: hashes.HashAlgorithm | None = None,
        key_usage: x509.KeyUsage | None = None,
        sans: tuple[x509.GeneralName, ...] = NODE_SANS,
    ) -> x509.Certificate:
        signer = issuer or self.root
        builder = (
            x509.CertificateBuilder()
            .subject_name(name(common_name))
            .issuer_name(signer.cert.subject)
            .public_key(key.public_key())  # type: ignore[arg-type]
            .serial_number(x509.random_serial_number())
            .not_valid_before(not_before or NOW - YEAR)
            .not_valid_after(not_after or NOW + 5 * YEAR)
            .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        )
        if usages is not None:
            builder = builder.add_extension(x509.ExtendedKeyUsage(usages), critical=False)
        if key_usage is not None:
            builder = builder.add_extension(key_usage, critical=True)
        if sans:
            builder = builder.add_extension(x509.SubjectAlternativeName(sans), critical=False)
        return builder.sign(signer.key, digest or hashes.SHA256())  # type: ignore[arg-type]


_SHA256_RSA = bytes.fromhex("06092a864886f70d01010b")
_SHA1_RSA = bytes.fromhex("06092a864886f70d010105")


def _der(tag: int, body: bytes) -> bytes:
    size = len(body)
    if size < 0x80:
        return bytes([tag, size]) + body
    length = size.to_bytes((size.bit_length() + 7) // 8, "big")
    return bytes([tag, 0x80 | len(length)]) + length + body


def sha1_signed(cert: x509.Certificate, issuer: Issuer) -> x509.Certificate:
    """Re-sign ``cert`` with sha1WithRSAEncryption (cryptography refuses to build SHA-1 certs).

    The to-be-signed part of a SHA-256 certificate is taken, its algorithm identifier is
    swapped for SHA-1 (same length), and the DER is reassembled around a SHA-1 signature.
    """
    assert isinstance(issuer.key, rsa.RSAPrivateKey)
    tbs = cert.tbs_certificate_bytes
    assert tbs.count(_SHA256_RSA) == 1
    tbs = tbs.replace(_SHA256_RSA, _SHA1_RSA)
    signature = issuer.key.sign(tbs, padding.PKCS1v15(), hashes.SHA1())
    algorithm = _der(0x30, _SHA1_RSA + b"\x05\x00")
    der = _der(0x30, tbs + algorithm + _der(0x03, b"\x00" + signature))
    return x509.load_der_x509_certificate(der)


def make_ca(
    common_name: str,
    key: rsa.RSAPrivateKey,
    issuer: Issuer | None = None,
    not_before: dt.datetime | None = None,
    not_after: dt.datetime | None = None,
) -> Issuer:
    subject = name(common_name)
    signer_key = issuer.key if issuer else key
    cert = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(issuer.cert.subject if issuer else subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(not_before or NOW - 2 * YEAR)
        .not_valid_after(not_after or NOW + 10 * YEAR)
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .add_extension(
            x509.KeyUsage(False, False, False, False, False, True, True, False, False),
            critical=True,
        )
        .sign(signer_key, hashes.SHA256())  # type: ignore[arg-type]
    )
    return Issuer(key, cert)


def build_pki() -> Pki:
    root_key, other_key, twin_key, inter_key = (rsa_key() for _ in range(4))
    root = make_ca("TEST root CA", root_key)
    return Pki(
        root=root,
        other_root=make_ca("TEST other CA", other_key),
        twin_root=make_ca("TEST root CA", twin_key),
        intermediate=make_ca("TEST intermediate CA", inter_key, issuer=root),
        server_key=rsa_key(),
        client_key=rsa_key(),
        spare_key=rsa_key(),
        small_key=rsa_key(1024),
        ec_key=ec.generate_private_key(ec.SECP256R1()),
    )


def cert_pem(*certs: x509.Certificate) -> bytes:
    return b"".join(cert.public_bytes(serialization.Encoding.PEM) for cert in certs)


def cert_der(cert: x509.Certificate) -> bytes:
    return cert.public_bytes(serialization.Encoding.DER)


def encrypted_key(key: PrivateKeyTypes, passphrase: str = PASSPHRASE) -> bytes:
    return key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.BestAvailableEncryption(passphrase.encode()),
    )


def plaintext_key(key: PrivateKeyTypes) -> bytes:
    return key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )


def legacy_encrypted_key(key: PrivateKeyTypes, passphrase: str = PASSPHRASE) -> bytes:
    return key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.TraditionalOpenSSL,
        serialization.BestAvailableEncryption(passphrase.encode()),
    )
