"""Apply rehearses the plan it is about to run, itself, before its first command.

A saved plan's own ``rehearsal`` is a claim anyone who can edit the file can change (or
delete), so apply never trusts it: the plan apply runs is made again from the live read
under the apply lock, and that plan is rehearsed on a twin of that read
(``reconciler.rehearse``, what ``plan --rehearse`` runs), every time, with or without
``--plan-file``. A cluster whose plan does not converge on its twin stops the apply before
anything is sent. ``--skip-rehearsal`` is for the operator who knows better (the twin
cannot model everything: docs/design.md, "Rehearsal on a twin"); the journal records it.
"""

from __future__ import annotations

from reconciler.errors import Refused
from reconciler.plan.models import ClusterPlan, Plan, Rehearsal
from reconciler.rehearse.plans import rehearse_plan
from reconciler.run import Fleet


def rehearse_for_apply(plan: Plan, fleet: Fleet) -> Plan:
    """``plan`` with a fresh rehearsal of every cluster that has steps, on a twin of the
    live read ``fleet`` made it from (nothing more is sent to any node)."""
    return rehearse_plan(plan, fleet.clusters, fleet.live, only_with_steps=True)


def refuse_unrehearsed(plan: Plan) -> None:
    """Refuse, in one line naming the cluster and where its twin stopped, a plan with a
    cluster whose steps did not converge on its twin (or were not rehearsed at all)."""
    for cluster in plan.clusters:
        if not cluster.steps:
            continue
        rehearsal = cluster.rehearsal
        if rehearsal is None:
            raise Refused(
                f"cluster {cluster.name}: its plan was not rehearsed on a twin; nothing was "
                "sent (apply anyway with --skip-rehearsal)"
            )
        if not rehearsal.converges:
            raise Refused(
                f"cluster {cluster.name}: the plan does not converge on a twin of the live "
                f"cluster ({twin_stopped(cluster, rehearsal)}), so nothing was sent; fix the "
                "cause and plan again, or apply anyway with --skip-rehearsal"
            )


def twin_stopped(cluster: ClusterPlan, rehearsal: Rehearsal) -> str:
    """Where the twin stopped, and why, in one line: ``the twin stopped at step 26 of 27:
    step 26 (join) on cms2 (...) failed: ...``."""
    problem = (rehearsal.problem or "it did not converge").splitlines()[0].strip()
    total = len(cluster.steps)
    if rehearsal.steps_run == 0:
        where = "the twin stopped before its first step"
    elif rehearsal.steps_run >= total and problem.startswith("planning again"):
        where = f"the twin ran all {total} steps"
    else:
        step = cluster.steps[min(rehearsal.steps_run, total) - 1]
        where = f"the twin stopped at step {step.id} of {total}"
    return f"{where}: {problem}"
