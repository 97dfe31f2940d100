"""Where each planned cluster ended after apply: the one verdict text, JSON and markdown give.

Every cluster of the plan gets a result, also those apply never reached, so an output never
leaves a cluster out:

- ``converged``: planned again after apply (the clusters that had nothing to do too), and
  that plan is empty;
- ``not converged``: every step was done, but the plan made after apply still has steps or
  is blocked;
- ``failed``: a step failed (``step`` is its number) or the executor refused before the first
  one (``step`` is ``None``); nothing after it was sent;
- ``interrupted``: Ctrl-C or SIGTERM stopped it: at the step that was running (sent; the node
  may still be carrying it out), or after the last step done (``step`` is that one), or
  before its first step (``step`` is ``None``);
- ``not verified``: nothing failed, but apply was interrupted before planning again, so no
  one has checked it;
- ``not started``: it had steps, and apply stopped (another cluster failed or apply was
  interrupted) before it began: nothing was sent to it;
- ``deferred``: it had steps that take something serving out of service, and its
  maintenance window is closed (or too short for the plan): nothing was sent to it
  (``apply.window_gate``). A cluster run outside its window by ``--ignore-window`` keeps its
  result, and ``window`` says so.

``summary`` is the result in words, with its step: ``failed at step 4``, ``interrupted at
step 9``, ``interrupted after step 8``, ``not started``.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Literal

from pydantic import BaseModel, ConfigDict

from reconciler.apply.executor import ClusterOutcome
from reconciler.apply.window_gate import WindowGate
from reconciler.plan.models import ClusterPlan, Plan

Result = Literal[
    "converged",
    "not converged",
    "failed",
    "interrupted",
    "not verified",
    "not started",
    "deferred",
]


class ClusterResult(BaseModel):
    """One planned cluster's verdict (see the module)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    name: str
    result: Result
    step: int | None = None
    summary: str
    window: str | None = None  # run outside its maintenance window (--ignore-window): why


def judge(
    plan: Plan,
    outcomes: Sequence[ClusterOutcome],
    final: Plan | None,
    window: WindowGate | None = None,
) -> list[ClusterResult]:
    """Every cluster of ``plan``, in its order: what its ``outcomes`` (the clusters apply
    ran), ``final`` (the plan made after apply, of the clusters it covers) and ``window``
    (the clusters deferred or run outside their window) say."""
    ran = {outcome.name: outcome for outcome in outcomes}
    after = {cluster.name: cluster for cluster in final.clusters} if final is not None else {}
    window = window or WindowGate()
    results = []
    for cluster in plan.clusters:
        deferred = window.deferred.get(cluster.name)
        if deferred is not None and cluster.name not in ran:
            results.append(ClusterResult(name=cluster.name, result="deferred", summary=deferred))
            continue
        result = _judge(cluster, ran.get(cluster.name), after.get(cluster.name))
        ignored = window.ignored.get(cluster.name)
        if ignored is not None:
            result = result.model_copy(update={"window": ignored.text()})
        results.append(result)
    return results


def _judge(
    cluster: ClusterPlan, outcome: ClusterOutcome | None, after: ClusterPlan | None
) -> ClusterResult:
    name = cluster.name
    if outcome is None and cluster.steps:
        return ClusterResult(name=name, result="not started", summary="not started")
    if outcome is not None and outcome.interrupted:
        running = next((step for step in outcome.steps if step.state == "interrupted"), None)
        done = [step for step in outcome.steps if step.state == "done"]
        if running is not None:
            return _at(name, "interrupted", running.id, f"interrupted at step {running.id}")
        if done:
            return _at(name, "interrupted", done[-1].id, f"interrupted after step {done[-1].id}")
        return _at(name, "interrupted", None, "interrupted before its first step")
    if outcome is not None and outcome.failed:
        broken = next((step for step in outcome.steps if step.state == "failed"), None)
        if broken is not None:
            return _at(name, "failed", broken.id, f"failed at step {broken.id}")
        return _at(name, "failed", None, "failed before its first step")
    if after is None:
        return ClusterResult(name=name, result="not verified", summary="not verified")
    if after.steps or after.blocked:
        return ClusterResult(name=name, result="not converged", summary="not converged")
    return ClusterResult(name=name, result="converged", summary="converged")


def _at(name: str, result: Result, step: int | None, summary: str) -> ClusterResult:
    return ClusterResult(name=name, result=result, step=step, summary=summary)
