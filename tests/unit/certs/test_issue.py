"""`certs issue`: a bundle from a CA the user holds passes validate; bad input writes nothing."""

from __future__ import annotations

import datetime as dt
import shutil
from pathlib import Path

import git
import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from reconciler.certs.issue import IssueRequest, render_issue, run_issue
from reconciler.certs.material import certificates_pem
from reconciler.errors import ConfigError
from tests.unit.certs.support import ACTOR, Repo, write_ca
from tests.unit.desired.labrepo import CERTS, CLUSTER
from tests.unit.desired.pki import NOW, PASSPHRASE, Pki, cert_pem, make_ca, rsa_key

BUNDLE = ("server.key", "server.cer", "client.key", "client.cer", "ca.cer")


@pytest.fixture
def root_ca(pki: Pki, tmp_path: Path) -> tuple[Path, Path]:
    """The session's root CA as the files `certs issue` is given."""
    return write_ca(tmp_path / "ca", cert_pem(pki.root.cert), pki.root.key)


def issue(repo: Repo, ca: tuple[Path, Path], **extra: object) -> str:
    cert, key = ca
    request = IssueRequest(repo.root, CLUSTER, cert, key, key_size=2048, **extra)  # type: ignore[arg-type]
    return render_issue(run_issue(request, repo.env))


def load(repo: Repo, name: str) -> x509.Certificate:
    return x509.load_pem_x509_certificate((repo.root / CERTS / name).read_bytes())


def test_an_issued_bundle_passes_validate(repo: Repo, pki: Pki, tmp_path: Path) -> None:
    new_ca = make_ca("TEST new CA", rsa_key())
    before = repo.snapshot()
    text = issue(repo, write_ca(tmp_path / "ca", cert_pem(new_ca.cert), new_ca.key), days=90)
    assert repo.validate()[0] == 0, repo.validate()[1]
    after = repo.snapshot()
    assert {path for path in after if after[path] != before.get(path)} == {
        f"{CERTS}/{name}" for name in BUNDLE
    }
    server, client = load(repo, "server.cer"), load(repo, "client.cer")
    assert client.subject.get_attributes_for_oid(NameOID.COMMON_NAME)[0].value == "postgres"
    # The server certificate keeps the CN it had and names every node.
    assert server.subject.get_attributes_for_oid(NameOID.COMMON_NAME)[0].value == "cms-db.test"
    san = server.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert san.get_values_for_type(x509.DNSName) == ["cms-db.test", "cms1", "cms2", "cms3"]
    assert [str(ip) for ip in san.get_values_for_type(x509.IPAddress)] == [
        "10.0.0.1",
        "10.0.0.2",
        "10.0.0.3",
    ]
    for cert in (server, client):
        usages = cert.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value
        assert list(usages) == [ExtendedKeyUsageOID.SERVER_AUTH, ExtendedKeyUsageOID.CLIENT_AUTH]
        key_usage = cert.extensions.get_extension_for_class(x509.KeyUsage).value
        assert key_usage.digital_signature
        assert key_usage.key_encipherment
        assert cert.issuer == new_ca.cert.subject
        left = cert.not_valid_after_utc - NOW
        assert dt.timedelta(days=89) < left <= dt.timedelta(days=91)
    assert (repo.root / CERTS / "ca.cer").read_bytes() == cert_pem(new_ca.cert)
    assert "valid until" in text
    assert f"{CERTS}/server.key" in text


def test_keys_are_encrypted_with_the_cluster_passphrase(
    repo: Repo, root_ca: tuple[Path, Path]
) -> None:
    issue(repo, root_ca)
    for name in ("server.key", "client.key"):
        data = (repo.root / CERTS / name).read_bytes()
        assert data.startswith(b"-----BEGIN ENCRYPTED PRIVATE KEY-----")
        key = serialization.load_pem_private_key(data, password=PASSPHRASE.encode())
        cert = load(repo, name.replace(".key", ".cer"))
        assert key.public_key() == cert.public_key()
        assert (repo.root / CERTS / name).stat().st_mode & 0o077 == 0
    # No clear key anywhere, and no temporary file left behind.
    for path, data in repo.snapshot().items():
        assert b"-----BEGIN PRIVATE KEY-----" not in data, path
        assert not Path(path).name.startswith("."), path


def test_an_ec_ca_with_an_encrypted_key_and_an_intermediate_chain(
    repo: Repo, pki: Pki, tmp_path: Path
) -> None:
    ec_key = ec.generate_private_key(ec.SECP384R1())
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "TEST EC issuing CA")])
    ec_ca = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(pki.root.cert.subject)
        .public_key(ec_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(NOW - dt.timedelta(days=1))
        .not_valid_after(NOW + dt.timedelta(days=3650))
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .sign(pki.root.key, hashes.SHA256())  # type: ignore[arg-type]
    )
    ca_file = certificates_pem([ec_ca, pki.root.cert])
    repo.env["CA_PASS"] = "ca secret"
    issue(
        repo,
        write_ca(tmp_path / "ca", ca_file, ec_key, "ca secret"),
        ca_key_passphrase_env="CA_PASS",
    )
    assert repo.validate()[0] == 0, repo.validate()[1]
    assert load(repo, "server.cer").issuer == subject


def test_certificates_never_outlive_the_ca(repo: Repo, tmp_path: Path) -> None:
    short = make_ca("TEST short CA", rsa_key(), not_after=NOW + dt.timedelta(days=100))
    text = issue(repo, write_ca(tmp_path / "ca", cert_pem(short.cert), short.key), days=365)
    assert load(repo, "server.cer").not_valid_after_utc == short.cert.not_valid_after_utc
    assert "the CA's own expiry" in text


def refused(repo: Repo, ca: tuple[Path, Path], match: str | None = None, **extra: object) -> str:
    """Issue, refused with nothing written; the refusal, for what else it must say."""
    before = repo.snapshot()
    with pytest.raises(ConfigError, match=match) as caught:
        issue(repo, ca, **extra)
    assert repo.snapshot() == before
    return str(caught.value)


def test_a_ca_key_that_is_not_the_ca_certificates_is_refused(
    repo: Repo, pki: Pki, tmp_path: Path
) -> None:
    ca = write_ca(tmp_path / "ca", cert_pem(pki.root.cert), pki.other_root.key)
    refused(repo, ca, r"does not belong to the CA certificate .*their public keys differ")


def test_a_ca_certificate_that_is_not_a_ca_is_refused(repo: Repo, pki: Pki, tmp_path: Path) -> None:
    leaf = pki.leaf(pki.spare_key, "not a CA")
    ca = write_ca(tmp_path / "ca", cert_pem(leaf), pki.spare_key)
    refused(repo, ca, r"not a CA certificate \(basicConstraints CA:FALSE\)")


def test_a_ca_without_basic_constraints_is_refused(repo: Repo, pki: Pki, tmp_path: Path) -> None:
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "TEST bare")])
    bare = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(subject)
        .public_key(pki.spare_key.public_key())
        .serial_number(1)
        .not_valid_before(NOW - dt.timedelta(days=1))
        .not_valid_after(NOW + dt.timedelta(days=10))
        .sign(pki.spare_key, hashes.SHA256())
    )
    refused(repo, write_ca(tmp_path / "ca", cert_pem(bare), pki.spare_key), "no basicConstraints")


def test_an_expired_ca_is_refused(repo: Repo, tmp_path: Path) -> None:
    old = make_ca("TEST old CA", rsa_key(), not_after=NOW - dt.timedelta(days=1))
    refused(repo, write_ca(tmp_path / "ca", cert_pem(old.cert), old.key), "expired on")


def test_a_wrong_ca_key_passphrase_is_refused(repo: Repo, pki: Pki, tmp_path: Path) -> None:
    ca = write_ca(tmp_path / "ca", cert_pem(pki.root.cert), pki.root.key, "right")
    repo.env["CA_PASS"] = "wrong"
    refused(
        repo,
        ca,
        r"cannot be decrypted with the passphrase in \$CA_PASS",
        ca_key_passphrase_env="CA_PASS",
    )
    refused(repo, ca, r"is encrypted: name the environment variable")
    del repo.env["CA_PASS"]
    refused(repo, ca, "CA_PASS .* is not set", ca_key_passphrase_env="CA_PASS")


def test_a_wrong_cluster_passphrase_is_refused(repo: Repo, root_ca: tuple[Path, Path]) -> None:
    """The new keys would be encrypted with a passphrase CI does not hold."""
    repo.env["T_KEY_PASS"] = "not the passphrase"
    refused(
        repo, root_ca, r"certs/t/server.key cannot be decrypted with the passphrase in \$T_KEY_PASS"
    )
    del repo.env["T_KEY_PASS"]
    refused(repo, root_ca, "T_KEY_PASS .* is not set")


def test_a_bundle_that_would_fail_validate_is_not_written(
    repo: Repo, pki: Pki, tmp_path: Path
) -> None:
    """An intermediate CA without its root: the chain cannot end in the CA file."""
    ca = write_ca(tmp_path / "ca", cert_pem(pki.intermediate.cert), pki.intermediate.key)
    refused(repo, ca, r"(?s)would not pass `reconcile validate`.*is not in the CA file")


def test_node_overrides_are_refused(repo: Repo, root_ca: tuple[Path, Path]) -> None:
    cluster_file = repo.root / "clusters" / f"{CLUSTER}.yaml"
    text = cluster_file.read_text().replace(
        "- name: cms2\n", "- name: cms2\n  certs: {server_cert: certs/t/server.cer}\n"
    )
    assert "certs: {server_cert" in text
    cluster_file.write_text(text)
    refused(repo, root_ca, r"nodes\[1\].certs \(cms2\)")


# --- files only the working tree holds (issue 23, item 7) -----------------------------------


@pytest.mark.reliability(
    section="truthful",
    case="certs issue: a second issue never replaces the first's uncommitted keys and "
    "certificates without --force; the refusal names every file",
)
def test_a_second_issue_never_replaces_an_uncommitted_bundle(
    repo: Repo, root_ca: tuple[Path, Path]
) -> None:
    issue(repo, root_ca)  # over the committed bundle: allowed
    first = repo.snapshot()
    message = refused(repo, root_ca)  # the first issue's keys are still there
    assert "`reconcile certs issue` would replace 4 files whose content is in the working " in (
        message
    )
    for name in BUNDLE[:4]:
        assert f"  {CERTS}/{name}  (changed since HEAD)" in message
    assert f"{CERTS}/ca.cer" not in message  # the same CA file as committed: nothing to lose
    assert "commit them (git add " in message
    assert "or move them out of the way" in message
    assert "again with --force" in message
    assert "nothing was written" in message
    issue(repo, root_ca, force=True)  # told to: replaced
    after = repo.snapshot()
    assert all(after[f"{CERTS}/{name}"] != first[f"{CERTS}/{name}"] for name in BUNDLE[:4])


@pytest.mark.reliability(
    section="truthful",
    case="certs issue: an untracked bundle file, or a repository not in git, is refused "
    "without --force",
)
def test_an_untracked_file_or_no_git_at_all_is_refused(
    repo: Repo, root_ca: tuple[Path, Path]
) -> None:
    repository = git.Repo(repo.root)
    repository.git.rm("--cached", f"{CERTS}/client.key")
    repository.index.commit("forget the client key", author=ACTOR, committer=ACTOR)
    repository.close()
    refused(repo, root_ca, rf"replace a file .*\n  {CERTS}/client.key  \(untracked: not in HEAD\)")
    shutil.rmtree(repo.root / ".git")
    assert f"{CERTS}/server.key  (no git commit holds it" in refused(repo, root_ca)
    issue(repo, root_ca, force=True)
    assert repo.validate()[0] == 0


def test_a_committed_change_is_replaced_without_force(
    repo: Repo, root_ca: tuple[Path, Path]
) -> None:
    issue(repo, root_ca)
    repo.commit("first issue")
    issue(repo, root_ca)  # the first bundle is in git: nothing is lost
    assert repo.validate()[0] == 0
