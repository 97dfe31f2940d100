"""Keys from a node into git: encrypted in memory, the round trip proven, nothing in clear."""

from __future__ import annotations

import hashlib

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec

from reconciler.desired.pem import check_key_pem, decrypt_key, unencrypted_pkcs8
from reconciler.errors import KeyProblem
from reconciler.onboard.keys import encrypt_key, upload_sha256_of_encrypted
from tests.support.pki import _key

PASSPHRASE = "a passphrase"


def _node_key(form: serialization.PrivateFormat) -> bytes:
    return _key(1).private_bytes(serialization.Encoding.PEM, form, serialization.NoEncryption())


def test_round_trip_of_a_pkcs8_key_as_the_mmp_holds_it() -> None:
    node = _node_key(serialization.PrivateFormat.PKCS8)
    encrypted = encrypt_key(node, PASSPHRASE)
    assert encrypted.pem.startswith(b"-----BEGIN ENCRYPTED PRIVATE KEY-----")
    assert b"BEGIN PRIVATE KEY" not in encrypted.pem
    # What `validate` and `plan` will do with it: accepted, decrypted to the node's bytes.
    block = check_key_pem(encrypted.pem, "certs/x/server.key")
    assert unencrypted_pkcs8(decrypt_key(block, PASSPHRASE, "ENV")) == node
    assert encrypted.same_bytes_as_node
    assert encrypted.upload_sha256 == hashlib.sha256(node).hexdigest()
    assert encrypted.node_format == "PKCS#8 PEM"
    assert upload_sha256_of_encrypted(encrypted.pem, PASSPHRASE) == encrypted.upload_sha256


def test_without_or_with_a_wrong_passphrase_it_does_not_load() -> None:
    encrypted = encrypt_key(_node_key(serialization.PrivateFormat.PKCS8), PASSPHRASE).pem
    with pytest.raises(TypeError):
        serialization.load_pem_private_key(encrypted, password=None)
    with pytest.raises(ValueError, match=r"Bad decrypt|Incorrect password"):
        serialization.load_pem_private_key(encrypted, password=b"wrong")
    with pytest.raises(KeyProblem, match="cannot be decrypted"):
        upload_sha256_of_encrypted(encrypted, "wrong")


def test_each_encryption_is_salted() -> None:
    node = _node_key(serialization.PrivateFormat.PKCS8)
    assert encrypt_key(node, PASSPHRASE).pem != encrypt_key(node, PASSPHRASE).pem


def test_a_pkcs1_key_is_the_same_key_but_not_the_same_bytes() -> None:
    node = _node_key(serialization.PrivateFormat.TraditionalOpenSSL)
    encrypted = encrypt_key(node, PASSPHRASE)
    assert not encrypted.same_bytes_as_node
    assert encrypted.node_format == "PKCS#1 PEM (RSA PRIVATE KEY)"
    pkcs8 = _node_key(serialization.PrivateFormat.PKCS8)
    assert encrypted.upload_sha256 == hashlib.sha256(pkcs8).hexdigest()


def test_an_ec_key_in_sec1_form() -> None:
    key = ec.generate_private_key(ec.SECP256R1())
    node = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.TraditionalOpenSSL,
        serialization.NoEncryption(),
    )
    assert encrypt_key(node, PASSPHRASE).node_format == "SEC1 PEM (EC PRIVATE KEY)"


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (b"", "is not a PEM private key"),
        (b"-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n", "not a PEM private"),
        (b"-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n", "cannot be read"),
    ],
)
def test_what_is_not_an_unencrypted_key_is_a_problem(data: bytes, message: str) -> None:
    with pytest.raises(KeyProblem, match=message):
        encrypt_key(data, PASSPHRASE)


def test_a_key_already_encrypted_on_the_node_is_a_problem() -> None:
    encrypted = _key(1).private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.BestAvailableEncryption(b"other"),
    )
    with pytest.raises(KeyProblem, match="is encrypted on the node"):
        encrypt_key(encrypted, PASSPHRASE)


def test_an_empty_passphrase_is_refused() -> None:
    with pytest.raises(ValueError, match="empty passphrase"):
        encrypt_key(_node_key(serialization.PrivateFormat.PKCS8), "")
