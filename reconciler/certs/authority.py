"""A certificate authority the user holds (``certs issue``, ``certs sign``): checked, then used.

Everything that would make the new bundle useless is refused before a key is made: a CA
certificate that is not a CA, one outside its validity, a key that is not the CA's, a key
that cannot be decrypted, a key type the reference's deployments do not use.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path

from cryptography import x509
from cryptography.exceptions import UnsupportedAlgorithm
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa

from reconciler.certs.material import Holder, read_certificates, same_key
from reconciler.desired.certcheck import describe_name
from reconciler.errors import ConfigError

CAKey = rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey
BACKDATE = timedelta(hours=1)
"""New certificates are valid from an hour before they are made: nodes' clocks differ."""
DEFAULT_DAYS = 365


@dataclass(frozen=True)
class Validity:
    not_before: datetime
    not_after: datetime
    capped: bool
    """The CA expires before ``--days`` would end: the certificates end with it."""


def check_days(days: int) -> None:
    if days < 1:
        raise ConfigError(f"--days must be at least 1, not {days}")


@dataclass(frozen=True)
class Authority:
    """The issuing CA: its certificate first, then the rest of the file (its chain)."""

    certificates: tuple[x509.Certificate, ...]
    key: CAKey = field(repr=False)

    @property
    def cert(self) -> x509.Certificate:
        return self.certificates[0]

    def validity(self, now: datetime, days: int) -> Validity:
        """From an hour before ``now`` for ``days``, never past the CA's own end."""
        wanted_end = now + timedelta(days=days)
        not_after = min(wanted_end, self.cert.not_valid_after_utc)
        return Validity(now - BACKDATE, not_after, not_after < wanted_end)

    def sign(
        self, public_key: rsa.RSAPublicKey, holder: Holder, validity: Validity
    ) -> x509.Certificate:
        """A leaf for ``holder``: CA:FALSE, key identifiers, and the holder's extensions."""
        builder = (
            x509.CertificateBuilder()
            .subject_name(holder.subject)
            .issuer_name(self.cert.subject)
            .public_key(public_key)
            .serial_number(x509.random_serial_number())
            .not_valid_before(validity.not_before)
            .not_valid_after(validity.not_after)
            .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
            .add_extension(x509.SubjectKeyIdentifier.from_public_key(public_key), critical=False)
            .add_extension(self._authority_key_identifier(), critical=False)
        )
        for extension, critical in holder.extensions():
            builder = builder.add_extension(extension, critical=critical)
        return builder.sign(self.key, hashes.SHA256())

    def _authority_key_identifier(self) -> x509.AuthorityKeyIdentifier:
        try:
            ski = self.cert.extensions.get_extension_for_class(x509.SubjectKeyIdentifier).value
        except x509.ExtensionNotFound:
            return x509.AuthorityKeyIdentifier.from_issuer_public_key(self.key.public_key())
        return x509.AuthorityKeyIdentifier.from_issuer_subject_key_identifier(ski)


def load_authority(
    cert_path: Path,
    key_path: Path,
    passphrase_env: str | None,
    env: Mapping[str, str],
    now: datetime,
) -> Authority:
    """The CA of ``cert_path`` (its first certificate) with the key of ``key_path``."""
    certificates = read_certificates(_read(cert_path, "CA certificate"), str(cert_path), "CA file")
    cert = certificates[0]
    _check_is_ca(cert, cert_path)
    _check_validity(cert, cert_path, now)
    key = _load_key(key_path, passphrase_env, env)
    if not same_key(key, cert):
        raise ConfigError(
            f"the CA key {key_path} does not belong to the CA certificate {cert_path} "
            f"({describe_name(cert.subject)}): their public keys differ; give the key of that CA"
        )
    return Authority(tuple(certificates), key)


def _read(path: Path, what: str) -> bytes:
    try:
        return path.read_bytes()
    except OSError as error:
        raise ConfigError(f"cannot read the {what} {path}: {error.strerror or error}") from None


def _check_is_ca(cert: x509.Certificate, path: Path) -> None:
    name = describe_name(cert.subject)
    try:
        constraints = cert.extensions.get_extension_for_class(x509.BasicConstraints).value
    except x509.ExtensionNotFound:
        constraints = None
    if constraints is None or not constraints.ca:
        why = "no basicConstraints" if constraints is None else "basicConstraints CA:FALSE"
        raise ConfigError(
            f"{path} holds {name}, which is not a CA certificate ({why}); give the certificate "
            "of the CA that is to sign the bundle"
        )
    try:
        usage = cert.extensions.get_extension_for_class(x509.KeyUsage).value
    except x509.ExtensionNotFound:
        return
    if not usage.key_cert_sign:
        raise ConfigError(
            f"{path} holds {name}, whose keyUsage does not allow signing certificates "
            "(no keyCertSign)"
        )


def _check_validity(cert: x509.Certificate, path: Path, now: datetime) -> None:
    name = describe_name(cert.subject)
    if now > cert.not_valid_after_utc:
        raise ConfigError(
            f"the CA {name} in {path} expired on {cert.not_valid_after_utc:%Y-%m-%d}; "
            "certificates it signs would not be trusted"
        )
    if now < cert.not_valid_before_utc:
        raise ConfigError(
            f"the CA {name} in {path} is not valid before {cert.not_valid_before_utc:%Y-%m-%d}"
        )


def _load_key(path: Path, passphrase_env: str | None, env: Mapping[str, str]) -> CAKey:
    data = _read(path, "CA key")
    password: bytes | None = None
    if passphrase_env is not None:
        value = env.get(passphrase_env)
        if not value:
            state = "is empty" if value == "" else "is not set"
            raise ConfigError(
                f"environment variable {passphrase_env} (--ca-key-passphrase-env) {state}"
            )
        password = value.encode()
    encrypted = b"ENCRYPTED" in data
    if encrypted and password is None:
        raise ConfigError(
            f"the CA key {path} is encrypted: name the environment variable holding its "
            "passphrase with --ca-key-passphrase-env VAR"
        )
    try:
        key = serialization.load_pem_private_key(data, password=password if encrypted else None)
    except ValueError:
        if encrypted:
            raise ConfigError(
                f"the CA key {path} cannot be decrypted with the passphrase in "
                f"${passphrase_env} (wrong passphrase, or a damaged file)"
            ) from None
        raise ConfigError(f"{path} is not a PEM private key") from None
    except (TypeError, UnsupportedAlgorithm) as error:
        raise ConfigError(f"the CA key {path} cannot be read: {error}") from None
    if not isinstance(key, rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey):
        raise ConfigError(
            f"the CA key {path} is a {type(key).__name__}; certs issue signs with RSA or EC CA keys"
        )
    return key
