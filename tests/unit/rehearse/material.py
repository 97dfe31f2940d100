"""Real key material for the planner scenarios' file labels, so a twin can run them.

The scenarios (tests/plans/*.yaml) name file contents by label ("new-sc", "cavd"); the
planner only compares hashes, but the twin's device model checks keys, chains and expiry.
Each desired bundle's labels become a CA, keys and certificates that belong together;
labels only the live side uses stay plain text, which the twin knows by hash alone.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import timedelta
from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from tests.support import planning

_KEYS: dict[str, ec.EllipticCurvePrivateKey] = {}


def _key(label: str) -> ec.EllipticCurvePrivateKey:
    if label not in _KEYS:
        _KEYS[label] = ec.generate_private_key(ec.SECP256R1())
    return _KEYS[label]


def _name(text: str) -> x509.Name:
    return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, text)])


def _cert(
    subject: str,
    key: ec.EllipticCurvePrivateKey,
    issuer: str,
    issuer_key: ec.EllipticCurvePrivateKey,
    *,
    ca: bool,
    usage: x509.ObjectIdentifier | None = None,
) -> bytes:
    builder = (
        x509.CertificateBuilder()
        .subject_name(_name(subject))
        .issuer_name(_name(issuer))
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(planning.NOW - timedelta(days=30))
        .not_valid_after(planning.NOW + timedelta(days=365))
        .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True)
    )
    if usage is not None:
        builder = builder.add_extension(x509.ExtendedKeyUsage([usage]), critical=False)
    return builder.sign(issuer_key, hashes.SHA256()).public_bytes(serialization.Encoding.PEM)


def bundle_material(desired: dict[str, Any]) -> dict[str, bytes]:
    """Bytes for every label a desired bundle (and its overrides) uses."""
    table: dict[str, bytes] = {}
    bundles = [desired["bundle"]]
    bundles += [{**desired["bundle"], **files} for files in desired.get("overrides", {}).values()]
    for bundle in bundles:
        labels = {role: pair[1] for role, pair in bundle.items()}
        ca = labels["ca_cert"]
        ca_name = f"CA {ca}"
        table.setdefault(ca, _cert(ca_name, _key(ca), ca_name, _key(ca), ca=True))
        for key_role, cert_role, cn, usage in (
            ("server_key", "server_cert", "server", ExtendedKeyUsageOID.SERVER_AUTH),
            ("client_key", "client_cert", "postgres", ExtendedKeyUsageOID.CLIENT_AUTH),
        ):
            key = _key(labels[key_role])
            table.setdefault(
                labels[key_role],
                key.private_bytes(
                    serialization.Encoding.PEM,
                    serialization.PrivateFormat.PKCS8,
                    serialization.NoEncryption(),
                ),
            )
            table.setdefault(
                labels[cert_role], _cert(cn, key, ca_name, _key(ca), ca=False, usage=usage)
            )
    return table


@contextmanager
def real_contents(desired: dict[str, Any]) -> Iterator[None]:
    """While inside, the scenario builders give the desired labels real key material."""
    table = bundle_material(desired)
    original = planning.content

    def real(label: str) -> bytes:
        return table.get(label) or original(label)

    planning.content = real
    try:
        yield
    finally:
        planning.content = original
