"""The JSON Schema from the model: committed copy, and agreement with real files."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import jsonschema
import pytest
import yaml

from reconciler.desired.schema import SCHEMA_FILE, cluster_json_schema, render_schema
from tests.support.lab import LAB_MATERIAL
from tests.unit.desired.labrepo import good_doc

REPO = Path(__file__).resolve().parents[3]


@pytest.fixture(scope="module")
def validator() -> jsonschema.Draft202012Validator:
    schema = cluster_json_schema()
    jsonschema.Draft202012Validator.check_schema(schema)
    return jsonschema.Draft202012Validator(schema)


def test_committed_schema_is_current() -> None:
    committed = (LAB_MATERIAL / SCHEMA_FILE).read_text()
    assert committed == render_schema(), (
        "clusters/cluster.schema.json is stale: run `reconcile schema > "
        "clusters/cluster.schema.json`"
    )
    assert json.loads(committed) == cluster_json_schema()


def test_schema_has_dialect_title_and_description() -> None:
    schema = cluster_json_schema()
    assert schema["$schema"] == "https://json-schema.org/draft/2020-12/schema"
    assert schema["title"] == "cms-reconciler cluster"
    assert "environment variables" in schema["description"]
    assert schema["additionalProperties"] is False


def test_lab_yaml_is_valid(validator: jsonschema.Draft202012Validator) -> None:
    lab = yaml.safe_load((LAB_MATERIAL / "clusters" / "lab.yaml").read_text())
    assert list(validator.iter_errors(lab)) == []


def test_test_cluster_is_valid(validator: jsonschema.Draft202012Validator) -> None:
    document = good_doc()
    document["nodes"][1]["certs"] = {"server_cert": {"path": "x/y.cer", "remote_name": "y.cer"}}
    assert list(validator.iter_errors(document)) == []


def test_connected_call_bridges_are_described_like_nodes(
    validator: jsonschema.Draft202012Validator,
) -> None:
    """Issue 24, item 7: name, address and SSH access, nothing else (no certs, no database)."""
    document = good_doc()
    document["connected"] = [
        {"name": "cb1", "address": "10.0.0.21"},
        {"name": "cb2", "address": "10.0.0.22", "ssh_host": "cb2.example", "ssh_port": 2222},
    ]
    assert list(validator.iter_errors(document)) == []
    document["connected"][0]["certs"] = {"ca_cert": "certs/t/ca.cer"}
    assert any("certs" in error.message for error in validator.iter_errors(document))
    bridge = cluster_json_schema()["$defs"]["ConnectedSpec"]
    assert set(bridge["properties"]) == {"name", "address", "ssh_host", "ssh_port"}
    assert bridge["required"] == ["name", "address"]


@pytest.mark.parametrize(
    ("change", "where"),
    [
        (lambda d: d.update(nodez=[]), "nodez"),
        (lambda d: d["nodes"][0].update(sshport=22), "sshport"),
        (lambda d: d["certs"].update(ca_cert={"path": "a", "remote": "b"}), "remote"),
        (lambda d: d["ssh"].update(port="twenty-two"), "twenty-two"),
        (lambda d: d.update(renew_before="30 days"), "30 days"),
        (lambda d: d["certs"].update(ca_cert={"path": "a", "remote_name": "a b"}), "a b"),
        (lambda d: d.pop("master"), "master"),
    ],
    ids=[
        "unknown-key",
        "unknown-node-key",
        "unknown-file-key",
        "port-type",
        "duration",
        "remote-name",
        "missing-master",
    ],
)
def test_schema_rejects_bad_documents(
    validator: jsonschema.Draft202012Validator, change: Any, where: str
) -> None:
    document = good_doc()
    change(document)
    errors = list(validator.iter_errors(document))
    assert errors
    assert any(where in error.message for error in errors)
