"""``reconcile --apply``: check, ask, lock, execute, verify.

Order matters for safety: the whole plan is made and checked (staleness, data authority,
approval) before the first command; each cluster is locked while it is changed; and the
result is judged by planning again, not by trusting the steps.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor, wait
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict

from reconciler.addresses import canonical_address
from reconciler.apply import lock as locking
from reconciler.apply.executor import ClusterOutcome, Executor, Progress
from reconciler.apply.journal import Journal, operator
from reconciler.apply.results import ClusterResult, judge
from reconciler.apply.supervised import Gate
from reconciler.apply.waits import Clock
from reconciler.apply.window_gate import Ignored, WindowGate
from reconciler.connect import SessionPool
from reconciler.desired.state import DesiredCluster
from reconciler.errors import ApplyInterrupted, ReconcileError, Refused, StalePlan
from reconciler.live.models import MASTER_MARKER
from reconciler.mmp.session import MMPSession, Redactor
from reconciler.plan.models import ClusterPlan, GitInfo, Plan, Step
from reconciler.run import Fleet


@dataclass(frozen=True)
class ApplyOptions:
    workdir: Path  # .reconcile/ of the repository: journal/, backups/, locks/
    allow_master_change: bool = False
    clock: Clock | None = None
    parallelism: int = 1  # clusters applied at once
    rehearsal_skipped: bool = False  # --skip-rehearsal: recorded in every journal
    gate: Gate | None = None  # --step: asked before each step that changes a node
    window: WindowGate = field(default_factory=WindowGate)  # deferred clusters are not run


class ApplyReport(BaseModel):
    """What ``--apply`` did: the JSON output (``as_json``) and what the renderers read.

    ``clusters`` holds the outcome of each cluster apply ran; ``results`` the verdict on every
    cluster of the plan (``apply.results``), ran or not. In the JSON, ``clusters`` lists every
    planned cluster: its ``result``, ``step`` and ``summary``, then its outcome: ``journal``,
    ``error``, ``backups`` (``executor.BackupRecord``), ``outage`` (measured:
    ``apply.outage``) and ``steps``; ``null``, ``null``, ``[]``, ``null``, ``[]`` for one
    that was not started or had nothing to do."""

    model_config = ConfigDict(extra="forbid")

    started: str
    finished: str = ""
    git: GitInfo = GitInfo(commit=None, dirty=False)
    converged: bool = False
    rehearsal_skipped: bool = False
    clusters: list[ClusterOutcome] = []
    results: list[ClusterResult] = []
    final_plan: Plan | None = None

    @property
    def failed(self) -> bool:
        """A cluster failed, or one apply ran (or that had nothing to do) is not converged;
        a cluster deferred by its maintenance window is neither."""
        if any(cluster.failed for cluster in self.clusters):
            return True
        if self.results:
            return any(result.result not in ("converged", "deferred") for result in self.results)
        return not self.converged

    @property
    def deferred(self) -> list[str]:
        """The clusters not run because their maintenance window is closed (exit 3)."""
        return [result.name for result in self.results if result.result == "deferred"]

    def as_json(self) -> dict[str, Any]:
        data = self.model_dump(mode="json", exclude={"final_plan", "results"})
        if self.results:
            ran = {cluster["name"]: cluster for cluster in data["clusters"]}
            data["clusters"] = [
                {**result.model_dump(mode="json"), **ran.get(result.name, _NOT_STARTED)}
                for result in self.results
            ]
        return data


_NOT_STARTED: dict[str, Any] = {
    "journal": None,
    "error": None,
    "backups": [],
    "outage": None,
    "steps": [],
}


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


def step_session(pool: SessionPool, cluster: DesiredCluster, address: str) -> MMPSession:
    """The session for a step's node that the cluster file does not list as a node: a
    connected call bridge (reached as its entry says) or a live member to drop."""
    bridge = cluster.bridge(address)
    return pool.session(bridge) if bridge is not None else pool.member_session(address)


class ClusterLocks:
    """Every cluster's apply lock, held for the whole apply."""

    def __init__(self, fleet: Fleet, locks: list[locking.ClusterLock]) -> None:
        self._fleet = fleet
        self._locks = {lock.cluster: lock for lock in locks}

    @property
    def ids(self) -> dict[str, str]:
        return {name: lock.lock_id for name, lock in self._locks.items()}

    def cover(self, plan: Plan) -> None:
        """Also lock the live members a plan touches that the cluster file does not list
        (members to drop): the lock must cover every node the apply may change."""
        for cluster in plan.clusters:
            lock = self._locks[cluster.name]
            pool = self._fleet.pools[cluster.name]
            known = {canonical_address(address) for address, _ in lock.nodes}
            extra = sorted(
                {step.node for step in cluster.steps if canonical_address(step.node) not in known}
            )
            desired = next(c for c in self._fleet.clusters if c.name == cluster.name)
            lock.extend([(address, step_session(pool, desired, address)) for address in extra])


@contextmanager
def cluster_locks(
    fleet: Fleet, workdir: Path, warn: Callable[[str], None] = lambda message: None
) -> Iterator[ClusterLocks]:
    """Hold every cluster's apply lock on every node its file lists (taken before the plan
    is read, so nothing moves between planning and applying); all or none."""
    held: list[locking.ClusterLock] = []
    reopen = {cluster.name: fleet.pools[cluster.name].reopen for cluster in fleet.clusters}
    try:
        for cluster in sorted(fleet.clusters, key=lambda item: item.name):
            pool = fleet.pools[cluster.name]
            targets = [(node.address, pool.session(node.spec)) for node in cluster.nodes]
            held.append(
                locking.acquire(
                    cluster.name, targets, workdir / "locks", commit=fleet.desired.commit
                )
            )
        yield ClusterLocks(fleet, held)
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


def clear_markers(fleet: Fleet, plan: Plan) -> None:
    """A converged cluster needs no evidence of its last master: drop any marker left over
    (say, when removing it failed after initialize), so it cannot mislead a later plan."""
    converged = {c.name for c in plan.clusters if not c.steps and not c.blocked}
    for cluster in fleet.clusters:
        live = fleet.live.get(cluster.name)
        if cluster.name not in converged or live is None:
            continue
        master = live.node(cluster.master.address)
        if master.master_marker is not None:
            with suppress(ReconcileError):
                fleet.pools[cluster.name].session(cluster.master.spec).remove_file(MASTER_MARKER)


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


def _window_record(ignored: Ignored | None) -> dict[str, Any]:
    """The journal's record of a cluster run outside its window (``--ignore-window``)."""
    if ignored is None:
        return {}
    return {"window_ignored": {"reason": ignored.reason, "window": ignored.window}}


class _ClusterApply:
    """Applies one cluster's plan: sessions, journal, executor, transcripts."""

    def __init__(
        self,
        fleet: Fleet,
        options: ApplyOptions,
        progress: Progress | None,
        secrets: Redactor,
        lock_ids: dict[str, str],
        git: GitInfo,
    ) -> None:
        self.fleet = fleet
        self.options = options
        self.progress = progress
        self.secrets = secrets
        self.lock_ids = lock_ids
        self.git = git
        self.desired = {cluster.name: cluster for cluster in fleet.clusters}

    def __call__(
        self, cluster_plan: ClusterPlan, cancel: threading.Event | None = None
    ) -> tuple[ClusterOutcome, ApplyInterrupted | None]:
        """The cluster's outcome and, when Ctrl-C stopped it, where (its outcome then has
        the steps done, the running one ``interrupted``)."""
        cluster = self.desired[cluster_plan.name]
        pool = self.fleet.pools[cluster.name]
        sessions: dict[str, MMPSession] = {
            node.address: pool.session(node.spec) for node in cluster.nodes
        }
        for step in cluster_plan.steps:
            if step.node not in sessions:
                sessions[step.node] = step_session(pool, cluster, step.node)
        journal = Journal.create(
            self.options.workdir / "journal", cluster.name, datetime.now(UTC), self.secrets
        )
        journal.write(
            "apply.start",
            cluster=cluster.name,
            git=self.git.model_dump(mode="json"),
            lock_id=self.lock_ids.get(cluster.name),
            rehearsal_skipped=self.options.rehearsal_skipped,
            supervised=self.options.gate is not None,
            **_window_record(self.options.window.ignored.get(cluster.name)),
            **operator(),
            plan=cluster_plan.model_dump(mode="json"),
        )
        executor = Executor(
            cluster_plan,
            cluster,
            sessions,
            journal=journal,
            backup_dir=self.options.workdir / "backups",
            progress=self.progress,
            clock=self.options.clock,
            redactor=self.secrets,
            cancel=cancel,
            gate=self.options.gate,
        )
        try:
            outcome = executor.run_steps()
        except KeyboardInterrupt:
            _write_transcripts(journal, sessions)
            stopped_at = executor.current_step
            journal.write(
                "apply.end",
                interrupted=True,
                step=stopped_at.id if stopped_at else None,
                after=executor.last_done.id if executor.last_done and not stopped_at else None,
                error="interrupted",
            )
            stop = ApplyInterrupted(
                cluster.name, stopped_at, journal.path, after=executor.last_done
            )
            return executor.interrupted_outcome(stop.where), stop
        _write_transcripts(journal, sessions)
        journal.write("apply.end", error=outcome.error)
        return outcome, None


@dataclass(frozen=True)
class Applied:
    """What ``run_plan`` returns: the report, and the interrupt to raise once it is shown
    (``ApplyInterrupted`` saying where each cluster stopped, or KeyboardInterrupt when every
    running cluster had finished and only clusters not started remained)."""

    report: ApplyReport
    stop: ApplyInterrupted | KeyboardInterrupt | None = None

    def unless_stopped(self) -> ApplyReport:
        """The report, or the interrupt raised (callers that show the report whatever
        happened, as the CLI does, show ``report`` first)."""
        if self.stop is not None:
            raise self.stop
        return self.report


def run_plan(
    fleet: Fleet,
    plan: Plan,
    options: ApplyOptions,
    progress: Progress | None = None,
    redactor: Redactor | None = None,
    lock_ids: dict[str, str] | None = None,
    cancel: threading.Event | None = None,
) -> Applied:
    """Apply every cluster's plan (the caller holds the locks), then plan again.

    Clusters are independent (each has its own nodes, lock and journal), so up to
    ``options.parallelism`` apply at once; within a cluster the steps keep the plan's order.
    After a cluster fails no further cluster starts: one failure is often everyone's (a CA,
    a passphrase), and the clusters already running finish their own plans. Once
    ``cancel`` is set (Ctrl-C: ``reconciler.interrupts``), each running cluster stops before
    its next step or at its next poll, no further cluster starts, and the interrupt returned
    says where each stopped.

    Every cluster that ended without a failure (those with nothing to do included) is
    planned again, unless apply was interrupted; the report's ``results`` judge every
    cluster of ``plan`` (``apply.results``).
    """
    cancel = cancel or threading.Event()
    report = ApplyReport(
        started=datetime.now(UTC).isoformat(),
        git=plan.git,
        rehearsal_skipped=options.rehearsal_skipped,
    )
    apply = _ClusterApply(
        fleet, options, progress, redactor or Redactor(), lock_ids or {}, plan.git
    )
    work = [cluster_plan for cluster_plan in plan.clusters if options.window.runs(cluster_plan)]
    stops: list[ApplyInterrupted] = []
    if options.parallelism <= 1 or len(work) <= 1:
        for cluster_plan in work:
            if cancel.is_set():
                break
            outcome, stopped = apply(cluster_plan, cancel)
            report.clusters.append(outcome)
            if stopped is not None:
                stops.append(stopped)
            if outcome.failed:  # an interrupted cluster's outcome has failed too
                break
    else:
        outcomes, stops = _concurrently(apply, work, options.parallelism, cancel)
        report.clusters.extend(outcomes)
    stop: ApplyInterrupted | KeyboardInterrupt | None = None
    if stops:
        order = [cluster_plan.name for cluster_plan in work]
        stop = ApplyInterrupted.together(sorted(stops, key=lambda one: order.index(one.cluster)))
    elif cancel.is_set() and len(report.clusters) < len(work):
        stop = KeyboardInterrupt()  # the running clusters had finished; the rest never started
    ended = {outcome.name for outcome in report.clusters if not outcome.failed}
    check = [
        cluster.name for cluster in plan.clusters if cluster.name in ended or not cluster.steps
    ]
    if stop is None and check:  # interrupted: say where apply stopped rather than verify
        final = fleet.plan(only=check)
        report.final_plan = final
        report.converged = (
            len(check) == len(plan.clusters) and not final.has_changes and not final.blocked
        )
        clear_markers(fleet, final)
    report.results = judge(plan, report.clusters, report.final_plan, options.window)
    report.finished = datetime.now(UTC).isoformat()
    return Applied(report, stop)


def _concurrently(
    apply: _ClusterApply, work: list[ClusterPlan], parallelism: int, cancel: threading.Event
) -> tuple[list[ClusterOutcome], list[ApplyInterrupted]]:
    """Apply clusters in worker threads: the outcomes in plan order, and where each
    interrupted cluster stopped. Once ``cancel`` is set every running cluster stops at its
    next step or poll, and no queued cluster starts. A KeyboardInterrupt in this thread (a
    caller that does not defer signals) sets it too; a second one leaves at once."""
    no_more = threading.Event()  # a cluster failed: start no other
    stops: list[ApplyInterrupted] = []

    def one(cluster_plan: ClusterPlan) -> ClusterOutcome | None:
        if no_more.is_set() or cancel.is_set():
            return None
        outcome, stopped = apply(cluster_plan, cancel)
        if stopped is not None:
            stops.append(stopped)
        elif outcome.failed:
            no_more.set()
        return outcome

    workers = ThreadPoolExecutor(min(parallelism, len(work)), thread_name_prefix="apply")
    futures = [workers.submit(one, cluster_plan) for cluster_plan in work]
    try:
        try:
            while wait(futures, timeout=0.25).not_done:
                pass  # a timed wait, so Ctrl-C is delivered here promptly
        except KeyboardInterrupt:
            if cancel.is_set():  # asked twice: leave at once (journals may lack their end)
                raise
            no_more.set()
            cancel.set()
            wait(futures)
        outcomes = [future.result() for future in futures]
    finally:
        workers.shutdown(wait=False, cancel_futures=True)
    return [outcome for outcome in outcomes if outcome is not None], stops
