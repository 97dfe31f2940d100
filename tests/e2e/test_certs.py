"""`reconcile certs ...` against the simulated lab: the expiry watch sees the seed's expired
certificates; bundles from `certs issue` and from `certs csr` + `certs install` apply cleanly."""

from __future__ import annotations

import datetime as dt
import json
import shutil
import subprocess
from pathlib import Path

import git
import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import NameOID
from prometheus_client.parser import text_string_to_metric_families

from reconciler.simulator.service import SimulatedCluster
from tests.e2e.conftest import reconcile

pytestmark = pytest.mark.e2e

SEED_EXPIRY = "2017-03-09T08:57:17+00:00"
NODES = ("cms1", "cms2", "cms3")


def commit_all(repo: Path, message: str) -> None:
    """Commit the working tree (a repository is made the first time), as the user does
    before a `certs` command replaces the bundle and after it."""
    repository = git.Repo.init(repo)
    try:
        (repo / ".gitignore").write_text(".reconcile/\n")
        repository.git.add(A=True)
        actor = git.Actor("t", "t@example.com")
        repository.index.commit(message, author=actor, committer=actor)
    finally:
        repository.close()


def test_check_reports_the_expired_live_certificates(
    lab_sim: SimulatedCluster, lab_repo: Path
) -> None:
    result = reconcile("certs", "check", "--cluster", "lab", "--format", "json", repo=lab_repo)
    assert result.returncode == 1, result.stderr
    document = json.loads(result.stdout)
    live = [entry for entry in document["certificates"] if entry["source"] == "live"]
    assert {entry["node"] for entry in live} == set(NODES)
    expired = {(entry["node"], entry["file"]) for entry in live if entry["expired"]}
    assert expired == {
        (node, file) for node in NODES for file in ("dbclusterserver.cer", "EXPRSVR.cer")
    }
    for entry in live:
        if entry["expired"]:
            assert entry["not_after"] == SEED_EXPIRY
            assert entry["days_left"] < -3500
            assert entry["issuer"] == "CN=LAB ONLY old uctplab CA"
        else:
            assert entry["role"] == "ca_cert"
            assert entry["file"] == "CA.cer"
    client = next(entry for entry in live if entry["file"] == "EXPRSVR.cer")
    assert client["subject"] == "CN=VCScMRA.S.com,O=LAB ONLY"
    desired = [entry for entry in document["certificates"] if entry["source"] == "git"]
    assert [(entry["node"], entry["state"]) for entry in desired] == [("desired", "ok")] * 3
    assert all(check["success"] for check in document["checks"])

    text = reconcile("certs", "check", "--cluster", "lab", repo=lab_repo)
    assert text.returncode == 1
    assert text.stdout.splitlines()[-1] == "lab: 6 certificates expired"


def test_prometheus_output_for_node_exporter(
    lab_sim: SimulatedCluster, lab_repo: Path, tmp_path: Path
) -> None:
    out = tmp_path / "textfile" / "cms_reconciler.prom"
    out.parent.mkdir()
    out.write_text("stale\n")
    result = reconcile("certs", "check", "--format", "prometheus", "--out", str(out), repo=lab_repo)
    assert result.returncode == 1, result.stderr
    assert result.stdout == ""
    text = out.read_text()
    families = {family.name: family for family in text_string_to_metric_families(text)}
    expired = families["cms_reconciler_certificate_expired"].samples
    assert sum(sample.value for sample in expired) == 6
    assert {sample.labels["source"] for sample in expired} == {"git", "live"}
    success = families["cms_reconciler_check_success"].samples
    assert {sample.labels["node"]: sample.value for sample in success} == {
        "desired": 1,
        "cms1": 1,
        "cms2": 1,
        "cms3": 1,
    }
    promtool = shutil.which("promtool")
    assert promtool, "promtool is required (Debian package prometheus; `make system-tools`)"
    checked = subprocess.run(
        [promtool, "check", "metrics"], input=text, capture_output=True, text=True, check=False
    )
    assert checked.returncode == 0, checked.stdout + checked.stderr


def test_an_unreachable_node_and_a_node_without_sftp(
    lab_sim: SimulatedCluster, lab_repo: Path
) -> None:
    lab_sim.set_down("cms3")
    lab_sim.refuse_sftp("cms2", "get", "*.cer")  # read with `pki inspect` instead
    result = reconcile("certs", "check", "--cluster", "lab", "--format", "json", repo=lab_repo)
    # The seed's certificates are expired: renewal (1) wins over a node not checked (3).
    assert result.returncode == 1, result.stderr
    document = json.loads(result.stdout)
    checks = {check["node"]: check for check in document["checks"]}
    assert checks["cms3"]["success"] is False
    assert checks["cms2"]["success"] is True
    cms2 = {entry["file"]: entry for entry in document["certificates"] if entry["node"] == "cms2"}
    assert cms2["EXPRSVR.cer"]["not_after"] == SEED_EXPIRY
    assert cms2["EXPRSVR.cer"]["expired"] is True
    assert cms2["EXPRSVR.cer"]["subject"] == "O=LAB ONLY, CN=VCScMRA.S.com"  # as the MMP prints
    assert not [entry for entry in document["certificates"] if entry["node"] == "cms3"]
    offline = reconcile("certs", "check", "--offline", repo=lab_repo)
    assert offline.returncode == 0, offline.stdout + offline.stderr


# --- new bundles, applied ------------------------------------------------------------------


def make_ca(folder: Path) -> tuple[Path, Path, x509.Certificate, rsa.RSAPrivateKey]:
    """A CA made for this test (the lab's own CA key was never kept)."""
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "TEST e2e rotation CA")])
    now = dt.datetime.now(dt.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(days=1))
        .not_valid_after(now + dt.timedelta(days=3650))
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    folder.mkdir(parents=True)
    cert_path, key_path = folder / "ca.pem", folder / "ca.key"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.BestAvailableEncryption(b"ca passphrase"),
        )
    )
    return cert_path, key_path, cert, key


def assert_rotation_converges(lab_sim: SimulatedCluster, lab_repo: Path, ca_name: str) -> None:
    commit_all(lab_repo, "the new bundle")
    validate = reconcile("validate", "--cluster", "lab", repo=lab_repo)
    assert validate.returncode == 0, validate.stdout + validate.stderr
    applied = reconcile("--apply", "--cluster", "lab", "--auto-approve", repo=lab_repo)
    assert applied.returncode == 0, applied.stdout + applied.stderr
    replan = reconcile("--plan", "--cluster", "lab", "--format", "json", repo=lab_repo)
    assert replan.returncode == 0, replan.stdout + replan.stderr
    snapshot = lab_sim.snapshot()
    roles = {node["name"]: node["role"] for node in snapshot["nodes"]}
    assert roles == {"cms1": "master", "cms2": "replica", "cms3": "replica"}
    for node in snapshot["nodes"]:
        assert node["status"] == "Enabled"
        assert node["certs"]["ca_cert"]["file"] == "CAVD.cer"
    check = reconcile("certs", "check", "--cluster", "lab", "--format", "json", repo=lab_repo)
    assert check.returncode == 0, check.stdout + check.stderr
    live = [
        entry for entry in json.loads(check.stdout)["certificates"] if entry["node"] != "desired"
    ]
    assert len(live) == 9
    assert {entry["issuer"] for entry in live} == {ca_name}


def test_an_issued_bundle_applies_and_converges(
    lab_sim: SimulatedCluster, lab_repo: Path, tmp_path: Path
) -> None:
    cert_path, key_path, _, _ = make_ca(tmp_path / "ca")
    commit_all(lab_repo, "lab")
    issue = (
        "certs",
        "issue",
        "--cluster",
        "lab",
        "--ca-cert",
        str(cert_path),
        "--ca-key",
        str(key_path),
        "--ca-key-passphrase-env",
        "TEST_CA_PASSPHRASE",
        "--days",
        "200",
        "--key-size",
        "2048",
    )
    ca_env = {"TEST_CA_PASSPHRASE": "ca passphrase"}
    result = reconcile(*issue, repo=lab_repo, env=ca_env)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "Issued a new bundle for cluster lab" in result.stdout
    # Again before committing: the new keys exist in the working tree only, so it refuses.
    bundle = {path: path.read_bytes() for path in (lab_repo / "certs" / "lab").iterdir()}
    again = reconcile(*issue, repo=lab_repo, env=ca_env)
    assert again.returncode == 1, again.stdout + again.stderr
    assert "certs/lab/dbclusterserver.key  (changed since HEAD)" in again.stderr
    assert "--force" in again.stderr
    assert "Traceback" not in again.stderr
    assert {path: path.read_bytes() for path in (lab_repo / "certs" / "lab").iterdir()} == bundle
    # The pull-request comment: when the certificates in use ended, and the new ones end.
    comment = reconcile("--plan", "--cluster", "lab", "--format", "markdown", repo=lab_repo)
    assert comment.returncode == 2, comment.stderr
    assert "| EXPRSVR.cer (expired 2017-03-09) |" in comment.stdout
    assert "| dbclusterserver.cer (expired 2017-03-09) |" in comment.stdout
    assert "issuer `CN=TEST e2e rotation CA`" in comment.stdout
    assert_rotation_converges(lab_sim, lab_repo, "CN=TEST e2e rotation CA")


def test_csrs_signed_and_installed_apply_and_converge(
    lab_sim: SimulatedCluster, lab_repo: Path, tmp_path: Path
) -> None:
    _, _, ca_cert, ca_key = make_ca(tmp_path / "ca")
    commit_all(lab_repo, "lab")
    made = reconcile("certs", "csr", "--cluster", "lab", "--key-size", "2048", repo=lab_repo)
    assert made.returncode == 0, made.stdout + made.stderr
    signed = tmp_path / "signed"
    signed.mkdir()
    now = dt.datetime.now(dt.UTC)
    for side in ("server", "client"):
        request = x509.load_pem_x509_csr((lab_repo / "certs/lab/csr" / f"{side}.csr").read_bytes())
        builder = (
            x509.CertificateBuilder()
            .subject_name(request.subject)
            .issuer_name(ca_cert.subject)
            .public_key(request.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - dt.timedelta(hours=1))
            .not_valid_after(now + dt.timedelta(days=365))
        )
        for extension in request.extensions:
            builder = builder.add_extension(extension.value, critical=extension.critical)
        cert = builder.sign(ca_key, hashes.SHA256())
        (signed / f"{side}.cer").write_bytes(cert.public_bytes(serialization.Encoding.DER))
    (signed / "ca.cer").write_bytes(ca_cert.public_bytes(serialization.Encoding.PEM))
    installed = reconcile(
        "certs",
        "install",
        "--cluster",
        "lab",
        "--server-cert",
        str(signed / "server.cer"),
        "--client-cert",
        str(signed / "client.cer"),
        "--ca-cert",
        str(signed / "ca.cer"),
        repo=lab_repo,
    )
    assert installed.returncode == 0, installed.stdout + installed.stderr
    assert not (lab_repo / "certs/lab/csr").exists()
    assert_rotation_converges(lab_sim, lab_repo, "CN=TEST e2e rotation CA")
