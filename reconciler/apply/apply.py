"""``reconcile --apply``: check, ask, lock, execute, verify.

Order matters for safety: the whole plan is made and checked (staleness, data authority,
approval) before the first command; each cluster is locked while it is changed; and the
result is judged by planning again, not by trusting the steps.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from reconciler.apply import lock as locking
from reconciler.apply.executor import ClusterOutcome, Executor, Progress
from reconciler.apply.journal import Journal, operator
from reconciler.apply.waits import Clock
from reconciler.errors import ReconcileError
from reconciler.mmp.session import MMPSession, Redactor
from reconciler.plan.models import Plan
from reconciler.run import ReconcileRun


class StalePlan(ReconcileError):
    """A saved plan no longer describes the desired commit or the live state."""


class Refused(ReconcileError):
    """Apply will not start (dirty tree, master change without the flag, no approval)."""


@dataclass(frozen=True)
class ApplyOptions:
    workdir: Path  # .reconcile/ of the repository: journal/, backups/, locks/
    allow_master_change: bool = False
    clock: Clock | None = None


@dataclass
class ApplyReport:
    started: str
    finished: str = ""
    git: dict[str, Any] = field(default_factory=dict)
    clusters: list[ClusterOutcome] = field(default_factory=list)
    converged: bool = False
    final_plan: Plan | None = None

    @property
    def failed(self) -> bool:
        return any(cluster.failed for cluster in self.clusters) or not self.converged

    def as_json(self) -> dict[str, Any]:
        return {
            "started": self.started,
            "finished": self.finished,
            "git": self.git,
            "converged": self.converged,
            "clusters": [
                {
                    "name": cluster.name,
                    "journal": cluster.journal,
                    "error": cluster.error,
                    "backups": cluster.backups,
                    "steps": [vars(step) for step in cluster.steps],
                }
                for cluster in self.clusters
            ],
        }


def check_saved_plan(saved: Plan, fresh: Plan) -> None:
    """Refuse a plan file made from another commit or another live state."""
    if saved.git.commit != fresh.git.commit:
        raise StalePlan(
            f"plan is stale: it was made from commit {saved.git.commit or 'none'}, the desired "
            f"state is now {fresh.git.commit or 'none'}; make a new plan"
        )
    fresh_by_name = {cluster.name: cluster for cluster in fresh.clusters}
    for cluster in saved.clusters:
        now = fresh_by_name.get(cluster.name)
        if now is None:
            raise StalePlan(f"plan is stale: cluster {cluster.name} is not in this run")
        if now.state_fingerprint != cluster.state_fingerprint:
            raise StalePlan(
                f"plan is stale: the live state of cluster {cluster.name} changed since the plan "
                "was made; make a new plan"
            )


def check_authority(plan: Plan, allow_master_change: bool) -> None:
    if allow_master_change:
        return
    for cluster in plan.clusters:
        authority = cluster.data_authority
        if cluster.steps and authority is not None and authority.master_change:
            raise Refused(
                f"cluster {cluster.name}: {authority.statement}. Apply refuses to change "
                "whose data the cluster runs on without --allow-master-change"
            )


def execute(
    run: ReconcileRun,
    plan: Plan,
    options: ApplyOptions,
    progress: Progress | None = None,
    redactor: Redactor | None = None,
) -> ApplyReport:
    """Execute every cluster's steps (each under its lock), then plan again to verify."""
    report = ApplyReport(
        started=datetime.now(UTC).isoformat(),
        git={"commit": plan.git.commit, "dirty": plan.git.dirty},
    )
    desired = {cluster.name: cluster for cluster in run.clusters}
    for cluster_plan in plan.clusters:
        if not cluster_plan.steps:
            continue
        cluster = desired[cluster_plan.name]
        pool = run.pools[cluster.name]
        sessions: dict[str, MMPSession] = {
            node.address: pool.session(node.spec) for node in cluster.nodes
        }
        for step in cluster_plan.steps:
            if step.node not in sessions:
                sessions[step.node] = pool.member_session(step.node)
        journal = Journal.create(
            options.workdir / "journal", cluster.name, datetime.now(UTC), redactor or Redactor()
        )
        journal.write(
            "apply.start",
            cluster=cluster.name,
            git=report.git,
            **operator(),
            plan=cluster_plan.model_dump(mode="json"),
        )
        lock = locking.acquire(
            cluster.name,
            sessions[cluster.master.address],
            options.workdir / "locks",
            commit=plan.git.commit,
        )
        journal.write("lock.acquired", lock_id=lock.lock_id)
        try:
            outcome = Executor(
                cluster_plan,
                cluster,
                sessions,
                journal=journal,
                backup_dir=options.workdir / "backups",
                progress=progress,
                clock=options.clock,
            ).run()
        finally:
            try:
                lock.release()
                journal.write("lock.released", lock_id=lock.lock_id)
            except ReconcileError as error:
                journal.write("lock.release_failed", error=str(error))
        report.clusters.append(outcome)
        journal.write("apply.end", error=outcome.error)
        if outcome.failed:
            break
    if not any(cluster.failed for cluster in report.clusters):
        final = run.plan()
        report.final_plan = final
        report.converged = not final.has_changes and not final.blocked
    report.finished = datetime.now(UTC).isoformat()
    return report


Confirm = Callable[[str], bool]
