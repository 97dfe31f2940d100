"""Private keys read from a node, made fit for git: encrypted PKCS#8, in memory only.

The MMP holds its keys unencrypted; git must never see them so. A key read over SFTP is
loaded, encrypted with the passphrase (PKCS#8, ``BestAvailableEncryption``: PBES2 with
PBKDF2 and AES-256-CBC) and only the encrypted bytes are handed on to be written. The round
trip is checked before anything is written: the encrypted key decrypts with the passphrase to
the same key.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field

from cryptography.exceptions import UnsupportedAlgorithm
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.types import PrivateKeyTypes

from reconciler.desired.pem import unencrypted_pkcs8
from reconciler.errors import KeyProblem


@dataclass(frozen=True)
class EncryptedKey:
    """A node's key, encrypted for git, and how the planner will see it."""

    pem: bytes = field(repr=False)
    """``ENCRYPTED PRIVATE KEY`` PEM, safe to write."""
    upload_sha256: str
    """sha256 of the key as ``reconcile`` uploads it (unencrypted PKCS#8 PEM); the planner
    compares this with the sha256 of the node's file."""
    same_bytes_as_node: bool
    """Whether the node's file is byte for byte what ``reconcile`` would upload; if not, a
    plan will want to upload the (same) key again."""
    node_format: str
    """What the node's file is, e.g. ``PKCS#8 PEM`` or ``PKCS#1 PEM (RSA PRIVATE KEY)``."""


def encrypt_key(node_pem: bytes, passphrase: str) -> EncryptedKey:
    """Encrypt the unencrypted PEM key ``node_pem`` with ``passphrase``, in memory."""
    if not passphrase:
        raise ValueError("an empty passphrase would leave the key readable")
    key = _load(node_pem)
    encrypted = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.BestAvailableEncryption(passphrase.encode()),
    )
    upload = unencrypted_pkcs8(key)
    if unencrypted_pkcs8(decrypt_key(encrypted, passphrase)) != upload:
        raise KeyProblem("did not survive encryption unchanged (this is a bug; nothing written)")
    return EncryptedKey(
        pem=encrypted,
        upload_sha256=hashlib.sha256(upload).hexdigest(),
        same_bytes_as_node=upload == node_pem,
        node_format=_format(node_pem),
    )


def decrypt_key(pem: bytes, passphrase: str) -> PrivateKeyTypes:
    """An encrypted PEM key; ``KeyProblem`` when the passphrase or the file is wrong."""
    try:
        return serialization.load_pem_private_key(pem, password=passphrase.encode())
    except (ValueError, TypeError, UnsupportedAlgorithm) as error:
        raise KeyProblem(
            f"cannot be decrypted with this passphrase ({_first_line(error)})"
        ) from None


def upload_sha256_of_encrypted(pem: bytes, passphrase: str) -> str:
    """sha256 of an encrypted key file's key as it would be uploaded (to compare files)."""
    return hashlib.sha256(unencrypted_pkcs8(decrypt_key(pem, passphrase))).hexdigest()


def _load(node_pem: bytes) -> PrivateKeyTypes:
    if b"ENCRYPTED" in node_pem:
        raise KeyProblem(
            "is encrypted on the node; the MMP expects unencrypted keys, so this file is not "
            "the one the database cluster uses as it is"
        )
    if b"PRIVATE KEY-----" not in node_pem:
        raise KeyProblem("is not a PEM private key")
    try:
        return serialization.load_pem_private_key(node_pem, password=None)
    except (ValueError, TypeError, UnsupportedAlgorithm) as error:
        raise KeyProblem(f"cannot be read as a PEM private key ({_first_line(error)})") from None


def _format(node_pem: bytes) -> str:
    if b"-----BEGIN PRIVATE KEY-----" in node_pem:
        return "PKCS#8 PEM"
    for label, name in (
        (b"RSA PRIVATE KEY", "PKCS#1 PEM (RSA PRIVATE KEY)"),
        (b"EC PRIVATE KEY", "SEC1 PEM (EC PRIVATE KEY)"),
        (b"OPENSSH PRIVATE KEY", "OpenSSH format"),
    ):
        if b"-----BEGIN " + label in node_pem:
            return name
    return "PEM"


def _first_line(error: Exception) -> str:
    text = str(error).strip()
    return text.splitlines()[0] if text else type(error).__name__
