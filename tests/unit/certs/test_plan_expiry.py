"""The plan (and so the pull-request comment) says when the certificates in use end."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import yaml

from reconciler.live.models import LiveCluster
from reconciler.plan.planner import plan_cluster
from tests.support.lab import REPO
from tests.support.planning import NOW, desired_cluster, live_cluster

ENDS = datetime(2027, 1, 15, 12, 0, tzinfo=UTC)


def rotation(expired: bool) -> dict[str, str]:
    """Live text of the server_cert finding per node, for a same-name rotation."""
    data: dict[str, Any] = yaml.safe_load(
        (REPO / "tests" / "plans" / "03-same-ca-rotation.yaml").read_text()
    )
    if expired:
        for node in data["live"]["nodes"].values():
            node["expired"] = ["server_cert"]
    desired = desired_cluster(data["desired"])
    live = live_cluster(data["live"], desired)
    dated = LiveCluster(
        name=live.name,
        read_at=live.read_at,
        nodes=tuple(
            node.model_copy(
                update={
                    "files": {
                        name: file.model_copy(update={"not_after": ENDS})
                        if name == "dbserver.cer"
                        else file
                        for name, file in node.files.items()
                    }
                }
            )
            for node in live.nodes
        ),
    )
    plan = plan_cluster(desired, dated, now=NOW)
    return {
        finding.node or "": finding.live
        for finding in plan.findings
        if finding.what == "server_cert"
    }


def test_a_certificate_in_use_shows_when_it_ends() -> None:
    assert set(rotation(expired=False).values()) == {
        "dbserver.cer (other content, valid until 2027-01-15)"
    }


def test_an_expired_one_shows_since_when() -> None:
    assert set(rotation(expired=True).values()) == {"dbserver.cer (expired 2027-01-15)"}


def test_without_a_known_expiry_nothing_is_added() -> None:
    data: dict[str, Any] = yaml.safe_load(
        (REPO / "tests" / "plans" / "03-same-ca-rotation.yaml").read_text()
    )
    desired = desired_cluster(data["desired"])
    plan = plan_cluster(desired, live_cluster(data["live"], desired), now=NOW)
    lives = {finding.live for finding in plan.findings if finding.what == "server_cert"}
    assert lives == {"dbserver.cer (other content)"}
