"""Certificate rules for the CMS database cluster (reference section 4), as pure functions.

Each check returns ``Problem``s whose message starts with the file's path, so the caller
only adds the key path and node. ``now`` is always a parameter: tests pin the clock.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from cryptography import x509
from cryptography.exceptions import InvalidSignature, UnsupportedAlgorithm
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa
from cryptography.hazmat.primitives.asymmetric.types import (
    CertificatePublicKeyTypes,
    PrivateKeyTypes,
    PublicKeyTypes,
)
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from reconciler.desired.findings import Severity
from reconciler.durations import format_duration

CLIENT_CN = "postgres"
MIN_RSA_BITS = 2048
_MAX_CHAIN = 8


@dataclass(frozen=True)
class Problem:
    severity: Severity
    message: str


def error(message: str) -> Problem:
    return Problem(Severity.ERROR, message)


def warning(message: str) -> Problem:
    return Problem(Severity.WARNING, message)


def describe_name(name: x509.Name) -> str:
    return name.rfc4514_string() or "(empty name)"


def common_name(cert: x509.Certificate) -> str | None:
    values = cert.subject.get_attributes_for_oid(NameOID.COMMON_NAME)
    if not values:
        return None
    value = values[0].value
    return value if isinstance(value, str) else value.decode("utf-8", "replace")


def is_self_signed(cert: x509.Certificate) -> bool:
    return cert.subject == cert.issuer and issued_by(cert, cert)


def is_dns_name(value: str) -> bool:
    """A host name (``cms1``, ``cms1.example.com``) that can stand in a DNS SAN; not an address."""
    labels = value.rstrip(".").split(".")
    return all(
        0 < len(label) <= 63
        and label[0] != "-"
        and label[-1] != "-"
        and all(char.isascii() and (char.isalnum() or char == "-") for char in label)
        for label in labels
    ) and not _is_address(value)


def _is_address(value: str) -> bool:
    try:
        ipaddress.ip_address(value)
    except ValueError:
        return False
    return True


CMS_35_NAME_CHECK = (
    'CMS 3.5 added "enhanced security for the Database Cluster" (Cisco has not published '
    "what it checks); if it checks names, the nodes would refuse this certificate and every "
    "join after the rotation would fail (earlier releases check no name: verify-ca)"
)


def missing_sans(cert: x509.Certificate, nodes: Sequence[tuple[str, str]]) -> list[str]:
    """The SAN entries (``IP:addr``, ``DNS:name``) the server certificate lacks for
    ``nodes`` (name, address): each node's address, and its name where that is a DNS name
    (what ``certs issue`` and ``certs csr`` put there)."""
    try:
        san = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    except x509.ExtensionNotFound:
        addresses: set[ipaddress.IPv4Address | ipaddress.IPv6Address] = set()
        names: set[str] = set()
    else:
        addresses = {
            value
            for value in san.get_values_for_type(x509.IPAddress)
            if isinstance(value, ipaddress.IPv4Address | ipaddress.IPv6Address)
        }
        names = {name.rstrip(".").lower() for name in san.get_values_for_type(x509.DNSName)}
    missing: list[str] = []
    for name, address in nodes:
        if ipaddress.ip_address(address) not in addresses:
            missing.append(f"IP:{address}")
        if is_dns_name(name) and name.rstrip(".").lower() not in names:
            missing.append(f"DNS:{name}")
    return list(dict.fromkeys(missing))


def server_sans(
    cert: x509.Certificate, label: str, nodes: Sequence[tuple[str, str]]
) -> list[Problem]:
    """A warning when the server certificate does not name every node that presents it."""
    missing = missing_sans(cert, nodes)
    if not missing:
        return []
    return [
        warning(
            f"{label} does not carry {', '.join(missing)} in its subjectAltName: "
            f"{CMS_35_NAME_CHECK}. `reconcile certs issue` and `reconcile certs csr` add every "
            "node's name and address"
        )
    ]


def _when(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%d %H:%M UTC")


def validity(
    cert: x509.Certificate, label: str, now: datetime, renew_before: timedelta
) -> list[Problem]:
    """Expired or not yet valid: error; expiring within ``renew_before``: warning."""
    not_before = cert.not_valid_before_utc
    not_after = cert.not_valid_after_utc
    if now > not_after:
        return [
            error(
                f"{label} expired on {_when(not_after)} ({format_duration(now - not_after)} "
                "ago); issue a new certificate"
            )
        ]
    if now < not_before:
        return [
            error(
                f"{label} is not valid until {_when(not_before)} (in "
                f"{format_duration(not_before - now)}); the nodes would reject it until then: "
                "check the clock or issue it with an earlier start date"
            )
        ]
    left = not_after - now
    if left <= renew_before:
        return [
            warning(
                f"{label} expires on {_when(not_after)}, in {format_duration(left)} "
                f"(within renew_before {format_duration(renew_before)}); renew it"
            )
        ]
    return []


def signature_algorithm(cert: x509.Certificate, label: str) -> list[Problem]:
    """SHA-1 signed: warning; MD5 signed: error (current TLS libraries refuse it)."""
    try:
        algorithm = cert.signature_hash_algorithm
    except UnsupportedAlgorithm:
        return [error(f"{label} uses a signature algorithm this tool does not know")]
    if isinstance(algorithm, hashes.MD5):
        return [error(f"{label} is signed with MD5, which TLS refuses; reissue it with SHA-256")]
    if isinstance(algorithm, hashes.SHA1):
        return [
            warning(
                f"{label} is signed with SHA-1, which current TLS libraries reject or will "
                "reject; reissue it with SHA-256"
            )
        ]
    return []


def key_strength(public_key: CertificatePublicKeyTypes, label: str) -> list[Problem]:
    if isinstance(public_key, rsa.RSAPublicKey) and public_key.key_size < MIN_RSA_BITS:
        return [
            error(
                f"{label} has a {public_key.key_size}-bit RSA key; use at least "
                f"{MIN_RSA_BITS} bits (the reference deployments use 4096)"
            )
        ]
    return []


def _extended_key_usage(cert: x509.Certificate) -> list[x509.ObjectIdentifier] | None:
    try:
        return list(cert.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value)
    except x509.ExtensionNotFound:
        return None


def _oid_names(oids: list[x509.ObjectIdentifier]) -> str:
    names = {
        ExtendedKeyUsageOID.SERVER_AUTH: "serverAuth",
        ExtendedKeyUsageOID.CLIENT_AUTH: "clientAuth",
    }
    return ", ".join(names.get(oid, oid._name) for oid in oids) or "nothing"


def extended_key_usage(
    cert: x509.Certificate, label: str, required: x509.ObjectIdentifier, use: str
) -> list[Problem]:
    """When an EKU extension is present it must allow the TLS side this cert plays."""
    usages = _extended_key_usage(cert)
    if usages is None or required in usages or ExtendedKeyUsageOID.ANY_EXTENDED_KEY_USAGE in usages:
        return []
    wanted = _oid_names([required])
    return [
        error(
            f"{label} has extendedKeyUsage {_oid_names(usages)} without {wanted}; {use}, "
            f"so reissue it with {wanted} (the CMS templates use serverAuth, clientAuth)"
        )
    ]


def key_usage(cert: x509.Certificate, label: str) -> list[Problem]:
    """When keyUsage is present, a TLS leaf needs digitalSignature or keyEncipherment."""
    try:
        usage = cert.extensions.get_extension_for_class(x509.KeyUsage).value
    except x509.ExtensionNotFound:
        return []
    if usage.digital_signature or usage.key_encipherment:
        return []
    return [
        error(
            f"{label} has keyUsage without digitalSignature or keyEncipherment, so TLS cannot "
            "use it; reissue it with digitalSignature, keyEncipherment"
        )
    ]


def client_common_name(cert: x509.Certificate, label: str) -> list[Problem]:
    name = common_name(cert)
    if name == CLIENT_CN:
        return []
    shown = repr(name) if name is not None else "no CN"
    return [
        error(
            f"{label} has CN {shown}, but the database cluster client certificate must have "
            f"CN={CLIENT_CN} (the nodes log in to PostgreSQL as user {CLIENT_CN}); reissue it "
            f"with CN={CLIENT_CN}"
        )
    ]


def is_ca_certificate(cert: x509.Certificate, label: str) -> list[Problem]:
    try:
        constraints = cert.extensions.get_extension_for_class(x509.BasicConstraints).value
    except x509.ExtensionNotFound:
        return []
    if constraints.ca:
        return []
    return [
        error(
            f"{label} holds {describe_name(cert.subject)}, which is not a CA certificate "
            "(basicConstraints CA:FALSE); put the CA that issued the certificates here"
        )
    ]


def _spki(public_key: PublicKeyTypes) -> bytes:
    return public_key.public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )


def key_matches(key: PrivateKeyTypes, cert: x509.Certificate) -> bool:
    return _spki(key.public_key()) == _spki(cert.public_key())


def issued_by(cert: x509.Certificate, issuer: x509.Certificate) -> bool:
    """``issuer`` signed ``cert`` (names match and the signature verifies)."""
    if cert.issuer != issuer.subject:
        return False
    try:
        cert.verify_directly_issued_by(issuer)
    except InvalidSignature:
        return False
    except (ValueError, TypeError, UnsupportedAlgorithm):
        return _verify_legacy_signature(cert, issuer)
    return True


def _verify_legacy_signature(cert: x509.Certificate, issuer: x509.Certificate) -> bool:
    """Verify what ``verify_directly_issued_by`` refuses: SHA-1 signatures, common on older
    CMS deployments (the tech note's certificates are sha1WithRSAEncryption)."""
    try:
        algorithm = cert.signature_hash_algorithm
        parameters = cert.signature_algorithm_parameters
        key = issuer.public_key()
        if algorithm is None:
            return False
        if isinstance(key, rsa.RSAPublicKey) and isinstance(
            parameters, padding.PKCS1v15 | padding.PSS
        ):
            key.verify(cert.signature, cert.tbs_certificate_bytes, parameters, algorithm)
        elif isinstance(key, ec.EllipticCurvePublicKey):
            key.verify(cert.signature, cert.tbs_certificate_bytes, ec.ECDSA(algorithm))
        else:
            return False
    except (InvalidSignature, ValueError, TypeError, UnsupportedAlgorithm):
        return False
    return True


def chain_problems(
    leaf: x509.Certificate,
    label: str,
    intermediates: list[x509.Certificate],
    ca_file: list[x509.Certificate],
    ca_label: str,
) -> list[Problem]:
    """The leaf must chain to a self-signed root in the CA file.

    Intermediates may sit in the CA file or after the leaf in its own file; PostgreSQL
    (``verify-ca``) needs the chain to end at a root that the CA file holds.
    """
    if leaf in ca_file and is_self_signed(leaf):
        return []  # a self-signed leaf that the CA file trusts directly
    pool = ca_file + [cert for cert in intermediates if cert not in ca_file]
    current = leaf
    for _ in range(_MAX_CHAIN):
        named = [cert for cert in pool if cert.subject == current.issuer and cert != current]
        issuer = next((cert for cert in named if issued_by(current, cert)), None)
        if issuer is None:
            what = label if current is leaf else f"{describe_name(current.subject)} in the chain"
            if named:
                return [
                    error(
                        f"{what} names {describe_name(current.issuer)} as issuer, but its "
                        f"signature does not verify with that certificate in {ca_label} (a "
                        "different CA with the same name?); use the CA that really issued it"
                    )
                ]
            holds = "; ".join(describe_name(cert.subject) for cert in ca_file) or "nothing"
            if current is not leaf:
                return [
                    error(
                        f"the chain of {label} reaches {describe_name(current.subject)}, whose "
                        f"issuer {describe_name(current.issuer)} is not in the CA file "
                        f"{ca_label} (it holds: {holds}); add the root CA certificate (and any "
                        "missing intermediate) to it"
                    )
                ]
            return [
                error(
                    f"{what} was issued by {describe_name(current.issuer)}, which is not in "
                    f"the CA file {ca_label} (it holds: {holds}); reissue it from that CA or "
                    "put its issuer in the CA file"
                )
            ]
        if is_self_signed(issuer):
            if issuer in ca_file:
                return []
            return [
                error(
                    f"{label} chains to the root {describe_name(issuer.subject)}, which is not "
                    f"in the CA file {ca_label}; add that root to it"
                )
            ]
        current = issuer
    return [
        error(
            f"the chain of {label} is longer than {_MAX_CHAIN} certificates without reaching a "
            f"root in {ca_label}"
        )
    ]
