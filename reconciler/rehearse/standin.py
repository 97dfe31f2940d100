"""Stand-in key material for files the live read knows only by identity.

The live read keeps a file's sha256 (or, when SFTP failed, a certificate's serial and
issuer), never a private key and never the bytes. Where such a file is not one of the
desired files (whose bytes the twin has), the twin needs something the simulator can use:
a stand-in that keeps what matters to the device model. A certificate keeps its expiry and
its pairing with the node's key; every node that trusted the same live CA file trusts the
same stand-in CA, so nodes that could talk still can. A stand-in key is an EC key (fast to
make): the device model checks only that a key matches its certificate.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.types import PrivateKeyTypes
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

ONE_DAY = timedelta(days=1)


def _pem_key(key: ec.EllipticCurvePrivateKey) -> bytes:
    return key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )


def _name(common_name: str) -> x509.Name:
    return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)])


class StandIns:
    """Stand-ins of one rehearsal, made once per live identity."""

    def __init__(self, now: datetime) -> None:
        self.now = now
        self._keys: dict[str, ec.EllipticCurvePrivateKey] = {}
        self._cas: dict[str, tuple[ec.EllipticCurvePrivateKey, x509.Certificate]] = {}
        self._leaves: dict[str, bytes] = {}

    def validity(self, not_after: datetime | None, expired: bool) -> tuple[datetime, datetime]:
        """The live expiry when known; else expired or valid, as the status marked it."""
        end = not_after or (self.now - ONE_DAY if expired else self.now + 365 * ONE_DAY)
        return min(end, self.now) - 730 * ONE_DAY, end

    def key(self, identity: str) -> bytes:
        return _pem_key(self._key(identity))

    def _key(self, identity: str) -> ec.EllipticCurvePrivateKey:
        if identity not in self._keys:
            self._keys[identity] = ec.generate_private_key(ec.SECP256R1())
        return self._keys[identity]

    def _ca(
        self, identity: str, not_after: datetime | None, expired: bool
    ) -> tuple[ec.EllipticCurvePrivateKey, x509.Certificate]:
        if identity not in self._cas:
            key = self._key(f"ca {identity}")
            start, end = self.validity(not_after, expired)
            name = _name(f"stand-in CA {len(self._cas) + 1}")
            cert = (
                x509.CertificateBuilder()
                .subject_name(name)
                .issuer_name(name)
                .public_key(key.public_key())
                .serial_number(x509.random_serial_number())
                .not_valid_before(start)
                .not_valid_after(end)
                .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
                .sign(key, hashes.SHA256())
            )
            self._cas[identity] = (key, cert)
        return self._cas[identity]

    def ca(self, identity: str, not_after: datetime | None, expired: bool) -> bytes:
        return self._ca(identity, not_after, expired)[1].public_bytes(serialization.Encoding.PEM)

    def leaf(
        self,
        identity: str,
        *,
        key: PrivateKeyTypes | None,
        ca: str,
        client: bool,
        not_after: datetime | None,
        expired: bool,
    ) -> bytes:
        """A certificate for ``key`` (a stand-in key when None), issued by the stand-in CA
        ``ca`` (an identity), with the live expiry."""
        if identity not in self._leaves:
            issuer_key, issuer = self._ca(ca, None, False)
            subject_key = key if key is not None else self._key(identity)
            start, end = self.validity(not_after, expired)
            usage = ExtendedKeyUsageOID.CLIENT_AUTH if client else ExtendedKeyUsageOID.SERVER_AUTH
            cert = (
                x509.CertificateBuilder()
                .subject_name(_name("postgres" if client else f"stand-in {identity[:16]}"))
                .issuer_name(issuer.subject)
                .public_key(subject_key.public_key())  # type: ignore[arg-type]
                .serial_number(x509.random_serial_number())
                .not_valid_before(start)
                .not_valid_after(end)
                .add_extension(x509.ExtendedKeyUsage([usage]), critical=False)
                .sign(issuer_key, hashes.SHA256())
            )
            self._leaves[identity] = cert.public_bytes(serialization.Encoding.PEM)
        return self._leaves[identity]
