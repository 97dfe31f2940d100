"""Warnings do not fail validation; valid variants (intermediates, per-node certs) pass."""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import hmac
from collections.abc import Callable
from pathlib import Path

import pytest

from tests.unit.desired.labrepo import CERTS, LabRepo, fake_host_key
from tests.unit.desired.pki import (
    CLIENT_AUTH,
    NOW,
    SERVER_AUTH,
    Pki,
    cert_pem,
    encrypted_key,
    sha1_signed,
)

Mutation = Callable[[LabRepo, Pki], None]


def _sha1(repo: LabRepo, pki: Pki) -> None:
    cert = pki.leaf(pki.server_key, "cms-db.test", usages=[SERVER_AUTH])
    repo.files[f"{CERTS}/server.cer"] = cert_pem(sha1_signed(cert, pki.root))


def _expiring(repo: LabRepo, pki: Pki) -> None:
    cert = pki.leaf(pki.client_key, "postgres", not_after=NOW + dt.timedelta(days=10))
    repo.files[f"{CERTS}/client.cer"] = cert_pem(cert)


def _nodes(count: int) -> Mutation:
    def mutate(repo: LabRepo, pki: Pki) -> None:
        repo.doc["nodes"] = [
            {"name": f"cms{n}", "address": f"10.0.0.{n}", "ssh_port": 2222}
            for n in range(1, count + 1)
        ]

    return mutate


def _no_password(repo: LabRepo, pki: Pki) -> None:
    del repo.env["T_PASSWORD"]


def _key_file_elsewhere(repo: LabRepo, pki: Pki) -> None:
    repo.doc["ssh"]["key_file_env"] = "T_SSH_KEY"
    repo.env["T_SSH_KEY"] = "/nonexistent/id_ed25519"


def _unpinned(repo: LabRepo, pki: Pki) -> None:
    repo.node(2)["ssh_port"] = 22


def _unpinned_bridge(repo: LabRepo, pki: Pki) -> None:
    repo.doc["connected"] = [{"name": "cb1", "address": "10.0.0.21", "ssh_port": 2222}]


def _ec_key(repo: LabRepo, pki: Pki) -> None:
    cert = pki.leaf(pki.ec_key, "cms-db.test", usages=[SERVER_AUTH])
    repo.files[f"{CERTS}/server.cer"] = cert_pem(cert)
    repo.files[f"{CERTS}/server.key"] = encrypted_key(pki.ec_key)


WARNINGS: list[tuple[str, Mutation, str, str]] = [
    ("sha1-signature", _sha1, "certs.server_cert", "is signed with SHA-1"),
    ("expiring-soon", _expiring, "certs.client_cert", "(within renew_before 30d); renew it"),
    ("even-node-count", _nodes(4), "nodes", "4 nodes: an even node count"),
    ("more-than-five", _nodes(7), "nodes", "the reference conflicts on the maximum"),
    ("two-nodes", _nodes(2), "nodes", "Cisco recommends an odd number"),
    ("one-node", _nodes(1), "nodes", "Cisco recommends at least 3"),
    ("password-not-set", _no_password, "ssh.password_env", "T_PASSWORD (named by"),
    ("key-file-missing", _key_file_elsewhere, "ssh.key_file_env", "/nonexistent/id_ed25519"),
    ("host-key-not-pinned", _unpinned, "nodes[2]", "no host key for 10.0.0.3 in"),
    (
        "bridge-host-key-not-pinned",
        _unpinned_bridge,
        "connected[0]",
        "no host key for [10.0.0.21]:2222 in clusters/known_hosts; the transport refuses "
        "unknown host keys, so call bridge cb1 cannot be reached",
    ),
    ("not-rsa", _ec_key, "certs.server_key", "is not an RSA key (EC secp256r1)"),
]


@pytest.mark.parametrize(
    ("mutate", "key", "message"),
    [case[1:] for case in WARNINGS],
    ids=[case[0] for case in WARNINGS],
)
def test_warning_is_reported_and_does_not_fail(
    mutate: Mutation, key: str, message: str, repo: LabRepo, pki: Pki, tmp_path: Path
) -> None:
    mutate(repo, pki)
    findings, code = repo.findings(tmp_path)
    assert code == 0, findings
    assert [f["severity"] for f in findings] == ["warning"], findings
    assert findings[0]["key"] == key
    assert message in findings[0]["message"]


def test_intermediate_in_the_ca_file_is_fine(repo: LabRepo, pki: Pki, tmp_path: Path) -> None:
    server = pki.leaf(pki.server_key, "cms-db.test", issuer=pki.intermediate, usages=[SERVER_AUTH])
    client = pki.leaf(pki.client_key, "postgres", issuer=pki.intermediate, usages=[CLIENT_AUTH])
    repo.files[f"{CERTS}/server.cer"] = cert_pem(server)
    repo.files[f"{CERTS}/client.cer"] = cert_pem(client)
    repo.files[f"{CERTS}/ca.cer"] = cert_pem(pki.intermediate.cert, pki.root.cert)
    assert repo.findings(tmp_path) == ([], 0)


def test_intermediate_after_the_leaf_is_fine(repo: LabRepo, pki: Pki, tmp_path: Path) -> None:
    server = pki.leaf(pki.server_key, "cms-db.test", issuer=pki.intermediate)
    repo.files[f"{CERTS}/server.cer"] = cert_pem(server, pki.intermediate.cert)
    assert repo.findings(tmp_path) == ([], 0)


def test_per_node_server_certificate(repo: LabRepo, pki: Pki, tmp_path: Path) -> None:
    own = pki.leaf(pki.spare_key, "cms2.test", usages=[SERVER_AUTH])
    repo.files["certs/t/cms2.cer"] = cert_pem(own)
    repo.files["certs/t/cms2.key"] = encrypted_key(pki.spare_key)
    repo.node(1)["certs"] = {
        "server_key": {"path": "certs/t/cms2.key", "remote_name": "dbclusterserver.key"},
        "server_cert": {"path": "certs/t/cms2.cer", "remote_name": "dbclusterserver.cer"},
    }
    assert repo.findings(tmp_path) == ([], 0)


def test_override_problem_names_the_node(repo: LabRepo, pki: Pki, tmp_path: Path) -> None:
    own = pki.leaf(pki.spare_key, "cms2.test", usages=[SERVER_AUTH])
    repo.files["certs/t/cms2.cer"] = cert_pem(own)
    repo.node(1)["certs"] = {"server_cert": "certs/t/cms2.cer"}  # keeps the shared server key
    findings, code = repo.findings(tmp_path)
    assert code == 1
    [mismatch] = findings
    assert mismatch["key"] == "certs.server_key"
    assert mismatch["node"] == "10.0.0.2"
    assert "does not belong to server certificate certs/t/cms2.cer" in mismatch["message"]
    text, _ = repo.validate(tmp_path, "text")
    assert "certs.server_key (node 10.0.0.2): server key" in text


def test_shared_file_problem_is_reported_once(repo: LabRepo, pki: Pki, tmp_path: Path) -> None:
    repo.files[f"{CERTS}/client.cer"] = b"garbage\n"
    findings, _ = repo.findings(tmp_path)
    assert len(findings) == 1
    assert findings[0]["node"] is None


def test_hashed_known_hosts_entry_counts(repo: LabRepo, tmp_path: Path) -> None:
    lines = []
    for n in (1, 2, 3):
        salt = bytes([n]) * 20
        digest = hmac.new(salt, f"[10.0.0.{n}]:2222".encode(), hashlib.sha1).digest()
        hashed = f"|1|{base64.b64encode(salt).decode()}|{base64.b64encode(digest).decode()}"
        lines.append(f"{hashed} ssh-ed25519 {fake_host_key(n)}\n")
    repo.files["clusters/known_hosts"] = "".join(lines).encode()
    assert repo.findings(tmp_path) == ([], 0)


def test_text_output_has_summary_and_plain_lines(repo: LabRepo, tmp_path: Path) -> None:
    repo.node(1)["address"] = "10.0.0.1"
    del repo.env["T_PASSWORD"]
    text, code = repo.validate(tmp_path, "text")
    assert code == 1
    lines = text.splitlines()
    assert lines[0].startswith("desired state: no git commit")
    assert (
        "error   clusters/t.yaml: nodes[1].address: duplicate address 10.0.0.1 (also "
        "nodes[0]); give each node its own address"
    ) in lines
    assert any(line.startswith("warning clusters/t.yaml: ssh.password_env: ") for line in lines)
    assert lines[-1] == "FAILED  cluster t (clusters/t.yaml): 1 error, 1 warning"
