"""Keys, names and extensions of a new bundle, and reading the certificates a CA sends back.

What goes into the certificates follows the reference (section 4): the client certificate has
CN ``postgres`` (the nodes log in to PostgreSQL as that user); both certificates carry
keyUsage digitalSignature and keyEncipherment and extendedKeyUsage serverAuth and clientAuth
(every node is TLS server and client to the others; the CMS templates use both). The server
certificate keeps the CN it has now and names every node, by name and address, in its SAN:
CMS before 3.5 checks no name (``verify-ca``), and a name check in later releases would find
them there.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Protocol

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.hazmat.primitives.asymmetric.types import PrivateKeyTypes
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from reconciler.desired.certcheck import CLIENT_CN, common_name, is_dns_name
from reconciler.desired.models import ClusterSpec
from reconciler.desired.pem import check_key_pem, decrypt_key, pem_blocks
from reconciler.errors import ConfigError, MaterialError

KEY_SIZES = (2048, 3072, 4096)
DEFAULT_KEY_SIZE = 4096
IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
LEAF_USAGES: tuple[tuple[x509.ExtensionType, bool], ...] = (
    (
        x509.KeyUsage(
            digital_signature=True,
            content_commitment=False,
            key_encipherment=True,
            data_encipherment=False,
            key_agreement=False,
            key_cert_sign=False,
            crl_sign=False,
            encipher_only=False,
            decipher_only=False,
        ),
        True,
    ),
    (
        x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH, ExtendedKeyUsageOID.CLIENT_AUTH]),
        False,
    ),
)
"""keyUsage and extendedKeyUsage (and whether critical) of every leaf this tool asks for or
issues, whatever a CSR requests."""


@dataclass(frozen=True)
class Identity:
    """What a new certificate says about its holder."""

    common_name: str
    dns_names: tuple[str, ...] = ()
    ip_addresses: tuple[IPAddress, ...] = ()

    @property
    def subject(self) -> x509.Name:
        return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, self.common_name)])

    def describe(self) -> str:
        names = [f"DNS:{name}" for name in self.dns_names]
        names += [f"IP:{address}" for address in self.ip_addresses]
        return f"CN={self.common_name}" + (f"; SAN {', '.join(names)}" if names else "")

    def extensions(self) -> list[tuple[x509.ExtensionType, bool]]:
        """Extensions (and whether critical) that a CSR asks for and an issued cert carries."""
        extensions = list(LEAF_USAGES)
        general: list[x509.GeneralName] = [x509.DNSName(name) for name in self.dns_names]
        general += [x509.IPAddress(address) for address in self.ip_addresses]
        if general:
            extensions.append((x509.SubjectAlternativeName(general), False))
        return extensions


class Holder(Protocol):
    """What a CA needs of a certificate's holder: its subject and the extensions it gets."""

    @property
    def subject(self) -> x509.Name: ...

    def extensions(self) -> list[tuple[x509.ExtensionType, bool]]: ...


CLIENT_IDENTITY = Identity(CLIENT_CN)


def server_identity(
    spec: ClusterSpec, current: x509.Certificate | None, server_cn: str | None
) -> Identity:
    """The server certificate's CN (``server_cn``, else the current one's) and every node's
    name and address as SANs."""
    name = server_cn or (common_name(current) if current is not None else None)
    if not name:
        why = "has no CN" if current is not None else "cannot be read"
        raise ConfigError(
            f"the current server certificate {spec.certs.server_cert.path} {why}, so its CN "
            "cannot be kept: give the new one with --server-cn (e.g. the cluster's DNS name)"
        )
    dns = [value for value in (name, *(node.name for node in spec.nodes)) if is_dns_name(value)]
    addresses = [ipaddress.ip_address(node.address) for node in spec.nodes]
    return Identity(name, tuple(dict.fromkeys(dns)), tuple(dict.fromkeys(addresses)))


def new_key(bits: int) -> rsa.RSAPrivateKey:
    if bits not in KEY_SIZES:
        raise ConfigError(f"--key-size {bits} is not one of {', '.join(map(str, KEY_SIZES))}")
    return rsa.generate_private_key(public_exponent=65537, key_size=bits)


def encrypt_key(key: PrivateKeyTypes, passphrase: str) -> bytes:
    """``ENCRYPTED PRIVATE KEY`` PEM (PKCS#8, PBES2 with AES-256-CBC), checked by decrypting it
    again; the key is never serialized without encryption."""
    if not passphrase:
        raise ConfigError("an empty passphrase would leave the key readable")
    encrypted = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.BestAvailableEncryption(passphrase.encode()),
    )
    again = serialization.load_pem_private_key(encrypted, password=passphrase.encode())
    if _public_der(again) != _public_der(key):
        raise ConfigError("a new key did not survive encryption unchanged (a bug); nothing written")
    return encrypted


def decrypt_file_key(data: bytes, path: str, passphrase: str, env_name: str) -> PrivateKeyTypes:
    """An encrypted PKCS#8 key file, as ``validate`` reads one; ``ConfigError`` naming the file."""
    try:
        return decrypt_key(check_key_pem(data, path), passphrase, env_name)
    except MaterialError as error:
        raise ConfigError(f"{path} {error}") from None


def _public_der(key: PrivateKeyTypes) -> bytes:
    return key.public_key().public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )


def same_key(key: PrivateKeyTypes, cert: x509.Certificate) -> bool:
    return _public_der(key) == cert.public_key().public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )


def build_csr(key: rsa.RSAPrivateKey, identity: Identity) -> bytes:
    builder = x509.CertificateSigningRequestBuilder().subject_name(identity.subject)
    for extension, critical in identity.extensions():
        builder = builder.add_extension(extension, critical=critical)
    return builder.sign(key, hashes.SHA256()).public_bytes(serialization.Encoding.PEM)


def read_certificates(data: bytes, path: str, what: str) -> list[x509.Certificate]:
    """Every certificate of a file a CA sent: PEM (Base-64) with one or more, or one DER."""
    if not data.strip():
        raise ConfigError(f"{what} {path} is empty")
    if b"-----BEGIN" not in data and data[:1] == b"\x30":
        try:
            return [x509.load_der_x509_certificate(data)]
        except ValueError:
            raise ConfigError(
                f"{what} {path} is binary but not a DER certificate (a PKCS#7 .p7b chain? "
                "export the certificate as Base-64 / PEM instead)"
            ) from None
    try:
        blocks = pem_blocks(data, kind="certificate", path=path)
    except MaterialError as error:
        raise ConfigError(f"{what} {path} {error}") from None
    certificates: list[x509.Certificate] = []
    for block in blocks:
        if block.label == "PKCS7":
            raise ConfigError(
                f"{what} {path} is a PKCS#7 bundle; export each certificate as Base-64 / PEM"
            )
        if block.label != "CERTIFICATE":
            raise ConfigError(f"{what} {path} holds a {block.label}, not a certificate")
        try:
            certificates.append(x509.load_pem_x509_certificate(block.text))
        except ValueError:
            raise ConfigError(f"{what} {path} holds a damaged certificate") from None
    return certificates


def certificates_pem(certificates: Iterable[x509.Certificate]) -> bytes:
    return b"".join(cert.public_bytes(serialization.Encoding.PEM) for cert in certificates)
