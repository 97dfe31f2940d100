"""The cluster file and the files drafted from a healthy cluster's readings (no SSH, no disk)."""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime
from pathlib import Path

import yaml
from cryptography import x509
from cryptography.hazmat.primitives import serialization

from reconciler.desired.pem import unencrypted_pkcs8
from reconciler.desired.validate import run_validate
from reconciler.mmp.parsers.pki import parse_pki_inspect
from reconciler.onboard.describe import SCHEMA_LINE, Draft, ImportSettings, describe
from reconciler.onboard.reading import NodeFile
from tests.support.pki import CertAuthority, DeviceBundle, _key, pem
from tests.unit.desired.labrepo import fake_host_key
from tests.unit.onboard.material import NODES, NodeView, bundle, healthy, reading

NOW = datetime.now(UTC)
SETTINGS = ImportSettings("prod", 22, "admin", "PROD_PASSWORD", "PROD_KEY_PASSPHRASE")
PASSPHRASE = "unit-passphrase"


def files(draft: Draft) -> dict[str, bytes | None]:
    return {file.path: file.data for file in draft.files}


def document(draft: Draft) -> dict[str, object]:
    loaded: dict[str, object] = yaml.safe_load(draft.cluster_yaml)
    return loaded


def test_a_shared_bundle_is_one_certs_entry_and_keys_are_encrypted() -> None:
    device = bundle()
    draft = describe(healthy(device), SETTINGS, PASSPHRASE, NOW)
    assert draft.cluster_yaml.splitlines()[0] == SCHEMA_LINE
    assert document(draft) == {
        "name": "prod",
        "master": "10.0.0.1",
        "interface": "a",
        "nodes": [{"name": name, "address": address} for name, address in NODES],
        "ssh": {
            "username": "admin",
            "password_env": "PROD_PASSWORD",
            "port": 22,
            "known_hosts": "clusters/known_hosts",
        },
        "certs": {
            "server_key": "certs/prod/tserver.key",
            "server_cert": "certs/prod/tserver.cer",
            "client_key": "certs/prod/tclient.key",
            "client_cert": "certs/prod/tclient.cer",
            "ca_cert": "certs/prod/tca.cer",
            "key_passphrase_env": "PROD_KEY_PASSPHRASE",
        },
        "renew_before": "30d",
    }
    # One flow mapping per node, as in clusters/lab.yaml.
    assert "  - {name: cms2, address: 10.0.0.2}" in draft.cluster_yaml.splitlines()
    written = files(draft)
    for name in ("tserver.cer", "tclient.cer", "tca.cer"):
        assert written[f"certs/prod/{name}"] == device.files[name]  # exactly as read
    for file in draft.files:
        assert file.data is not None
        assert b"BEGIN PRIVATE KEY" not in file.data
        if file.is_key:
            key = serialization.load_pem_private_key(file.data, PASSPHRASE.encode())
            assert unencrypted_pkcs8(key) == device.files[file.remote_name]
            assert file.upload_sha256 == hashlib.sha256(device.files[file.remote_name]).hexdigest()
    assert draft.notes == ()
    assert draft.spec.master_node() is not None


def test_nodes_in_address_order_and_ssh_host_only_where_it_differs() -> None:
    device = bundle()
    readings = healthy(device)
    readings[1] = reading(NodeView("cms2", "10.0.0.2"), device, given="mmp2.example.net")
    draft = describe(list(reversed(readings)), SETTINGS, PASSPHRASE, NOW)
    assert document(draft)["nodes"] == [
        {"name": "cms1", "address": "10.0.0.1"},
        {"name": "cms2", "address": "10.0.0.2", "ssh_host": "mmp2.example.net"},
        {"name": "cms3", "address": "10.0.0.3"},
    ]


def _own_server_cert(device: DeviceBundle, ca: CertAuthority) -> NodeFile:
    other = pem(ca.issue("db2.example", _key(1), client=False))
    return NodeFile("tserver.cer", data=other, present=True)


def test_a_node_with_its_own_certificate_gets_an_override() -> None:
    device = bundle()
    ca = CertAuthority.make()
    readings = healthy(device)
    own = _own_server_cert(device, ca)
    readings[1] = reading(NodeView("cms2", "10.0.0.2"), device, files={"tserver.cer": own})
    draft = describe(readings, SETTINGS, PASSPHRASE, NOW)
    nodes = document(draft)["nodes"]
    assert isinstance(nodes, list)
    assert nodes[1] == {
        "name": "cms2",
        "address": "10.0.0.2",
        "certs": {"server_cert": "certs/prod/cms2/tserver.cer"},
    }
    assert "certs" not in nodes[0]
    assert files(draft)["certs/prod/cms2/tserver.cer"] == own.data
    assert files(draft)["certs/prod/tserver.cer"] == device.files["tserver.cer"]
    assert draft.spec.node_certs(draft.spec.nodes[1]).server_cert.path.endswith("cms2/tserver.cer")


def test_on_a_tie_the_masters_file_is_the_clusters() -> None:
    device = bundle()
    ca = CertAuthority.make()
    readings = healthy(device)[:2]
    readings[1] = reading(
        NodeView("cms2", "10.0.0.2"), device, files={"tserver.cer": _own_server_cert(device, ca)}
    )
    draft = describe(list(reversed(readings)), SETTINGS, PASSPHRASE, NOW)
    certs = document(draft)["certs"]
    assert isinstance(certs, dict)
    assert certs["server_cert"] == "certs/prod/tserver.cer"
    assert files(draft)["certs/prod/tserver.cer"] == device.files["tserver.cer"]


def _refused_key(name: str) -> NodeFile:
    return NodeFile(name, present=True, refused="Permission denied")


def test_keys_sftp_refuses_everywhere_become_one_note_with_the_openssl_command() -> None:
    device = bundle()
    readings = [
        reading(
            NodeView(r.name or "", r.given),
            device,
            files={"tserver.key": _refused_key("tserver.key")},
        )
        for r in healthy(device)
    ]
    draft = describe(readings, SETTINGS, PASSPHRASE, NOW)
    assert files(draft)["certs/prod/tserver.key"] is None
    assert files(draft)["certs/prod/tclient.key"] is not None
    (note,) = draft.notes
    assert note.blocks_empty_plan
    assert note.text.startswith("cms1, cms2, cms3: the server key tserver.key could not be read")
    assert "Put that key at certs/prod/tserver.key" in note.text
    assert (
        "openssl pkcs8 -topk8 -v2 aes-256-cbc -in tserver.key -out certs/prod/tserver.key"
        in note.text
    )
    assert "$PROD_KEY_PASSPHRASE" in note.text
    certs = document(draft)["certs"]
    assert isinstance(certs, dict)
    assert certs["server_key"] == "certs/prod/tserver.key"  # the cluster file names it anyway


def test_a_key_unread_on_one_node_is_the_key_of_its_certificate() -> None:
    device = bundle()
    readings = healthy(device)
    readings[2] = reading(
        NodeView("cms3", "10.0.0.3"), device, files={"tserver.key": _refused_key("tserver.key")}
    )
    draft = describe(readings, SETTINGS, PASSPHRASE, NOW)
    assert "certs" not in document(draft)["nodes"][2]  # type: ignore[index]
    (note,) = draft.notes
    assert note.text.startswith("cms3: the server key tserver.key could not be read")
    assert "taken to be certs/prod/tserver.key, as read from cms1, cms2" in note.text


def test_a_certificate_known_only_by_pki_inspect_joins_the_same_serial() -> None:
    device = bundle()
    readings = healthy(device)
    transcript = (
        "Checking ssh public keys...not found\n"
        "Checking user configured certificates and keys...found\n"
        "File contains a PEM encoded certificate\n"
    )
    leaf = x509.load_pem_x509_certificate(device.files["tca.cer"])
    serial = leaf.serial_number.to_bytes(20, "big").lstrip(b"\0").hex(":")
    issuer = ", ".join(reversed(leaf.issuer.rfc4514_string().split(",")))
    dump = (
        "Certificate:\n  Data:\n    Version: 3 (0x2)\n    Serial Number:\n"
        f"      {serial}\n    Signature Algorithm: sha256WithRSAEncryption\n"
        f"    Issuer: {issuer}\n    Validity:\n"
        f"      Not Before: {leaf.not_valid_before_utc:%b %e %H:%M:%S %Y} GMT\n"
        f"      Not After : {leaf.not_valid_after_utc:%b %e %H:%M:%S %Y} GMT\n"
        f"    Subject: {issuer}\n"
    )
    inspected = parse_pki_inspect(transcript + dump)
    unread = NodeFile("tca.cer", present=True, refused="denied", certificate=inspected.certificate)
    readings[1] = reading(NodeView("cms2", "10.0.0.2"), device, files={"tca.cer": unread})
    draft = describe(readings, SETTINGS, PASSPHRASE, NOW)
    assert "certs" not in document(draft)["nodes"][1]  # type: ignore[index]
    (note,) = draft.notes
    assert not note.blocks_empty_plan
    assert "same serial and issuer" in note.text


def test_a_pkcs1_key_on_the_node_is_written_but_said_to_replan() -> None:
    device = bundle()
    traditional = _key(1).private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.TraditionalOpenSSL,
        serialization.NoEncryption(),
    )
    readings = [
        reading(
            NodeView(r.name or "", r.given),
            device,
            files={"tserver.key": NodeFile("tserver.key", data=traditional, present=True)},
        )
        for r in healthy(device)
    ]
    draft = describe(readings, SETTINGS, PASSPHRASE, NOW)
    data = files(draft)["certs/prod/tserver.key"]
    assert data is not None
    assert data.startswith(b"-----BEGIN ENCRYPTED PRIVATE KEY-----")
    (note,) = draft.notes
    assert note.blocks_empty_plan
    assert "PKCS#1 PEM (RSA PRIVATE KEY)" in note.text
    assert "will propose uploading this same key again" in note.text


def test_two_roles_may_share_one_file() -> None:
    device = bundle()
    readings = [
        reading(NodeView(r.name or "", r.given, certs={"client_key": "tserver.key"}), device)
        for r in healthy(device)
    ]
    draft = describe(readings, SETTINGS, PASSPHRASE, NOW)
    (shared,) = [file for file in draft.files if file.remote_name == "tserver.key"]
    assert [role.value for role in shared.roles] == ["server_key", "client_key"]
    certs = document(draft)["certs"]
    assert isinstance(certs, dict)
    assert certs["server_key"] == certs["client_key"] == "certs/prod/tserver.key"


def test_the_draft_validates_as_written(tmp_path: Path) -> None:
    device = bundle()
    draft = describe(healthy(device), SETTINGS, PASSPHRASE, NOW)
    repo = tmp_path / "repo"
    for file in draft.files:
        assert file.data is not None
        target = repo / file.path
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(file.data)
    (repo / "clusters").mkdir()
    (repo / draft.cluster_path).write_text(draft.cluster_yaml)
    (repo / "clusters" / "known_hosts").write_text(
        "".join(
            f"{address} ssh-ed25519 {fake_host_key(n)}\n" for n, (_, address) in enumerate(NODES)
        )
    )
    env = {"PROD_PASSWORD": "x", "PROD_KEY_PASSPHRASE": PASSPHRASE}
    output, code = run_validate(repo, ["prod"], None, "text", env=env, now=NOW)
    assert code == 0, output
    assert "0 errors" in output
