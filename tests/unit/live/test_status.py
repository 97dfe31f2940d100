"""Judging certificates at the reading time, and the exit code of `reconcile status`."""

from __future__ import annotations

from datetime import timedelta

import pytest

from reconciler.live.health import (
    CertificateState,
    ClusterReport,
    judge_certificate,
    status_exit_code,
)
from reconciler.live.models import LiveNode
from reconciler.mmp.models import CertRole
from tests.unit.live.clusters import NOW, RENEW_BEFORE, ipv4_lab, report

DAY = timedelta(days=1)


@pytest.mark.parametrize(
    ("expires_in", "marked", "state", "days_left"),
    [
        (None, False, "unknown", None),
        (None, True, "expired", None),
        (-3556 * DAY, False, "expired", -3556),
        (-timedelta(seconds=1), False, "expired", -1),
        (timedelta(0), False, "due", 0),  # the last second of validity still counts
        (timedelta(hours=5), False, "due", 0),
        (12 * DAY + timedelta(hours=12), False, "due", 12),
        (RENEW_BEFORE, False, "due", 30),
        (RENEW_BEFORE + timedelta(seconds=1), False, "ok", 30),
        (400 * DAY, False, "ok", 400),
        (400 * DAY, True, "expired", 400),  # the node's own "(expired)" wins over our clock
    ],
)
def test_judge_certificate(
    expires_in: timedelta | None, marked: bool, state: CertificateState, days_left: int | None
) -> None:
    not_after = None if expires_in is None else NOW + expires_in
    health = judge_certificate(
        CertRole.CLIENT_CERT,
        "dbclusterclient.cer",
        not_after,
        marked_expired=marked,
        renew_before=RENEW_BEFORE,
        now=NOW,
    )
    assert (health.state, health.days_left, health.not_after) == (state, days_left, not_after)
    assert health.needs_renewal is (state in ("expired", "due"))


def test_renew_before_zero_marks_only_expired() -> None:
    health = judge_certificate(
        CertRole.CA_CERT,
        "CA.cer",
        NOW + timedelta(seconds=1),
        marked_expired=False,
        renew_before=timedelta(0),
        now=NOW,
    )
    assert health.state == "ok"


def test_only_certificates_are_judged_not_keys() -> None:
    cluster = report(ipv4_lab())
    judged = cluster.certificates(cluster.live.nodes[0])
    assert list(judged) == [CertRole.SERVER_CERT, CertRole.CLIENT_CERT, CertRole.CA_CERT]
    assert [health.state for health in judged.values()] == ["expired", "expired", "ok"]


def _healthy() -> ClusterReport:
    days = {"server_cert": 365.0, "client_cert": 365.0}
    nodes = ipv4_lab(cms1=days, cms2=days, cms3=days)
    for node in nodes:
        node.expired = ()
    return report(nodes)


def _due() -> ClusterReport:
    days = {"server_cert": 365.0, "client_cert": 365.0}
    nodes = ipv4_lab(cms1=days, cms2={**days, "ca_cert": 29.0}, cms3=days)
    for node in nodes:
        node.expired = ()
    return report(nodes)


def _expired() -> ClusterReport:
    return report(ipv4_lab())


def _down(cluster: ClusterReport) -> ClusterReport:
    first, *rest = cluster.live.nodes
    down = LiveNode(name=first.name, address=first.address, reachable=False, error="refused")
    live = cluster.live.model_copy(update={"nodes": (down, *rest)})
    return cluster.model_copy(update={"live": live})


def _files_unread(cluster: ClusterReport) -> ClusterReport:
    """Status read, but the certificate files not: the node could not be read."""
    first, *rest = cluster.live.nodes
    unread = first.model_copy(update={"files": {}, "error": "cannot read certificate files"})
    live = cluster.live.model_copy(update={"nodes": (unread, *rest)})
    return cluster.model_copy(update={"live": live})


@pytest.mark.parametrize(
    ("clusters", "code"),
    [
        ([], 0),
        ([_healthy()], 0),
        ([_due()], 2),
        ([_expired()], 2),
        ([_healthy(), _due()], 2),
        ([_down(_healthy())], 1),
        ([_down(_expired())], 1),  # a node not read wins over a certificate to renew
        ([_files_unread(_healthy())], 1),
        ([_expired(), _down(_healthy())], 1),
        ([_healthy(), _healthy()], 0),
    ],
    ids=[
        "no-cluster",
        "healthy",
        "due",
        "expired",
        "healthy+due",
        "down",
        "down+expired",
        "files-unread",
        "expired+other-down",
        "healthy+healthy",
    ],
)
def test_exit_code_matrix(clusters: list[ClusterReport], code: int) -> None:
    assert status_exit_code(clusters) == code


def test_an_unreachable_node_has_no_certificates_to_judge() -> None:
    cluster = _down(_healthy())
    assert cluster.certificates(cluster.live.nodes[0]) == {}
    assert not cluster.renewals()
