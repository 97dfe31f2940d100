"""A certificate's expiry is read from its bytes (SFTP) or, failing that, from `pki inspect`."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

from cryptography.hazmat.primitives import serialization

from reconciler.errors import TransportError
from reconciler.live.models import LiveFile, certificate_not_after
from reconciler.live.reader import NodeTarget, read_node
from tests.support.fake_session import FakeSession
from tests.support.pki import CertAuthority, pem

TRANSCRIPTS = Path(__file__).resolve().parents[2] / "transcripts" / "reference"


def test_the_first_certificate_of_a_pem_file_gives_the_expiry() -> None:
    authority = CertAuthority.make()
    leaf = authority.issue("postgres", authority.key, days=90)
    chain = pem(leaf) + pem(authority.cert)
    live = LiveFile.from_bytes("dbclusterclient.cer", chain)
    assert live.not_after == leaf.not_valid_after_utc
    assert live.sha256 is not None
    assert live.size == len(chain)


def test_der_certificates_keys_and_other_files() -> None:
    authority = CertAuthority.make()
    der = authority.cert.public_bytes(serialization.Encoding.DER)
    assert certificate_not_after(der) == authority.cert.not_valid_after_utc
    assert certificate_not_after(pem(authority.key)) is None
    assert certificate_not_after(b"-----BEGIN CERTIFICATE-----\nbroken\n") is None
    assert certificate_not_after(b"") is None


class _NoSftp(FakeSession):
    """SFTP refuses every read, as on a node that forbids it: `pki inspect` must answer."""

    def read_file(self, name: str) -> bytes | None:
        raise TransportError(self.node, f"SFTP refused {name}")


def test_pki_inspect_gives_the_expiry_when_sftp_cannot_read() -> None:
    status = (TRANSCRIPTS / "status_1_3_1_disabled_expired.txt").read_text()
    session = _NoSftp("cms2", [status])
    inspect = (TRANSCRIPTS / "pki_inspect_2_1.txt").read_text()
    not_found = (
        "Checking ssh public keys...not found\n"
        "Checking user configured certificates and keys...not found\n"
        "File contains nothing\n"
    )
    session.replies = {f"pki inspect {name}": not_found for name in ("dbclusterserver.cer",)}
    session.replies["pki inspect EXPRSVR.cer"] = inspect
    for name in ("dbclusterserver.key", "dbclusterclient.key", "CA.cer"):
        session.replies[f"pki inspect {name}"] = (
            "Checking user configured certificates and keys...found\nFile contains a private key\n"
        )
    node = read_node(NodeTarget("lab", "cms2", "10.0.0.2", session))
    assert node.error is None, node.error
    client = node.files["EXPRSVR.cer"]
    assert client.source == "pki"
    assert client.not_after == datetime(2017, 3, 9, 8, 57, 17, tzinfo=UTC)
    assert node.files["dbclusterserver.cer"].present is False
    assert node.files["CA.cer"].not_after is None
