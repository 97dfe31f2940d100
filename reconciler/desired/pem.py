"""Read certificate and key files from git, refusing anything but what the MMP should get.

Certificates must be PEM. Private keys must be encrypted PKCS#8 PEM (``ENCRYPTED PRIVATE
KEY``): a plaintext key in git is leaked. Each refusal says what the file is and how to fix it.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from cryptography import x509
from cryptography.exceptions import UnsupportedAlgorithm
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.types import PrivateKeyTypes

from reconciler.errors import MaterialError

_BLOCK = re.compile(rb"-----BEGIN ([A-Z0-9 ]+)-----(.*?)-----END \1-----", re.DOTALL)
_BEGIN = re.compile(rb"-----BEGIN ([A-Z0-9 ]+)-----")
_KEY_LABELS = ("PRIVATE KEY", "RSA PRIVATE KEY", "EC PRIVATE KEY", "DSA PRIVATE KEY")


@dataclass(frozen=True)
class PemBlock:
    label: str
    text: bytes
    """The whole block, BEGIN to END line, as bytes cryptography can load."""

    @property
    def legacy_encrypted(self) -> bool:
        return b"Proc-Type: 4,ENCRYPTED" in self.text


def pem_blocks(data: bytes, *, kind: str, path: str) -> list[PemBlock]:
    """The PEM blocks of a file; ``MaterialError`` for empty, DER, binary or truncated data."""
    if not data.strip():
        raise MaterialError("is empty")
    blocks = [
        PemBlock(match.group(1).decode("ascii"), match.group(0)) for match in _BLOCK.finditer(data)
    ]
    if blocks:
        if len(_BEGIN.findall(data)) > len(blocks):
            raise MaterialError("has a PEM block without its END line (truncated file?)")
        return blocks
    if _BEGIN.search(data):
        raise MaterialError("has a PEM block without its END line (truncated file?)")
    if data[:1] == b"\x30":
        if kind == "key":
            fix = f"openssl pkcs8 -topk8 -v2 aes-256-cbc -inform DER -in {path} -out {path}.pem"
        else:
            fix = f"openssl x509 -inform DER -in {path} -out {path}.pem"
        raise MaterialError(f"is DER (binary), not PEM; convert it with: {fix}")
    if b"\x00" in data or not _is_text(data):
        raise MaterialError(f"is binary data, not a PEM {kind} file")
    raise MaterialError(f"is not PEM: no '-----BEGIN ...-----' line (expected a PEM {kind})")


def _is_text(data: bytes) -> bool:
    try:
        data.decode("utf-8")
    except UnicodeDecodeError:
        return False
    return True


def load_certificates(data: bytes, path: str) -> list[x509.Certificate]:
    """Every certificate of a PEM file (leaf first for a leaf file); at least one."""
    certificates: list[x509.Certificate] = []
    for number, block in enumerate(pem_blocks(data, kind="certificate", path=path), start=1):
        if block.label == "CERTIFICATE":
            try:
                certificates.append(x509.load_pem_x509_certificate(block.text))
            except ValueError:
                raise MaterialError(
                    f"PEM block {number} is not a valid certificate (its content does not "
                    "decode as X.509): the file is damaged, export it again"
                ) from None
        elif "PRIVATE KEY" in block.label:
            raise MaterialError(
                "holds a private key, not a certificate (are the key and certificate swapped?)"
            )
        elif block.label in ("CERTIFICATE REQUEST", "NEW CERTIFICATE REQUEST"):
            raise MaterialError(
                "holds a certificate signing request, not a certificate; "
                "use the certificate the CA issued for it"
            )
        else:
            raise MaterialError(f"holds an unexpected PEM block {block.label!r}")
    return certificates


def check_key_pem(data: bytes, path: str) -> PemBlock:
    """The one ENCRYPTED PRIVATE KEY block of a key file, or why the file is refused."""
    blocks = pem_blocks(data, kind="private key", path=path)
    encrypt = (
        f"encrypt it with: openssl pkcs8 -topk8 -v2 aes-256-cbc -in {path} -out {path}.enc "
        "and replace the file"
    )
    for block in blocks:
        if block.label in _KEY_LABELS and not block.legacy_encrypted:
            raise MaterialError(
                f"is an UNENCRYPTED private key ({block.label}); keys in git must be encrypted "
                f"PKCS#8 PEM (ENCRYPTED PRIVATE KEY): {encrypt}. The key is in git history "
                "now, so also replace the key and its certificate"
            )
        if block.label in _KEY_LABELS:
            raise MaterialError(
                f"uses legacy PEM encryption ({block.label} with Proc-Type); keys in git must "
                f"be encrypted PKCS#8 (ENCRYPTED PRIVATE KEY): {encrypt}"
            )
    keys = [block for block in blocks if block.label == "ENCRYPTED PRIVATE KEY"]
    others = [block.label for block in blocks if block.label != "ENCRYPTED PRIVATE KEY"]
    if not keys:
        if "CERTIFICATE" in others:
            raise MaterialError(
                "holds a certificate, not a private key (are the key and certificate swapped?)"
            )
        if "CERTIFICATE REQUEST" in others:
            raise MaterialError("holds a certificate signing request, not a private key")
        raise MaterialError(f"holds no private key (found {', '.join(others)})")
    if len(keys) > 1 or others:
        raise MaterialError(
            "must hold exactly one private key and nothing else "
            f"(found {', '.join(block.label for block in blocks)})"
        )
    return keys[0]


def decrypt_key(
    block: PemBlock, passphrase: str, env_name: str, *, check_consistency: bool = True
) -> PrivateKeyTypes:
    """The key; ``check_consistency=False`` skips OpenSSL's RSA key check (primality of p
    and q, and the like), which costs tens of milliseconds per key and dominated a fleet's
    plan: a plan sends nothing, while apply and validate, which do, always check."""
    try:
        return serialization.load_pem_private_key(
            block.text,
            password=passphrase.encode(),
            unsafe_skip_rsa_key_validation=not check_consistency,
        )
    except ValueError:
        raise MaterialError(
            f"cannot be decrypted with the passphrase in ${env_name} "
            "(wrong passphrase, or a damaged file)"
        ) from None
    except UnsupportedAlgorithm as error:
        raise MaterialError(
            f"is encrypted with an algorithm this tool cannot read ({_short(error)}); "
            "re-encrypt it with: openssl pkcs8 -topk8 -v2 aes-256-cbc"
        ) from None


def unencrypted_pkcs8(key: PrivateKeyTypes) -> bytes:
    """The bytes uploaded to the MMP: PKCS#8 PEM without encryption (deterministic per key)."""
    return key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )


def _short(error: Exception) -> str:
    text = str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
    return text if len(text) <= 120 else text[:117] + "..."
