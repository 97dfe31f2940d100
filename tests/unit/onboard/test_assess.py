"""Refusal reasons: a cluster is described only when it is settled and agrees with itself."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from reconciler.onboard.assess import EXPIRED_HINT, refusals
from reconciler.onboard.reading import NodeFile, NodeReading
from tests.support.pki import CertAuthority, pem
from tests.unit.onboard.material import (
    MASTER,
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
