"""Refusal reasons: a cluster is described only when it is settled and agrees with itself."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from reconciler.onboard.assess import EXPIRED_HINT, content_refusals, outside_pem, refusals
from reconciler.onboard.reading import NodeFile, NodeReading
from tests.support.pki import CertAuthority, pem
from tests.unit.onboard.material import (
    MASTER,
    NODES,
    NodeView,
    bundle,
    healthy,
    healthy_members,
    reading,
    with_view,
)

NOW = datetime.now(UTC)


def only(reasons: list[str], fragment: str) -> str:
    matching = [reason for reason in reasons if fragment in reason]
    assert len(matching) == 1, reasons
    return matching[0]


def test_a_healthy_cluster_has_no_reason() -> None:
    assert refusals(healthy(bundle()), NOW) == []


def test_an_unread_node_is_reported_alone() -> None:
    readings = with_view(
        healthy(bundle()), 2, NodeReading("10.0.0.3", 22, error="10.0.0.3: connection refused")
    )
    assert refusals(readings, NOW) == ["10.0.0.3: connection refused"]


@pytest.mark.parametrize(
    ("status", "expected"),
    [
        ("Disabled", "is Disabled, not Enabled"),
        ("Error", "is Error, not Enabled"),
        ("Disabling (Started 19 seconds ago)", "in the middle of an operation"),
    ],
)
def test_a_node_that_is_not_enabled(status: str, expected: str) -> None:
    view = NodeView("cms2", "10.0.0.2", status=status)
    readings = with_view(healthy(bundle()), 1, reading(view, bundle()))
    reason = only(refusals(readings, NOW), expected)
    assert reason.startswith("cms2 (10.0.0.2)")


def test_a_replica_not_in_sync() -> None:
    members = tuple((a, "Connected Slave" if a == "10.0.0.3" else s) for a, s in healthy_members())
    view = NodeView("cms3", "10.0.0.3", members=members)
    readings = with_view(healthy(bundle()), 2, reading(view, bundle()))
    reasons = refusals(readings, NOW)
    assert "not a replica in sync with the master 10.0.0.1" in only(reasons, "cms3 (10.0.0.3)")
    assert not any("disagree" in reason for reason in reasons)


def test_nodes_disagreeing_on_membership_and_a_member_not_given() -> None:
    members = (*healthy_members(), ("10.0.0.4", "Connected Slave ( In Sync )"))
    view = NodeView("cms1", "10.0.0.1", members=members)
    readings = with_view(healthy(bundle()), 0, reading(view, bundle()))
    reasons = refusals(readings, NOW)
    only(reasons, "the nodes disagree on the membership")
    only(reasons, "member 10.0.0.4 was not given as --address")


def test_an_address_that_is_not_a_member() -> None:
    stranger = NodeView(
        "other",
        "10.9.9.9",
        members=(("10.9.9.9", "Connected Master"),),
        node_in_use="10.9.9.9",
    )
    readings = [*healthy(bundle()), reading(stranger, bundle())]
    reasons = refusals(readings, NOW)
    only(reasons, "--address 10.9.9.9 (other, 10.9.9.9) is not a member")
    only(reasons, "disagree on the master")


def test_two_addresses_reaching_one_node() -> None:
    readings = healthy(bundle())
    twice = reading(NodeView("cms1", "10.0.0.1"), bundle(), given="cms1.example")
    reason = only(refusals([*readings, twice], NOW), "reach the same node")
    assert "--address 10.0.0.1 and --address cms1.example" in reason


def test_no_master_when_the_master_is_disconnected() -> None:
    members = (
        ("10.0.0.1", "Disconnected"),
        ("10.0.0.2", "Connected Slave"),
        ("10.0.0.3", "Connected Slave"),
    )
    readings = [
        reading(NodeView(name, address, members=members), bundle())
        for name, address in (("cms2", "10.0.0.2"), ("cms3", "10.0.0.3"))
    ]
    readings.insert(0, reading(NodeView("cms1", "10.0.0.1"), bundle()))
    reasons = refusals(readings, NOW)
    assert any(reason.startswith("no master: cms2 (10.0.0.2), cms3") for reason in reasons)
    assert any("sees member 10.0.0.1 as 'Disconnected'" in reason for reason in reasons)


def test_node_in_use_that_is_not_the_master() -> None:
    view = NodeView("cms2", "10.0.0.2", node_in_use="10.0.0.2")
    readings = with_view(healthy(bundle()), 1, reading(view, bundle()))
    only(refusals(readings, NOW), "uses 10.0.0.2 as its database (Node in use)")


def test_expired_markers_are_said_once_per_file_with_the_hint() -> None:
    expired = {"server_cert": "tserver.cer (expired)"}
    readings = [
        reading(NodeView(r.name or "", r.given, certs=expired), bundle()) for r in healthy(bundle())
    ]
    reasons = refusals(readings, NOW)
    assert (
        "the server certificate tserver.cer is expired on cms1 (10.0.0.1), cms2 (10.0.0.2), "
        "cms3 (10.0.0.3)" in reasons
    )
    assert reasons.count(EXPIRED_HINT) == 1


def test_an_expired_file_without_a_marker_is_refused_too() -> None:
    ca = CertAuthority.make()
    old = pem(ca.cert)
    readings = healthy(bundle())
    readings[0] = reading(
        NodeView("cms1", MASTER),
        bundle(),
        files={"tca.cer": NodeFile("tca.cer", data=old, present=True)},
    )
    reasons = refusals(readings, NOW + timedelta(days=3651))
    assert any("the CA file tca.cer expired on" in reason for reason in reasons)


def test_unusable_names_are_refused_before_they_become_paths() -> None:
    traversal = {"ca_cert": "..evil"}
    readings = with_view(
        healthy(bundle()), 1, reading(NodeView("cms2", "10.0.0.2", certs=traversal), bundle())
    )
    readings[2] = NodeReading(readings[2].given, 22, "-cms3", readings[2].status, readings[2].files)
    reasons = refusals(readings, NOW)
    assert any("the file name '..evil' of its CA file" in reason for reason in reasons)
    assert any("its MMP hostname '-cms3' cannot be a node name" in reason for reason in reasons)


def test_a_missing_certificate_line() -> None:
    readings = healthy(bundle())
    status = readings[0].status
    assert status is not None
    stripped = status.model_copy(
        update={"certificates": status.certificates.model_copy(update={"client_key": None})}
    )
    readings[0] = NodeReading("10.0.0.1", 22, "cms1", stripped, readings[0].files)
    only(refusals(readings, NOW), "shows no client key in its status")


# --- text outside the PEM blocks (issue 23, item 4) ------------------------------------------


def test_blank_space_around_pem_blocks_is_not_text() -> None:
    device = bundle()
    assert content_refusals(healthy(device)) == []
    cert = device.files["tserver.cer"]
    assert outside_pem(b"\n\r\n " + cert + b"\n\n" + cert + b"\n  \n", "x.cer", key=False) is None


@pytest.mark.parametrize(
    ("data", "count", "where"),
    [
        (b"Bag Attributes\n{cert}", 14, "before its first PEM block"),
        (b"{cert}subject=CN=x\n{cert}", 12, "between PEM blocks"),
        (b"{cert}\x00\x01junk\n", 6, "after its last PEM block"),
        (b"a{cert}b", 2, "before its first PEM block and after its last PEM block"),
    ],
)
def test_text_outside_pem_blocks_is_counted_and_placed(data: bytes, count: int, where: str) -> None:
    cert = bundle().files["tserver.cer"]
    said = outside_pem(data.replace(b"{cert}", cert), "x.cer", key=False)
    assert said == f"holds {count:,} bytes of other text {where}"


def test_a_file_with_junk_is_refused_once_naming_every_node_and_what_to_do() -> None:
    device = bundle()
    junk = device.files["tclient.key"] + b"trailing junk\n"
    files = {
        "cms1": NodeFile("tclient.key", junk, True),
        "cms2": NodeFile("tclient.key", junk, True),
        "cms3": NodeFile("tclient.key", refused="SFTP refused it"),
    }
    readings = [
        reading(NodeView(name, address), device, files={"tclient.key": files[name]})
        for name, address in NODES
    ]
    reasons = content_refusals(readings)
    assert reasons[0] == (
        "the client key tclient.key holds 13 bytes of other text after its last PEM block, "
        "on cms1 (10.0.0.1), cms2 (10.0.0.2)"
    )
    assert "only the PEM block(s)" in reasons[1]
    assert len(reasons) == 2


# --- an expired cluster: what to do, not what cannot happen (issue 23, item 9) ------------------


def test_an_expired_cluster_is_not_told_to_wait_for_in_sync() -> None:
    """The seed lab: certificates expired, replicas Enabled but not in sync. They never will
    be, so the refusal says why not and what to do instead, once, at the end."""
    expired = {"server_cert": "tserver.cer (expired)", "client_cert": "tclient.cer (expired)"}
    behind = tuple(
        (address, "Connected Slave" if address != MASTER else state)
        for address, state in healthy_members()
    )
    readings = [
        reading(NodeView(name, address, certs=expired, members=behind), bundle())
        for name, address in NODES
    ]
    reasons = refusals(readings, NOW)
    assert not any("wait until it is In Sync" in reason for reason in reasons), reasons
    replica = only(reasons, "cms2 (10.0.0.2) is not a replica in sync")
    assert replica.endswith(
        "(it shows 'Connected Slave'); it cannot get In Sync while the certificates are expired"
    )
    assert reasons[-1] == EXPIRED_HINT
    assert "write its cluster file by hand with the new bundle" in EXPIRED_HINT
    assert 'README "Use it on your cluster", step 2' in EXPIRED_HINT


def test_a_replica_behind_in_a_valid_cluster_may_still_catch_up() -> None:
    members = tuple((a, "Connected Slave" if a == "10.0.0.3" else s) for a, s in healthy_members())
    view = NodeView("cms3", "10.0.0.3", members=members)
    readings = with_view(healthy(bundle()), 2, reading(view, bundle()))
    assert only(refusals(readings, NOW), "cms3 (10.0.0.3)").endswith("wait until it is In Sync")
