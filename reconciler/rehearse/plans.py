"""Rehearse a whole plan (every cluster) and guard apply against a plan that failed one."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path

from reconciler.desired.state import DesiredCluster
from reconciler.errors import Refused
from reconciler.live.models import LiveCluster
from reconciler.plan.models import ClusterPlan, Plan
from reconciler.rehearse.rehearse import rehearse_cluster


def rehearse_plan(
    plan: Plan,
    desired: Sequence[DesiredCluster],
    live: Mapping[str, LiveCluster],
    *,
    only_with_steps: bool = False,
) -> Plan:
    """``plan`` with each cluster's ``rehearsal``, run on a twin of the live read the plan
    was made from (nothing more is sent to any node). ``only_with_steps`` (apply): a cluster
    with nothing to run, or blocked, gets no rehearsal rather than an empty one."""
    by_name = {cluster.name: cluster for cluster in desired}

    def rehearsed(cluster: ClusterPlan) -> ClusterPlan:
        if only_with_steps and (not cluster.steps or cluster.blocked):
            return cluster.model_copy(update={"rehearsal": None})
        # A cluster that was not contacted (``--trusted-ref``) has no live read to rehearse on.
        if cluster.name not in by_name:
            return cluster
        rehearsal = rehearse_cluster(cluster, by_name[cluster.name], live[cluster.name])
        return cluster.model_copy(update={"rehearsal": rehearsal})

    return plan.model_copy(update={"clusters": [rehearsed(c) for c in plan.clusters]})


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
