"""Plans as ``--trusted-ref`` shapes them: the access report, and a cluster not contacted."""

from __future__ import annotations

from collections.abc import Sequence

from reconciler.desired.trust import ClusterAccess
from reconciler.plan.models import (
    AccessFieldChange,
    AccessReport,
    ClusterPlan,
    Finding,
    Impact,
    Strategy,
)


def access_report(access: ClusterAccess, not_contacted: Sequence[str] = ()) -> AccessReport:
    return AccessReport(
        trusted_ref=access.trusted_ref,
        contacted=access.contacted,
        changes=[
            AccessFieldChange(key=change.key, trusted=change.trusted, proposed=change.proposed)
            for change in access.changes
        ],
        not_contacted=list(not_contacted),
        problem=access.problem,
    )


def not_contacted_plan(access: ClusterAccess) -> ClusterPlan:
    """A blocked plan for a cluster with no trusted access: nothing was read or sent."""
    problem = access.problem or "no trusted access"
    return ClusterPlan(
        name=access.name,
        state_fingerprint="",
        strategy=Strategy.NONE,
        findings=[
            Finding(
                node=None,
                what="access",
                live="",
                desired="",
                severity="error",
                message=f"not contacted: {problem}",
            )
        ],
        steps=[],
        impact=Impact(restarts=[], max_nodes_out=0, estimated_seconds=0, summary="blocked"),
        blocked=True,
        access=access_report(access),
    )
