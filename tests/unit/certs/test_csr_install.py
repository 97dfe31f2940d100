"""`certs csr` then `certs install`: CSRs a CA signs come back as a bundle that passes validate."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from reconciler.certs.csr import CsrRequest, render_csr, run_csr
from reconciler.certs.install import InstallRequest, render_install, run_install
from reconciler.errors import ConfigError
from tests.unit.certs.support import Repo
from tests.unit.desired.labrepo import CERTS, CLUSTER
from tests.unit.desired.pki import NOW, PASSPHRASE, Issuer, Pki, cert_der, cert_pem

PENDING = ("server.key", "server.csr", "client.key", "client.csr")


def csr(repo: Repo, **extra: object) -> str:
    request = CsrRequest(repo.root, CLUSTER, key_size=2048, **extra)  # type: ignore[arg-type]
    return render_csr(run_csr(request, repo.env), repo.root)


def pending(repo: Repo) -> Path:
    return repo.root / CERTS / "csr"


def sign(request_pem: bytes, ca: Issuer) -> x509.Certificate:
    """What a CA does with a CSR: its subject and requested extensions, the CA's signature."""
    request = x509.load_pem_x509_csr(request_pem)
    assert request.is_signature_valid
    builder = (
        x509.CertificateBuilder()
        .subject_name(request.subject)
        .issuer_name(ca.cert.subject)
        .public_key(request.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(NOW - dt.timedelta(days=1))
        .not_valid_after(NOW + dt.timedelta(days=365))
    )
    for extension in request.extensions:
        builder = builder.add_extension(extension.value, critical=extension.critical)
    return builder.sign(ca.key, hashes.SHA256())  # type: ignore[arg-type]


def signed_files(repo: Repo, ca: Issuer, folder: Path) -> dict[str, Path]:
    folder.mkdir(parents=True, exist_ok=True)
    files = {}
    for side in ("server", "client"):
        cert = sign((pending(repo) / f"{side}.csr").read_bytes(), ca)
        files[side] = folder / f"{side}.cer"
        files[side].write_bytes(cert_pem(cert))
    files["ca"] = folder / "ca.cer"
    files["ca"].write_bytes(cert_pem(ca.cert))
    return files


def install(repo: Repo, server: Path, client: Path, ca: Path, *, force: bool = False) -> str:
    request = InstallRequest(repo.root, CLUSTER, server, client, ca, force=force)
    return render_install(run_install(request, repo.env))


def test_csr_writes_encrypted_keys_and_requests_as_the_reference_wants(repo: Repo) -> None:
    text = csr(repo)
    folder = pending(repo)
    assert sorted(path.name for path in folder.iterdir()) == sorted(PENDING)
    for side, common_name in (("server", "cms-db.test"), ("client", "postgres")):
        key_pem = (folder / f"{side}.key").read_bytes()
        assert key_pem.startswith(b"-----BEGIN ENCRYPTED PRIVATE KEY-----")
        key = serialization.load_pem_private_key(key_pem, password=PASSPHRASE.encode())
        request = x509.load_pem_x509_csr((folder / f"{side}.csr").read_bytes())
        assert request.is_signature_valid
        assert request.public_key() == key.public_key()
        assert request.subject.get_attributes_for_oid(NameOID.COMMON_NAME)[0].value == common_name
        usages = request.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value
        assert list(usages) == [ExtendedKeyUsageOID.SERVER_AUTH, ExtendedKeyUsageOID.CLIENT_AUTH]
    server = x509.load_pem_x509_csr((folder / "server.csr").read_bytes())
    san = server.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert san.get_values_for_type(x509.DNSName) == ["cms-db.test", "cms1", "cms2", "cms3"]
    assert "Web Server template" in text
    assert f"reconcile certs install --cluster {CLUSTER} " in text
    assert "--csr-dir" not in text


def test_csr_then_install_passes_validate(repo: Repo, pki: Pki, tmp_path: Path) -> None:
    csr(repo)
    keys = {side: (pending(repo) / f"{side}.key").read_bytes() for side in ("server", "client")}
    files = signed_files(repo, pki.other_root, tmp_path / "signed")
    text = install(repo, files["server"], files["client"], files["ca"])
    assert repo.validate()[0] == 0, repo.validate()[1]
    assert (repo.root / CERTS / "server.key").read_bytes() == keys["server"]
    assert (repo.root / CERTS / "client.key").read_bytes() == keys["client"]
    assert (repo.root / CERTS / "ca.cer").read_bytes() == cert_pem(pki.other_root.cert)
    assert not pending(repo).exists()  # the keys are in the bundle now
    assert "Installed the signed certificates" in text


def test_der_certificates_from_the_ca_are_taken(repo: Repo, pki: Pki, tmp_path: Path) -> None:
    csr(repo)
    files = signed_files(repo, pki.root, tmp_path / "signed")
    for side in ("server", "client", "ca"):
        cert = x509.load_pem_x509_certificate(files[side].read_bytes())
        files[side].write_bytes(cert_der(cert))
    install(repo, files["server"], files["client"], files["ca"])
    assert repo.validate()[0] == 0
    assert (repo.root / CERTS / "server.cer").read_bytes().startswith(b"-----BEGIN CERTIFICATE")


def test_csr_keeps_keys_that_wait_for_their_certificates(repo: Repo) -> None:
    csr(repo)
    before = repo.snapshot()
    with pytest.raises(ConfigError, match=r"already holds .* from an earlier `certs csr`"):
        csr(repo)
    assert repo.snapshot() == before


def test_csr_to_another_folder_and_a_new_cn(repo: Repo, tmp_path: Path) -> None:
    text = csr(repo, out=tmp_path / "elsewhere", server_cn="db.example.org")
    request = x509.load_pem_x509_csr((tmp_path / "elsewhere" / "server.csr").read_bytes())
    assert request.subject.rfc4514_string() == "CN=db.example.org"
    assert f"--csr-dir {tmp_path / 'elsewhere'}" in text


def test_csr_needs_a_cn_when_the_current_certificate_is_unreadable(repo: Repo) -> None:
    (repo.root / CERTS / "server.cer").write_text("damaged")
    with pytest.raises(ConfigError, match="give the new one with --server-cn"):
        csr(repo)
    assert not pending(repo).exists()


def refused(repo: Repo, files: dict[str, Path], match: str | None = None) -> str:
    """Install, refused with nothing written; the refusal, for what else it must say."""
    before = repo.snapshot()
    with pytest.raises(ConfigError, match=match) as caught:
        install(repo, files["server"], files["client"], files["ca"])
    assert repo.snapshot() == before  # pending keys and CSRs included
    return str(caught.value)


def test_a_certificate_for_another_key_is_refused(repo: Repo, pki: Pki, tmp_path: Path) -> None:
    csr(repo)
    files = signed_files(repo, pki.root, tmp_path / "signed")
    files["server"].write_bytes(cert_pem(pki.leaf(pki.spare_key, "cms-db.test")))
    refused(repo, files, r"was issued for another key, not the one in .*server.key")


def test_swapped_certificates_are_named(repo: Repo, pki: Pki, tmp_path: Path) -> None:
    csr(repo)
    files = signed_files(repo, pki.root, tmp_path / "signed")
    files["server"], files["client"] = files["client"], files["server"]
    refused(repo, files, "are --server-cert and --client-cert swapped")


def test_a_wrong_passphrase_is_refused(repo: Repo, pki: Pki, tmp_path: Path) -> None:
    csr(repo)
    files = signed_files(repo, pki.root, tmp_path / "signed")
    repo.env["T_KEY_PASS"] = "another passphrase"
    refused(repo, files, r"cannot be decrypted with the passphrase in \$T_KEY_PASS")


def test_certificates_that_do_not_chain_to_the_ca_are_refused(
    repo: Repo, pki: Pki, tmp_path: Path
) -> None:
    csr(repo)
    files = signed_files(repo, pki.root, tmp_path / "signed")
    files["ca"].write_bytes(cert_pem(pki.other_root.cert))
    refused(repo, files, r"(?s)would not pass `reconcile validate`.*which is not in the CA file")


def test_a_ca_file_that_is_not_a_ca_is_refused(repo: Repo, pki: Pki, tmp_path: Path) -> None:
    csr(repo)
    files = signed_files(repo, pki.root, tmp_path / "signed")
    files["ca"].write_bytes(cert_pem(pki.leaf(pki.spare_key, "not a CA")))
    refused(repo, files, r"(?s)would not pass `reconcile validate`.*which is not a CA certificate")


def test_install_without_csr_says_what_to_run(repo: Repo, pki: Pki, tmp_path: Path) -> None:
    cert = tmp_path / "x.cer"
    cert.write_bytes(cert_pem(pki.root.cert))
    refused(repo, {"server": cert, "client": cert, "ca": cert}, "run that first")


def test_a_csr_file_given_as_certificate_is_refused(repo: Repo, pki: Pki, tmp_path: Path) -> None:
    csr(repo)
    files = signed_files(repo, pki.root, tmp_path / "signed")
    files["server"] = pending(repo) / "server.csr"
    refused(repo, files, "server cert .*server.csr holds a CERTIFICATE REQUEST, not a certificate")


@pytest.mark.reliability(
    section="truthful",
    case="certs install: a bundle file changed since HEAD is never replaced without --force; "
    "the keys of `certs csr` stay",
)
def test_install_never_replaces_an_uncommitted_bundle_file(
    repo: Repo, pki: Pki, tmp_path: Path
) -> None:
    csr(repo)
    files = signed_files(repo, pki.other_root, tmp_path / "signed")
    edited = repo.root / CERTS / "server.cer"
    edited.write_bytes(edited.read_bytes() + b"\n")  # a change not committed
    message = refused(repo, files)  # the bundle kept, and the pending keys and CSRs
    assert "`reconcile certs install` would replace a file whose content is in the working " in (
        message
    )
    assert f"  {CERTS}/server.cer  (changed since HEAD)" in message
    assert f"commit it (git add {CERTS}/server.cer && git commit)" in message
    assert "--force" in message
    install(repo, files["server"], files["client"], files["ca"], force=True)
    assert repo.validate()[0] == 0
    assert not pending(repo).exists()
