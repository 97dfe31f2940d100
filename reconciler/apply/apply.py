"""``reconcile --apply``: check, ask, lock, execute, verify.

Order matters for safety: the whole plan is made and checked (staleness, data authority,
approval) before the first command; each cluster is locked while it is changed; and the
result is judged by planning again, not by trusting the steps.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict

from reconciler.addresses import canonical_address
from reconciler.apply import lock as locking
from reconciler.apply.executor import ClusterOutcome, Executor, Progress
from reconciler.apply.journal import Journal, operator
from reconciler.apply.waits import Clock
from reconciler.errors import (
    ApplyInterrupted as ApplyInterrupted,  # re-exported: cli.py imports it here
)
from reconciler.errors import ReconcileError, Refused, StalePlan
from reconciler.live.models import MASTER_MARKER
from reconciler.mmp.session import MMPSession, Redactor
from reconciler.plan.models import GitInfo, Plan, Step
from reconciler.run import ReconcileRun


@dataclass(frozen=True)
class ApplyOptions:
    workdir: Path  # .reconcile/ of the repository: journal/, backups/, locks/
    allow_master_change: bool = False
    clock: Clock | None = None


class ApplyReport(BaseModel):
    """What ``--apply`` did: the JSON output (``as_json``) and what the renderers read."""

    model_config = ConfigDict(extra="forbid")

    started: str
    finished: str = ""
    git: GitInfo = GitInfo(commit=None, dirty=False)
    converged: bool = False
    clusters: list[ClusterOutcome] = []
    final_plan: Plan | None = None

    @property
    def failed(self) -> bool:
        return any(cluster.failed for cluster in self.clusters) or not self.converged

    def as_json(self) -> dict[str, Any]:
        return self.model_dump(mode="json", exclude={"final_plan"})


def _step_difference(saved: list[Step], fresh: list[Step]) -> str | None:
    """The first way the saved steps differ from the fresh ones, said for a person. Every
    field counts, the backup name too: the fresh plan names its backups after the saved
    plan's ``created_at``, so an unedited file matches exactly."""
    for old, new in zip(saved, fresh, strict=False):
        before, after = old.model_dump(mode="json"), new.model_dump(mode="json")
        for key in sorted(before.keys() | after.keys()):
            if before.get(key) != after.get(key):
                return (
                    f"step {old.id} differs in {key}: the file has {before.get(key)!r}, this "
                    f"run plans {after.get(key)!r}"
                )
    if len(saved) != len(fresh):
        return f"the file has {len(saved)} steps, this run plans {len(fresh)}"
    return None


def check_saved_plan(saved: Plan, fresh: Plan) -> None:
    """Apply exactly what the file holds: the same commit, the same clusters, the same live
    state and, field by field, the same steps; anything else is refused."""
    if saved.git.commit != fresh.git.commit:
        raise StalePlan(
            f"plan is stale: it was made from commit {saved.git.commit or 'none'}, the desired "
            f"state is now {fresh.git.commit or 'none'}; make a new plan"
        )
    saved_by_name = {cluster.name: cluster for cluster in saved.clusters}
    unreviewed = [cluster.name for cluster in fresh.clusters if cluster.name not in saved_by_name]
    if unreviewed:
        raise StalePlan(
            f"the plan file does not hold cluster {', '.join(unreviewed)}, which this run "
            "would change unreviewed; apply only the clusters it holds (or make a new plan)"
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
        difference = _step_difference(cluster.steps, now.steps)
        for what in ("strategy", "data_authority", "blocked"):
            if difference is None and getattr(cluster, what) != getattr(now, what):
                difference = f"its {what} differs"
        if difference is not None:
            raise StalePlan(
                f"the plan file's steps for cluster {cluster.name} are not what this version "
                f"plans from the same state ({difference}); make a new plan"
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


class ClusterLocks:
    """Every cluster's apply lock, held for the whole apply."""

    def __init__(self, run: ReconcileRun, locks: list[locking.ClusterLock]) -> None:
        self._run = run
        self._locks = {lock.cluster: lock for lock in locks}

    @property
    def ids(self) -> dict[str, str]:
        return {name: lock.lock_id for name, lock in self._locks.items()}

    def cover(self, plan: Plan) -> None:
        """Also lock the live members a plan touches that the cluster file does not list
        (members to drop): the lock must cover every node the apply may change."""
        for cluster in plan.clusters:
            lock = self._locks[cluster.name]
            pool = self._run.pools[cluster.name]
            known = {canonical_address(address) for address, _ in lock.nodes}
            extra = sorted(
                {step.node for step in cluster.steps if canonical_address(step.node) not in known}
            )
            lock.extend([(address, pool.member_session(address)) for address in extra])


@contextmanager
def cluster_locks(
    run: ReconcileRun, workdir: Path, warn: Callable[[str], None] = lambda message: None
) -> Iterator[ClusterLocks]:
    """Hold every cluster's apply lock on every node its file lists (taken before the plan
    is read, so nothing moves between planning and applying); all or none."""
    held: list[locking.ClusterLock] = []
    reopen = {cluster.name: run.pools[cluster.name].reopen for cluster in run.clusters}
    try:
        for cluster in sorted(run.clusters, key=lambda item: item.name):
            pool = run.pools[cluster.name]
            targets = [(node.address, pool.session(node.spec)) for node in cluster.nodes]
            held.append(
                locking.acquire(cluster.name, targets, workdir / "locks", commit=run.desired.commit)
            )
        yield ClusterLocks(run, held)
    finally:
        for lock in reversed(held):
            try:
                problems = lock.release(reopen=reopen[lock.cluster])
            except (ReconcileError, OSError) as error:
                problems = [str(error)]
            if problems:
                warn(
                    f"cluster {lock.cluster}: could not release the apply lock on "
                    + "; ".join(problems)
                    + f"; release it with `{locking.unlock_command(lock.cluster, lock.lock_id)}`"
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


def _write_transcripts(journal: Journal, sessions: dict[str, MMPSession]) -> None:
    for address, session in sessions.items():
        journal.write(
            "transcript",
            node=address,
            entries=[
                {"time": entry.time.isoformat(), "direction": entry.direction, "text": entry.text}
                for entry in session.transcript
            ],
        )


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
        git=plan.git,
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
            git=report.git.model_dump(mode="json"),
            lock_id=(lock_ids or {}).get(cluster.name),
            **operator(),
            plan=cluster_plan.model_dump(mode="json"),
        )
        executor = Executor(
            cluster_plan,
            cluster,
            sessions,
            journal=journal,
            backup_dir=options.workdir / "backups",
            progress=progress,
            clock=options.clock,
            redactor=secrets,
        )
        try:
            outcome = executor.run()
        except KeyboardInterrupt:
            _write_transcripts(journal, sessions)
            stopped_at = executor.current_step
            journal.write(
                "apply.end",
                interrupted=True,
                step=stopped_at.id if stopped_at else None,
                error="interrupted",
            )
            raise ApplyInterrupted(cluster.name, stopped_at, journal.path) from None
        report.clusters.append(outcome)
        _write_transcripts(journal, sessions)
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
