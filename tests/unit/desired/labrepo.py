"""A small GitOps repository for tests: one valid cluster ``t`` that cases then break."""

from __future__ import annotations

import base64
import copy
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from reconciler.desired.validate import run_validate
from tests.unit.desired.pki import (
    CLIENT_AUTH,
    NOW,
    PASSPHRASE,
    SERVER_AUTH,
    Pki,
    cert_pem,
    encrypted_key,
)

CLUSTER = "t"
CERTS = "certs/t"
ENV = {"T_PASSWORD": "pw", "T_KEY_PASS": PASSPHRASE}


def fake_host_key(seed: int) -> str:
    """A well-formed ssh-ed25519 public key (base64) that no server holds."""
    parts = (b"ssh-ed25519", bytes([seed]) * 32)
    return base64.b64encode(b"".join(len(p).to_bytes(4, "big") + p for p in parts)).decode()


KNOWN_HOSTS = "".join(f"[10.0.0.{n}]:2222 ssh-ed25519 {fake_host_key(n)}\n" for n in range(1, 10))


@dataclass
class LabRepo:
    """Cluster document, files and environment; ``text`` replaces the YAML when set."""

    doc: dict[str, Any]
    files: dict[str, bytes]
    env: dict[str, str] = field(default_factory=lambda: dict(ENV))
    text: str | None = None
    raw_yaml: bytes | None = None

    def node(self, index: int) -> dict[str, Any]:
        node: dict[str, Any] = self.doc["nodes"][index]
        return node

    def yaml_text(self) -> str:
        return self.text if self.text is not None else yaml.safe_dump(self.doc, sort_keys=False)

    def write(self, root: Path) -> Path:
        for path, data in self.files.items():
            target = root / path
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(data)
        cluster = root / "clusters" / f"{CLUSTER}.yaml"
        cluster.parent.mkdir(parents=True, exist_ok=True)
        cluster.write_bytes(self.raw_yaml or self.yaml_text().encode())
        return root

    def validate(self, root: Path, output_format: str = "json") -> tuple[str, int]:
        self.write(root)
        return run_validate(root, [CLUSTER], None, output_format, env=self.env, now=NOW)

    def findings(self, root: Path) -> tuple[list[dict[str, Any]], int]:
        output, code = self.validate(root)
        document = json.loads(output)
        findings: list[dict[str, Any]] = document["clusters"][0]["findings"]
        return findings, code


def good_files(pki: Pki) -> dict[str, bytes]:
    server = pki.leaf(pki.server_key, "cms-db.test", usages=[SERVER_AUTH, CLIENT_AUTH])
    client = pki.leaf(pki.client_key, "postgres", usages=[CLIENT_AUTH])
    return {
        f"{CERTS}/server.key": encrypted_key(pki.server_key),
        f"{CERTS}/server.cer": cert_pem(server),
        f"{CERTS}/client.key": encrypted_key(pki.client_key),
        f"{CERTS}/client.cer": cert_pem(client),
        f"{CERTS}/ca.cer": cert_pem(pki.root.cert),
        "clusters/known_hosts": KNOWN_HOSTS.encode(),
    }


def good_doc() -> dict[str, Any]:
    return {
        "name": CLUSTER,
        "master": "10.0.0.1",
        "interface": "a",
        "nodes": [
            {"name": f"cms{n}", "address": f"10.0.0.{n}", "ssh_port": 2222} for n in (1, 2, 3)
        ],
        "ssh": {
            "username": "admin",
            "password_env": "T_PASSWORD",
            "port": 22,
            "known_hosts": "clusters/known_hosts",
        },
        "certs": {
            "server_key": f"{CERTS}/server.key",
            "server_cert": f"{CERTS}/server.cer",
            "client_key": f"{CERTS}/client.key",
            "client_cert": f"{CERTS}/client.cer",
            "ca_cert": f"{CERTS}/ca.cer",
            "key_passphrase_env": "T_KEY_PASS",
        },
        "renew_before": "30d",
        "timeouts": {"remove": "300s", "initialize": "300s", "join": "600s"},
    }


def fresh_repo(files: dict[str, bytes]) -> LabRepo:
    return LabRepo(doc=copy.deepcopy(good_doc()), files=dict(files))
