"""``reconcile --apply``: check, ask, lock, execute, verify.

Order matters for safety: the whole plan is made and checked (staleness, data authority,
approval) before the first command; each cluster is locked while it is changed; and the
result is judged by planning again, not by trusting the steps.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from reconciler.apply import lock as locking
from reconciler.apply.executor import ClusterOutcome, Executor, Progress
from reconciler.apply.journal import Journal, operator
from reconciler.apply.waits import Clock
from reconciler.errors import ReconcileError
from reconciler.live.models import MASTER_MARKER
from reconciler.mmp.session import MMPSession, Redactor
from reconciler.plan.models import Action, ClusterPlan, Plan
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


def _step_keys(plan: ClusterPlan) -> list[tuple[str, str, str]]:
    """What a step does, without the backup name (which carries the plan's time)."""
    return [
        (step.node, step.action.value, "" if step.action is Action.BACKUP else step.command)
        for step in plan.steps
    ]


def check_saved_plan(saved: Plan, fresh: Plan) -> None:
    """Refuse a plan file made from another commit, another live state or other steps."""
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
        if _step_keys(now) != _step_keys(cluster):
            raise StalePlan(
                f"the plan file's steps for cluster {cluster.name} are not what this version "
                "plans from the same state; make a new plan"
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


@contextmanager
def cluster_locks(
    run: ReconcileRun, workdir: Path, warn: Callable[[str], None] = lambda message: None
) -> Iterator[dict[str, str]]:
    """Hold every cluster's apply lock (taken before the plan is read, so nothing moves
    between planning and applying); yields the lock ids by cluster."""
    held: list[locking.ApplyLock] = []
    try:
        for cluster in run.clusters:
            session = run.pools[cluster.name].session(cluster.master.spec)
            held.append(
                locking.acquire(cluster.name, session, workdir / "locks", commit=run.desired.commit)
            )
        yield {lock.cluster: lock.lock_id for lock in held}
    finally:
        for lock in reversed(held):
            try:
                lock.release()
            except ReconcileError as error:
                warn(
                    f"cluster {lock.cluster}: could not release the apply lock ({error}); "
                    f"release it with `reconcile unlock --cluster {lock.cluster} --lock-id "
                    f"{lock.lock_id}`"
                )


def clear_markers(run: ReconcileRun, plan: Plan) -> None:
    """A converged cluster needs no evidence of its last master: drop any marker left over
    (say, when removing it failed after initialize), so it cannot mislead a later plan."""
    converged = {c.name for c in plan.clusters if not c.steps and not c.blocked}
    for cluster in run.clusters:
        live = run.live.get(cluster.name)
        if cluster.name not in converged or live is None:
            continue
        master = live.node(cluster.master.address)
        if master.master_marker is not None:
            with suppress(ReconcileError):
                run.pools[cluster.name].session(cluster.master.spec).remove_file(MASTER_MARKER)


def execute(
    run: ReconcileRun,
    plan: Plan,
    options: ApplyOptions,
    progress: Progress | None = None,
    redactor: Redactor | None = None,
    lock_ids: dict[str, str] | None = None,
) -> ApplyReport:
    """Execute every cluster's steps (the caller holds the locks), then plan again."""
    report = ApplyReport(
        started=datetime.now(UTC).isoformat(),
        git={"commit": plan.git.commit, "dirty": plan.git.dirty},
    )
    secrets = redactor or Redactor()
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
            options.workdir / "journal", cluster.name, datetime.now(UTC), secrets
        )
        journal.write(
            "apply.start",
            cluster=cluster.name,
            git=report.git,
            lock_id=(lock_ids or {}).get(cluster.name),
            **operator(),
            plan=cluster_plan.model_dump(mode="json"),
        )
        outcome = Executor(
            cluster_plan,
            cluster,
            sessions,
            journal=journal,
            backup_dir=options.workdir / "backups",
            progress=progress,
            clock=options.clock,
            redactor=secrets,
        ).run()
        report.clusters.append(outcome)
        for address, session in sessions.items():
            journal.write(
                "transcript",
                node=address,
                entries=[
                    {
                        "time": entry.time.isoformat(),
                        "direction": entry.direction,
                        "text": entry.text,
                    }
                    for entry in session.transcript
                ],
            )
        journal.write("apply.end", error=outcome.error)
        if outcome.failed:
            break
    if not any(cluster.failed for cluster in report.clusters):
        final = run.plan()
        report.final_plan = final
        report.converged = not final.has_changes and not final.blocked
        clear_markers(run, final)
    report.finished = datetime.now(UTC).isoformat()
    return report
