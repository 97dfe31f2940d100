"""Cluster models: defaults, value syntax, and what the planner reads from them."""

from __future__ import annotations

import json
import re
from datetime import timedelta
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st
from pydantic import ValidationError

from reconciler.desired.models import (
    REMOTE_NAME_PATTERN,
    ClusterSpec,
    NodeSpec,
    remote_name_problem,
)
from reconciler.desired.specerrors import key_path, model_at
from reconciler.durations import duration_text, parse_duration
from reconciler.mmp.models import CertRole
from tests.unit.desired.labrepo import good_doc


def _spec(change: Any = None) -> ClusterSpec:
    document = good_doc()
    if change:
        change(document)
    return ClusterSpec.model_validate(document)


def test_defaults() -> None:
    def minimal(document: dict[str, Any]) -> None:
        del document["renew_before"], document["timeouts"], document["interface"]
        del document["ssh"]["port"], document["ssh"]["known_hosts"]
        document["nodes"][0].pop("ssh_port")

    spec = _spec(minimal)
    assert spec.renew_before == timedelta(days=30)
    assert (spec.timeouts.remove, spec.timeouts.initialize, spec.timeouts.join) == (
        timedelta(seconds=300),
        timedelta(seconds=300),
        timedelta(seconds=600),
    )
    assert spec.ssh.known_hosts == "clusters/known_hosts"
    assert spec.ssh_port_of(spec.nodes[0]) == 22
    assert spec.ssh_port_of(spec.nodes[1]) == 2222
    assert spec.nodes[0].effective_ssh_host == "10.0.0.1"
    assert spec.interface is None


def test_path_shorthand_and_remote_names() -> None:
    def change(document: dict[str, Any]) -> None:
        document["certs"]["ca_cert"] = {"path": "./certs/t/ca.cer", "remote_name": "CAVD.cer"}

    spec = _spec(change)
    assert spec.certs.file(CertRole.SERVER_KEY).path == "certs/t/server.key"
    assert spec.certs.file(CertRole.SERVER_KEY).effective_remote_name == "server.key"
    assert spec.certs.ca_cert.path == "certs/t/ca.cer"
    assert spec.certs.ca_cert.effective_remote_name == "CAVD.cer"


def test_node_override_merges_with_cluster_certs() -> None:
    def change(document: dict[str, Any]) -> None:
        document["nodes"][1]["certs"] = {
            "server_cert": "certs/t/cms2.cer",
            "key_passphrase_env": "OTHER",
        }

    spec = _spec(change)
    merged = spec.node_certs(spec.nodes[1])
    assert merged.server_cert.path == "certs/t/cms2.cer"
    assert merged.server_key.path == "certs/t/server.key"
    assert merged.key_passphrase_env == "OTHER"
    assert spec.node_certs(spec.nodes[0]) == spec.certs


def test_ipv6_address_is_normalised_and_master_found() -> None:
    def change(document: dict[str, Any]) -> None:
        document["nodes"][0]["address"] = "2001:DB8:0:0::1"
        document["master"] = "2001:db8::1"

    spec = _spec(change)
    assert spec.nodes[0].address == "2001:db8::1"
    master = spec.master_node()
    assert master is not None
    assert master.name == "cms1"


def test_json_dump_of_durations_round_trips() -> None:
    spec = _spec()
    dumped = json.loads(spec.model_dump_json())
    assert dumped["renew_before"] == "30d"
    assert dumped["timeouts"] == {
        "connect": "15s",
        "remove": "5m",
        "initialize": "5m",
        "join": "10m",
    }
    assert ClusterSpec.model_validate(dumped) == spec


def test_bare_number_duration_is_seconds() -> None:
    spec = _spec(lambda d: d["timeouts"].update(join=90))
    assert spec.timeouts.join == timedelta(seconds=90)


def test_models_are_immutable() -> None:
    spec = _spec()
    with pytest.raises(ValidationError):
        spec.name = "other"  # type: ignore[misc]


@given(st.integers(min_value=0, max_value=10**8))
def test_duration_text_round_trips(seconds: int) -> None:
    delta = timedelta(seconds=seconds)
    assert parse_duration(duration_text(delta)) == delta


@given(st.text(max_size=40))
def test_remote_name_rule_matches_the_schema_pattern(name: str) -> None:
    allowed = remote_name_problem(name) is None
    assert allowed == bool(re.fullmatch(REMOTE_NAME_PATTERN, name) and len(name) <= 128)


@pytest.mark.parametrize(
    ("name", "problem"),
    [
        ("dbclusterserver.key", None),
        ("CA_2024-v2.cer", None),
        ("", "is empty"),
        ("a/b.cer", "path separator"),
        ("a\\b.cer", "path separator"),
        ("my cert.cer", "whitespace"),
        ("tab\there", "control character"),
        ("..", "letters, digits"),
        (".hidden", "letters, digits"),
        ("-rf", "letters, digits"),
        ("zertifikat-ä.cer", "letters, digits"),
        ("x" * 129, "longer than 128"),
    ],
)
def test_remote_name_problem(name: str, problem: str | None) -> None:
    found = remote_name_problem(name)
    if problem is None:
        assert found is None
    else:
        assert found is not None
        assert problem in found


def test_key_path_and_model_lookup() -> None:
    assert key_path(("nodes", 1, "ssh_port")) == "nodes[1].ssh_port"
    assert key_path(()) == ""
    node_model = model_at(ClusterSpec, ("nodes", 0))
    assert node_model is not None
    assert "ssh_port" in node_model.model_fields
    file_model = model_at(ClusterSpec, ("nodes", 0, "certs", "server_cert"))
    assert file_model is not None
    assert set(file_model.model_fields) == {"path", "remote_name"}
    assert model_at(ClusterSpec, ("name",)) is None


@pytest.mark.reliability(
    section="hostile-input",
    case="an ssh_host that is neither a host name nor an address is refused",
)
@pytest.mark.parametrize(
    "host",
    ["-oProxyCommand=nc evil 22", "cms 1", "cms1;reboot", "a/b", "-cms1", "cms1-.example", ""],
)
def test_ssh_host_must_be_a_host_name_or_address(host: str) -> None:
    """Issue "reliability" (hostile input): `-oProxyCommand=...` used to pass validate."""
    document = {"name": "cms1", "address": "10.0.0.1", "ssh_host": host}
    with pytest.raises(ValidationError, match="not a host name or IP address"):
        NodeSpec.model_validate(document)


@pytest.mark.parametrize("host", ["cms1", "cms1.example.com", "10.0.0.1", "fd00::1", "a-b.c."])
def test_ssh_host_accepts_names_and_addresses(host: str) -> None:
    node = NodeSpec.model_validate({"name": "cms1", "address": "10.0.0.1", "ssh_host": host})
    assert node.effective_ssh_host == host
