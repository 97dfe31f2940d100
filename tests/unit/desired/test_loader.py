"""The loaded ``DesiredCluster``: what planner, status and apply will use."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from reconciler.desired.loader import load_cluster, load_desired, load_spec
from reconciler.desired.source import open_source
from reconciler.errors import ConfigError
from reconciler.mmp.models import CertRole
from tests.unit.desired.labrepo import CERTS, CLUSTER, LabRepo
from tests.unit.desired.pki import NOW, PASSPHRASE, Pki, cert_pem, encrypted_key


def _load(repo: LabRepo, root: Path):  # type: ignore[no-untyped-def]
    repo.write(root)
    state = load_desired(root, [CLUSTER], env=repo.env, now=NOW)
    return state.clusters[0]


def test_valid_cluster_is_built(repo: LabRepo, tmp_path: Path) -> None:
    result = _load(repo, tmp_path)
    cluster = result.require()
    assert result.ok
    assert [node.name for node in cluster.nodes] == ["cms1", "cms2", "cms3"]
    assert cluster.master.address == "10.0.0.1"
    assert [node.is_master for node in cluster.nodes] == [True, False, False]
    assert cluster.node("10.0.0.2").ssh_host == "10.0.0.2"
    assert cluster.node("10.0.0.2").ssh_port == 2222
    assert cluster.spec.timeouts.join.total_seconds() == 600
    assert cluster.nodes[0].bundle.remote_names() == [
        "server.key",
        "server.cer",
        "client.key",
        "client.cer",
        "ca.cer",
    ]
    assert "clusters/known_hosts" in cluster.referenced_files
    assert f"{CERTS}/ca.cer" in cluster.referenced_files


def test_key_is_uploaded_decrypted_as_pkcs8(repo: LabRepo, pki: Pki, tmp_path: Path) -> None:
    bundle = _load(repo, tmp_path).require().nodes[0].bundle
    key_file = bundle.file(CertRole.SERVER_KEY)
    assert key_file.upload_bytes.startswith(b"-----BEGIN PRIVATE KEY-----\n")
    loaded = serialization.load_pem_private_key(key_file.upload_bytes, password=None)
    assert loaded.private_numbers() == pki.server_key.private_numbers()  # type: ignore[union-attr]
    assert key_file.sha256 == hashlib.sha256(key_file.upload_bytes).hexdigest()
    assert key_file.key is not None
    assert key_file.key.algorithm == "RSA"
    assert key_file.key.bits == 2048
    cert_file = bundle.file(CertRole.SERVER_CERT)
    assert (
        key_file.key.public_key_sha256
        == hashlib.sha256(
            pki.server_key.public_key().public_bytes(
                serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
            )
        ).hexdigest()
    )
    assert cert_file.upload_bytes == repo.files[f"{CERTS}/server.cer"]
    assert cert_file.sha256 == hashlib.sha256(repo.files[f"{CERTS}/server.cer"]).hexdigest()


def test_key_upload_is_deterministic_across_reencryption(
    repo: LabRepo, pki: Pki, tmp_path: Path
) -> None:
    first = _load(repo, tmp_path / "a").require().nodes[0].bundle.server_key
    repo.files[f"{CERTS}/server.key"] = encrypted_key(pki.server_key, "another-passphrase")
    repo.env["T_KEY_PASS"] = "another-passphrase"
    repo.files[f"{CERTS}/client.key"] = encrypted_key(pki.client_key, "another-passphrase")
    second = _load(repo, tmp_path / "b").require().nodes[0].bundle.server_key
    assert repo.files[f"{CERTS}/server.key"] != encrypted_key(pki.server_key, PASSPHRASE)
    assert first.sha256 == second.sha256
    assert first.upload_bytes == second.upload_bytes


def test_certificate_info(repo: LabRepo, tmp_path: Path) -> None:
    bundle = _load(repo, tmp_path).require().nodes[0].bundle
    info = bundle.client_cert.certificate
    assert info is not None
    assert info.subject_cn == "postgres"
    assert info.issuer == "CN=TEST root CA,O=TEST ONLY"
    assert info.not_before < NOW < info.not_after
    assert int(info.serial, 16) > 0
    assert bundle.server_key.certificates == ()


def test_decrypted_key_never_appears_in_repr_or_dumps(repo: LabRepo, tmp_path: Path) -> None:
    result = _load(repo, tmp_path)
    cluster = result.require()
    secret = cluster.nodes[0].bundle.server_key.upload_bytes
    marker = secret.splitlines()[1].decode()  # a line of base64 key material
    renderings = [
        repr(cluster),
        str(cluster),
        repr(result),
        cluster.model_dump_json(),
        json.dumps(cluster.model_dump(mode="json")),
        str(cluster.nodes[0].bundle.server_key),
    ]
    for rendering in renderings:
        assert marker not in rendering
    assert "upload_bytes" not in cluster.nodes[0].bundle.server_key.model_dump()


def test_per_node_override_changes_only_that_node(repo: LabRepo, pki: Pki, tmp_path: Path) -> None:
    own = pki.leaf(pki.spare_key, "cms3.test")
    repo.files["certs/t/cms3.cer"] = cert_pem(own)
    repo.files["certs/t/cms3.key"] = encrypted_key(pki.spare_key)
    repo.node(2)["certs"] = {
        "server_key": {"path": "certs/t/cms3.key", "remote_name": "server.key"},
        "server_cert": {"path": "certs/t/cms3.cer", "remote_name": "server.cer"},
    }
    cluster = _load(repo, tmp_path).require()
    shared, own_bundle = cluster.nodes[0].bundle, cluster.nodes[2].bundle
    assert own_bundle.server_cert.path == "certs/t/cms3.cer"
    assert own_bundle.server_cert.remote_name == "server.cer"
    assert own_bundle.server_cert.sha256 != shared.server_cert.sha256
    assert own_bundle.client_cert == shared.client_cert
    assert cluster.nodes[1].bundle == shared


def test_errors_leave_no_cluster_but_keep_the_spec(repo: LabRepo, tmp_path: Path) -> None:
    repo.files[f"{CERTS}/ca.cer"] = b"nonsense\n"
    result = _load(repo, tmp_path)
    assert not result.ok
    assert result.cluster is None
    assert result.spec is not None
    assert result.spec.nodes[0].name == "cms1"
    with pytest.raises(ConfigError, match=r"certs\.ca_cert: CA file certs/t/ca.cer is not PEM"):
        result.require()


def test_load_spec_reads_no_certificate(repo: LabRepo, tmp_path: Path) -> None:
    for path in list(repo.files):
        if path.startswith(CERTS):
            del repo.files[path]
    repo.write(tmp_path)
    with open_source(tmp_path) as source:
        loaded = load_spec(source, CLUSTER)
    assert loaded.spec is not None
    assert loaded.findings.items == []
    assert loaded.lines["nodes[1].address"] > loaded.lines["nodes"]


def test_default_environment_is_os_environ(
    repo: LabRepo, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    repo.write(tmp_path)
    for name, value in repo.env.items():
        monkeypatch.setenv(name, value)
    with open_source(tmp_path) as source:
        assert load_cluster(source, CLUSTER, now=NOW).ok
    monkeypatch.delenv("T_KEY_PASS")
    with open_source(tmp_path) as source:
        assert not load_cluster(source, CLUSTER, now=NOW).ok


def test_unknown_cluster_is_a_config_error(repo: LabRepo, tmp_path: Path) -> None:
    repo.write(tmp_path)
    with pytest.raises(ConfigError, match=r"no cluster 'nope': clusters/nope.yaml .*clusters: t"):
        load_desired(tmp_path, ["nope"], env=repo.env, now=NOW)
    with pytest.raises(ConfigError, match=r"no cluster '\.\./t'"):
        load_desired(tmp_path, ["../t"], env=repo.env, now=NOW)


def test_empty_repository_is_a_config_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"no clusters/\*\.yaml"):
        load_desired(tmp_path)


def test_no_clusters_says_how_to_point_at_a_repository_or_make_one(tmp_path: Path) -> None:
    """Issue 23: "no clusters" alone leaves a new user stuck in the wrong folder."""
    with pytest.raises(ConfigError) as caught:
        load_desired(tmp_path)
    assert str(caught.value) == (
        f"no clusters/*.yaml in the working tree {tmp_path.resolve()}: give --repo DIR for "
        "a repository elsewhere, or make one with `reconcile init DIR`"
    )
    # A cluster asked for by name where there are none at all: the same advice.
    with pytest.raises(ConfigError) as named:
        load_desired(tmp_path, ["prod"])
    assert str(named.value).endswith(
        "(clusters: none): give --repo DIR for a repository elsewhere, or make one with "
        "`reconcile init DIR`"
    )


def damaged_copy(key: rsa.RSAPrivateKey) -> bytes:
    """``key`` with its private exponent damaged: the same public key (so it still pairs
    with its certificate), but an RSA key OpenSSL's consistency check refuses."""
    numbers = key.private_numbers()
    damaged = rsa.RSAPrivateNumbers(
        p=numbers.p,
        q=numbers.q,
        d=numbers.d + 2,
        dmp1=numbers.dmp1,
        dmq1=numbers.dmq1,
        iqmp=numbers.iqmp,
        public_numbers=numbers.public_numbers,
    ).private_key(unsafe_skip_rsa_key_validation=True)
    return encrypted_key(damaged)


@pytest.mark.parametrize("check", [True, False])
def test_a_plan_skips_the_rsa_consistency_check_that_apply_and_validate_make(
    repo: LabRepo, pki: Pki, tmp_path: Path, check: bool
) -> None:
    assert isinstance(pki.server_key, rsa.RSAPrivateKey)
    repo.files[f"{CERTS}/server.key"] = damaged_copy(pki.server_key)
    repo.write(tmp_path)
    state = load_desired(tmp_path, [CLUSTER], env=repo.env, now=NOW, check_key_consistency=check)
    errors = [finding.message for finding in state.clusters[0].findings if finding.is_error]
    if check:
        assert errors == [
            f"server key {CERTS}/server.key cannot be decrypted with the passphrase in "
            "$T_KEY_PASS (wrong passphrase, or a damaged file)"
        ]
    else:
        assert errors == []
