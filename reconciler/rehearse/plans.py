"""Rehearse a whole plan (every cluster) and guard apply against a plan that failed one."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path

from reconciler.desired.state import DesiredCluster
from reconciler.errors import Refused
from reconciler.live.models import LiveCluster
from reconciler.plan.models import Plan
from reconciler.rehearse.rehearse import rehearse_cluster


def rehearse_plan(
    plan: Plan, desired: Sequence[DesiredCluster], live: Mapping[str, LiveCluster]
) -> Plan:
    """``plan`` with each cluster's ``rehearsal``, run on a twin of the live read the plan
    was made from (nothing more is sent to any node)."""
    by_name = {cluster.name: cluster for cluster in desired}
    clusters = [
        cluster.model_copy(
            update={
                "rehearsal": rehearse_cluster(cluster, by_name[cluster.name], live[cluster.name])
            }
        )
        # A cluster that was not contacted (``--trusted-ref``) has no live read to rehearse on.
        if cluster.name in by_name
        else cluster
        for cluster in plan.clusters
    ]
    return plan.model_copy(update={"clusters": clusters})


def refuse_failed_rehearsal(saved: Plan, source: Path | str) -> None:
    """A saved plan that did not converge on its twin is not applied (checked before any
    node is contacted)."""
    for cluster in saved.clusters:
        rehearsal = cluster.rehearsal
        if rehearsal is not None and not rehearsal.converges:
            raise Refused(
                f"the plan file {source} failed its rehearsal for cluster {cluster.name} "
                f"({rehearsal.problem or 'it did not converge on its twin'}); apply refuses a "
                "plan that did not converge on a twin of the cluster: fix the cause, then make "
                "a new plan with `reconcile plan --rehearse --out FILE`"
            )
