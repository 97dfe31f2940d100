"""Plans as ``--trusted-ref`` shapes them: the access report, and a cluster not contacted."""

from __future__ import annotations

from collections.abc import Sequence

from reconciler.addresses import canonical_address
from reconciler.desired.trust import ClusterAccess
from reconciler.plan.models import (
    AccessFieldChange,
    AccessReport,
    ClusterPlan,
    Finding,
    Impact,
    Strategy,
)


def access_report(
    access: ClusterAccess, not_contacted: Sequence[str] = (), *, pending: bool = False
) -> AccessReport:
    return AccessReport(
        trusted_ref=access.trusted_ref,
        contacted=access.contacted,
        changes=[
            AccessFieldChange(key=change.key, trusted=change.trusted, proposed=change.proposed)
            for change in access.changes
        ],
        not_contacted=list(not_contacted),
        problem=access.problem,
        pending=pending,
    )


def with_access(
    plan: ClusterPlan, access: ClusterAccess, not_contacted: Sequence[str]
) -> ClusterPlan:
    """``plan`` with its access report; ``pending`` when every error is a node the change
    adds (not a node of the cluster at the trusted ref), which only merging can let in."""
    new_nodes = {
        address for address in not_contacted if canonical_address(address) not in access.addresses
    }
    errors = plan.errors
    pending = plan.blocked and bool(errors) and all(error.node in new_nodes for error in errors)
    report = access_report(access, not_contacted, pending=pending)
    return plan.model_copy(update={"access": report})


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
        access=access_report(access, pending=access.new),
    )
