"""The models are frozen, refuse unknown keys, and round-trip through their JSON."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from reconciler.mmp.models import ClusterStatus, Member, MemberRole
from reconciler.mmp.parsers import parse_cluster_status

TEXT = "Status : Enabled\nNodes:\n10.0.0.1 (me) : Connected Master\nNode in use : 10.0.0.1\n"


def test_frozen() -> None:
    status = parse_cluster_status(TEXT)
    with pytest.raises(ValidationError):
        status.state = "Disabled"  # type: ignore[misc]


def test_round_trip_with_computed_fields() -> None:
    status = parse_cluster_status(TEXT)
    dumped = status.model_dump(mode="json")
    assert (dumped["role"], dumped["in_sync"], dumped["master_address"]) == (
        "master",
        None,
        "10.0.0.1",
    )
    assert ClusterStatus.model_validate(dumped) == status


def test_unknown_keys_refused() -> None:
    dumped = parse_cluster_status(TEXT).model_dump(mode="json")
    with pytest.raises(ValidationError, match="extra"):
        ClusterStatus.model_validate({**dumped, "rol": "master"})


def test_member_values() -> None:
    member = Member(
        address="10.0.0.1", me=False, state="Disconnected", connected=False, role=None, in_sync=None
    )
    assert member.role is None
    assert MemberRole("master") is MemberRole.MASTER
