"""Access from the trusted ref: the pull request proposes desired state, never access."""

from __future__ import annotations

import copy
from typing import Any

import pytest
from hypothesis import event, given, settings
from hypothesis import strategies as st

from reconciler.desired.models import ClusterSpec, NodeSpec
from reconciler.desired.trust import (
    AccessChange,
    ClusterAccess,
    SecretSlot,
    access_changes,
    overlay_access,
    secret_slots,
)
from reconciler.errors import ConfigError
from reconciler.mmp.transport import KnownHosts
from tests.unit.desired.labrepo import KNOWN_HOSTS, fake_host_key, good_doc


def spec(doc: dict[str, Any]) -> ClusterSpec:
    return ClusterSpec.model_validate(doc)


def trusted_doc() -> dict[str, Any]:
    return copy.deepcopy(good_doc())


def referenced_variables(cluster: ClusterSpec) -> set[str]:
    names = {cluster.ssh.password_env, cluster.ssh.key_file_env, cluster.certs.key_passphrase_env}
    names |= {node.certs.key_passphrase_env for node in cluster.nodes if node.certs}
    return {name for name in names if name}


# --- secret slots --------------------------------------------------------------------------


def test_each_variable_has_a_literal_secret_name() -> None:
    assert secret_slots(spec(good_doc())) == (
        SecretSlot("CMS_SSH_PASSWORD", "T_PASSWORD"),
        SecretSlot("CMS_KEY_PASSPHRASE", "T_KEY_PASS"),
    )


def test_the_ssh_key_is_a_file_and_node_passphrases_take_the_next_slots() -> None:
    doc = good_doc()
    doc["ssh"] = {"username": "admin", "key_file_env": "T_SSH_KEY"}
    doc["nodes"][1]["certs"] = {"key_passphrase_env": "T_CMS2_PASS"}
    doc["nodes"][2]["certs"] = {"key_passphrase_env": "T_KEY_PASS"}  # the cluster's: no new slot
    assert secret_slots(spec(doc)) == (
        SecretSlot("CMS_SSH_KEY", "T_SSH_KEY", file=True),
        SecretSlot("CMS_KEY_PASSPHRASE", "T_KEY_PASS"),
        SecretSlot("CMS_KEY_PASSPHRASE_2", "T_CMS2_PASS"),
    )


def test_more_passphrase_variables_than_slots_is_an_error_naming_them() -> None:
    doc = good_doc()
    doc["nodes"].append({"name": "cms4", "address": "10.0.0.4", "ssh_port": 2222})
    for index, node in enumerate(doc["nodes"]):
        node["certs"] = {"key_passphrase_env": f"T_PASS_{index}"}
    with pytest.raises(ConfigError, match="names 5 different key passphrase variables"):
        secret_slots(spec(doc))


# --- the overlay ---------------------------------------------------------------------------


def test_every_access_field_comes_from_the_trusted_file() -> None:
    proposed = good_doc()
    proposed["ssh"] = {
        "username": "root",
        "password_env": "CMS_RECONCILER_CA_KEY",
        "port": 2200,
        "known_hosts": "clusters/mine",
    }
    proposed["certs"]["key_passphrase_env"] = "GITHUB_TOKEN"
    proposed["nodes"][0]["ssh_host"] = "203.0.113.66"
    proposed["nodes"][0]["ssh_port"] = 22
    proposed["nodes"][1]["certs"] = {
        "server_cert": "certs/t/cms2.cer",
        "key_passphrase_env": "OTHER_SECRET",
    }
    proposed["master"] = "10.0.0.2"
    result = overlay_access(spec(proposed), spec(trusted_doc()))
    trusted = spec(trusted_doc())
    assert result.ssh == trusted.ssh
    assert result.certs.key_passphrase_env == "T_KEY_PASS"
    assert (result.nodes[0].ssh_host, result.nodes[0].ssh_port) == (None, 2222)
    assert result.nodes[1].certs is not None
    assert result.nodes[1].certs.key_passphrase_env is None  # the cluster's trusted one
    assert result.nodes[1].certs.server_cert is not None
    assert result.nodes[1].certs.server_cert.path == "certs/t/cms2.cer"  # desired state: kept
    assert result.master == "10.0.0.2"  # desired state: kept
    assert referenced_variables(result) == {"T_PASSWORD", "T_KEY_PASS"}


def test_a_new_node_is_reached_where_it_says_with_trusted_variables_only() -> None:
    proposed = good_doc()
    proposed["nodes"].append(
        {
            "name": "cms4",
            "address": "10.0.0.4",
            "ssh_host": "cms4.example",
            "ssh_port": 2222,
            "certs": {"key_passphrase_env": "AWS_SECRET_ACCESS_KEY"},
        }
    )
    trusted = trusted_doc()
    trusted["nodes"][2]["certs"] = {"key_passphrase_env": "T_CMS3_PASS"}
    result = overlay_access(spec(proposed), spec(trusted))
    new = result.nodes[3]
    assert (new.ssh_host, new.ssh_port, new.certs) == ("cms4.example", 2222, None)
    assert result.nodes[2].certs is not None
    assert result.nodes[2].certs.key_passphrase_env == "T_CMS3_PASS"
    proposed["nodes"][3]["certs"] = {"key_passphrase_env": "T_CMS3_PASS"}  # a trusted name
    again = overlay_access(spec(proposed), spec(trusted))
    assert again.nodes[3].certs is not None
    assert again.nodes[3].certs.key_passphrase_env == "T_CMS3_PASS"


def test_connected_bridges_are_reached_where_the_trusted_file_says() -> None:
    """Issue 24, item 7: a connected call bridge is a host too; a pull request must not move it."""
    trusted = trusted_doc()
    trusted["connected"] = [{"name": "cb1", "address": "10.0.0.21", "ssh_port": 2223}]
    proposed = good_doc()
    proposed["connected"] = [
        {"name": "cb1", "address": "10.0.0.21", "ssh_host": "203.0.113.66", "ssh_port": 22},
        {"name": "cb2", "address": "10.0.0.22", "ssh_host": "cb2.example"},
    ]
    result = overlay_access(spec(proposed), spec(trusted))
    first, new = result.connected
    assert (first.name, first.ssh_host, first.ssh_port) == ("cb1", None, 2223)
    assert (new.ssh_host, new.ssh_port) == ("cb2.example", None)  # reported, never contacted
    described = [change.describe() for change in access_changes(spec(proposed), spec(trusted))]
    assert described == [
        "connected[cb1].ssh_host: (none) -> 203.0.113.66",
        "connected[cb1].ssh_port: 2223 -> 22",
        "connected[cb2]: (none) -> new call bridge 10.0.0.22, reached at cb2.example",
    ]
    # A plan reads the trusted file's bridges where it reaches them, pinned like nodes; a
    # bridge new in the pull request is no endpoint a plan may reach.
    assert access(trusted).endpoints == access(trusted_doc()).endpoints | {"[10.0.0.21]:2223"}
    assert not any("cb2" in endpoint for endpoint in access(trusted).endpoints)
    assert access_changes(spec(trusted), spec(trusted)) == ()


def test_a_connected_bridges_pins_changed_by_a_pull_request_are_reported() -> None:
    bridged = good_doc()
    bridged["connected"] = [{"name": "cb1", "address": "10.0.0.21", "ssh_port": 2223}]
    pins = KNOWN_HOSTS + f"[10.0.0.21]:2223 ssh-ed25519 {fake_host_key(21)}\n"
    changes = access_changes(
        spec(bridged), spec(bridged), proposed_pins=pins, trusted_pins=KNOWN_HOSTS
    )
    assert [change.key for change in changes] == ["pins of [10.0.0.21]:2223"]


ENV_NAMES = st.sampled_from(
    ["T_PASSWORD", "T_KEY_PASS", "CMS_RECONCILER_CA_KEY", "GITHUB_TOKEN", "T_CMS2_PASS", "X"]
)


@st.composite
def proposals(draw: st.DrawFn) -> dict[str, Any]:
    """A pull request's cluster file: any access fields, nodes kept, moved or added."""
    doc = good_doc()
    if draw(st.integers(0, 3)) == 0:
        return doc  # the everyday pull request: certificates only
    doc["ssh"] = {
        "username": draw(st.sampled_from(["admin", "root"])),
        draw(st.sampled_from(["password_env", "key_file_env"])): draw(ENV_NAMES),
        "port": draw(st.sampled_from([22, 2222, 2200])),
    }
    doc["certs"]["key_passphrase_env"] = draw(ENV_NAMES)
    for node in doc["nodes"]:
        if draw(st.booleans()):
            node["ssh_host"] = draw(st.sampled_from(["203.0.113.66", "evil.example"]))
        if draw(st.booleans()):
            node["ssh_port"] = draw(st.sampled_from([22, 2200]))
        if draw(st.booleans()):
            node["certs"] = {"key_passphrase_env": draw(ENV_NAMES)}
    for number in range(draw(st.integers(0, 2))):
        node = {"name": f"cms{5 + number}", "address": f"10.0.0.{5 + number}"}
        if draw(st.booleans()):
            node["certs"] = {"key_passphrase_env": draw(ENV_NAMES)}
        doc["nodes"].append(node)
    return doc


@st.composite
def trusted_files(draw: st.DrawFn) -> dict[str, Any]:
    doc = trusted_doc()
    if draw(st.integers(0, 3)) == 0:
        doc["nodes"][1]["certs"] = {"key_passphrase_env": "T_CMS2_PASS"}
    return doc


@settings(max_examples=300, deadline=None)
@given(proposals(), trusted_files())
def test_the_overlay_never_names_a_variable_or_endpoint_the_trusted_file_did_not(
    proposed_doc: dict[str, Any], trusted: dict[str, Any]
) -> None:
    proposed, base = spec(proposed_doc), spec(trusted)
    result = overlay_access(proposed, base)
    allowed = {slot.env for slot in secret_slots(base)}
    unknown = referenced_variables(proposed) - allowed
    event("the proposal names a variable the trusted file does not" if unknown else "only trusted")
    assert referenced_variables(result) <= allowed
    assert result.ssh == base.ssh
    known = {node.address: node for node in base.nodes}
    for before, after in zip(proposed.nodes, result.nodes, strict=True):
        was = known.get(after.address)
        if was is not None:
            moved = (before.ssh_host, before.ssh_port) != (was.ssh_host, was.ssh_port)
            event("a known node moved by the proposal" if moved else "a known node in place")
            assert (after.ssh_host, after.ssh_port) == (was.ssh_host, was.ssh_port)
        else:
            event("a new node")
            assert (after.ssh_host, after.ssh_port) == (before.ssh_host, before.ssh_port)
        assert after.address == before.address
    changes = access_changes(proposed, base)
    event("access changes reported" if changes else "no access change")
    assert bool(changes) == (
        proposed.ssh != base.ssh
        or proposed.certs.key_passphrase_env != base.certs.key_passphrase_env
        or any(
            endpoint(node) != endpoint(known[node.address]) if node.address in known else True
            for node in proposed.nodes
        )
    )


def endpoint(node: NodeSpec) -> tuple[str | None, int | None, str | None]:
    return node.ssh_host, node.ssh_port, node.certs.key_passphrase_env if node.certs else None


# --- the report ------------------------------------------------------------------------------


def test_the_changes_name_each_field_with_both_values() -> None:
    proposed = good_doc()
    proposed["ssh"]["password_env"] = "CMS_RECONCILER_CA_KEY"
    proposed["nodes"][2]["ssh_port"] = 22
    proposed["nodes"].append({"name": "cms4", "address": "10.0.0.99", "ssh_port": 2222})
    pins = KNOWN_HOSTS + f"[10.0.0.99]:2222 ssh-ed25519 {fake_host_key(99)}\n"
    changes = access_changes(
        spec(proposed), spec(trusted_doc()), proposed_pins=pins, trusted_pins=KNOWN_HOSTS
    )
    described = [change.describe() for change in changes]
    assert described[:3] == [
        "ssh.password_env: T_PASSWORD -> CMS_RECONCILER_CA_KEY",
        "nodes[cms3].ssh_port: 2222 -> 22",
        "nodes[cms4]: (none) -> new node 10.0.0.99, reached at [10.0.0.99]:2222",
    ]
    (pin,) = changes[3:]
    assert pin.key == "pins of [10.0.0.99]:2222"
    assert pin.trusted is None
    assert pin.proposed is not None
    assert pin.proposed.startswith("SHA256:")
    assert len(pin.proposed) == len("SHA256:") + 43


def test_no_change_says_nothing() -> None:
    assert (
        access_changes(
            spec(good_doc()),
            spec(trusted_doc()),
            trusted_pins=KNOWN_HOSTS,
            proposed_pins=KNOWN_HOSTS,
        )
        == ()
    )


def test_a_new_cluster_reports_every_access_field_as_new() -> None:
    changes = access_changes(spec(good_doc()), None)
    assert AccessChange("ssh.password_env", None, "T_PASSWORD") in changes
    assert AccessChange("ssh.username", None, "admin") in changes
    assert sum(change.key.startswith("nodes[") for change in changes) == 3


# --- what a plan may contact and read -----------------------------------------------------------


def access(doc: dict[str, Any] | None = None) -> ClusterAccess:
    return ClusterAccess("t", "commit 1a2b3c4d5e6f", spec(doc or good_doc()))


def test_only_the_clusters_own_nodes_at_the_trusted_ref_may_be_contacted() -> None:
    doc = good_doc()
    doc["nodes"][1]["ssh_host"] = "CMS2.Example"
    doc["nodes"][2]["ssh_port"] = 22
    assert access(doc).endpoints == {"[10.0.0.1]:2222", "[cms2.example]:2222", "10.0.0.3"}
    assert access(doc).addresses == {"10.0.0.1", "10.0.0.2", "10.0.0.3"}
    nothing = ClusterAccess("t", "commit x", None, problem="new", new=True)
    assert (nothing.endpoints, nothing.addresses) == (frozenset(), frozenset())


def test_a_usable_pin_is_one_not_every_key_of_which_is_revoked() -> None:
    pins = KnownHosts.parse(KNOWN_HOSTS, "clusters/known_hosts")
    assert pins.usable_pin("[10.0.0.1]:2222")
    assert not pins.usable_pin("10.0.0.1")  # another port: another name
    assert not pins.usable_pin("[203.0.113.66]:2222")
    revoked = KNOWN_HOSTS + f"@revoked * ssh-ed25519 {fake_host_key(1)}\n"
    assert not KnownHosts.parse(revoked, "k").usable_pin("[10.0.0.1]:2222")


def test_the_variables_a_plan_may_read_are_the_trusted_files() -> None:
    assert access().env_names == {"T_PASSWORD", "T_KEY_PASS"}
    assert ClusterAccess("t", "commit x", None, problem="new").env_names == frozenset()
