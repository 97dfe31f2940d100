"""Executor checks that need no SSH: the certs step on a node the plan thinks is Disabled."""

from __future__ import annotations

from pathlib import Path

import pytest

from reconciler.apply.executor import Executor
from reconciler.apply.journal import Journal
from reconciler.errors import ApplyFailed
from reconciler.plan.models import Action, ClusterPlan, Impact, Step, Strategy
from tests.support.fake_session import FakeSession
from tests.unit.apply.test_safety import CERTS, DESIRED

DISABLED = "Status : Disabled\nNode in use : None\n\nInterface : a\n\nCertificates\n"
ENABLED = DISABLED.replace("Disabled", "Enabled")
REFUSED = (
    "ERROR: Cannot change certificates when clustering enabled.\n"
    "Disable clustering on this node first\n"
)
STEP = Step(id=1, node="10.0.0.2", node_name="cms2", action=Action.CERTS, command=CERTS, reason="t")


def executor(session: FakeSession, tmp_path: Path) -> Executor:
    plan = ClusterPlan(
        name="lab",
        state_fingerprint="x",
        strategy=Strategy.REFORM,
        findings=[],
        steps=[STEP],
        impact=Impact(restarts=[], max_nodes_out=0, estimated_seconds=0, summary=""),
    )
    return Executor(
        plan,
        DESIRED,
        {"10.0.0.2": session},
        journal=Journal(tmp_path / "j.jsonl"),
        backup_dir=tmp_path,
    )


def test_certs_refused_as_clustered_on_a_disabled_node_says_what_to_do(tmp_path: Path) -> None:
    session = FakeSession(statuses=[DISABLED])
    session.replies[CERTS] = REFUSED
    with pytest.raises(ApplyFailed, match="run 'database cluster remove' on it by hand"):
        executor(session, tmp_path)._certs(STEP)


def test_certs_is_not_sent_to_a_node_that_is_not_disabled(tmp_path: Path) -> None:
    session = FakeSession(statuses=[ENABLED])
    with pytest.raises(ApplyFailed, match="not Disabled"):
        executor(session, tmp_path)._certs(STEP)
    assert session.commands == ["database cluster status"]


def test_without_a_backup_nothing_destructive_runs(tmp_path: Path) -> None:
    session = FakeSession(statuses=[DISABLED])
    outcome = executor(session, tmp_path).run()
    assert outcome.error is not None
    assert "before a backup" in outcome.error
    assert session.commands == []
