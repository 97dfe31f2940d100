"""One reconcile run: desired state from git, one SSH session per node, live state, plan.

The imperative shell around the pure planner. Plan and apply share a run, so every node is
connected to once and the executor reuses the sessions the plan was read through.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from contextlib import ExitStack
from datetime import UTC, datetime
from pathlib import Path
from types import TracebackType

from reconciler.addresses import canonical_address
from reconciler.connect import (
    SessionPool,
    TrustedEndpoints,
    describe_missing,
    missing_variables,
)
from reconciler.desired.findings import describe_errors
from reconciler.desired.loader import load_desired
from reconciler.desired.source import open_source
from reconciler.desired.state import DesiredCluster, DesiredState
from reconciler.desired.trust import ClusterAccess
from reconciler.desired.trusted_source import load_desired_trusted, only_trusted
from reconciler.errors import ConfigError
from reconciler.live.models import LiveCluster
from reconciler.live.reader import NodeTarget, read_clusters
from reconciler.mmp.transport import TransportTimeouts
from reconciler.parallelism import DEFAULT_PARALLELISM
from reconciler.plan.access import not_contacted_plan, with_access
from reconciler.plan.models import ClusterPlan, GitInfo, Plan
from reconciler.plan.planner import plan_cluster


def _check_desired(desired: DesiredState, env: Mapping[str, str]) -> None:
    """One error for everything that stops the run before any node is contacted: every
    missing variable of every cluster first (all named at once), then the other errors."""
    missing = missing_variables(
        (result.spec for result in desired.clusters if result.spec is not None), env
    )
    unset = {name for item in missing for name in item.names}
    errors = [
        finding
        for result in desired.clusters
        for finding in result.findings
        # The loader's own error for a passphrase variable that is not set: said above.
        if finding.is_error
        and not (
            finding.key.endswith("key_passphrase_env")
            and any(name in finding.message for name in unset)
        )
    ]
    parts = [describe_missing(missing)] if missing else []
    if errors:
        parts.append(
            "the desired state has errors (run `reconcile validate` for details):\n  "
            + describe_errors(errors)
        )
    if parts:
        raise ConfigError("\n".join(parts))


def _endpoints(access: ClusterAccess | None) -> TrustedEndpoints | None:
    if access is None:
        return None
    return TrustedEndpoints(access.endpoints, access.trusted_ref)


class Fleet:
    """The clusters one command works on: their desired state, one session pool each (one
    SSH session per node, shared by plan and apply) and their live state once read."""

    def __init__(
        self,
        repo: Path,
        clusters: Sequence[str],
        *,
        ref: str | None,
        env: Mapping[str, str],
        timeouts: TransportTimeouts | None = None,
        now: datetime | None = None,
        parallelism: int = DEFAULT_PARALLELISM,
        check_key_consistency: bool = True,
        trusted_ref: str | None = None,
    ) -> None:
        """``trusted_ref``: every access field (hosts, ports, user, secret names, pins) comes
        from that commit, not from ``ref`` (SPEC §8, ``desired.trust``); only the variables
        the trusted files name are read from ``env``, and only the cluster's own nodes there,
        pinned there, are ever connected to."""
        self.repo = repo
        self.parallelism = parallelism  # nodes read at once
        self.now = now or datetime.now(UTC)
        self._stack = ExitStack()
        self.access: dict[str, ClusterAccess] = {}
        self.pools: dict[str, SessionPool] = {}
        self.live: dict[str, LiveCluster] = {}
        try:
            if trusted_ref is None:
                # A plan sends nothing, so it may skip the costly RSA key check (pem.decrypt_key).
                self.desired: DesiredState = load_desired(
                    repo,
                    clusters,
                    ref,
                    env=env,
                    now=self.now,
                    check_key_consistency=check_key_consistency,
                )
                pins = self._stack.enter_context(open_source(repo, ref))
            else:
                pins = self._stack.enter_context(open_source(repo, trusted_ref))
                self.desired, self.access = load_desired_trusted(
                    repo,
                    clusters,
                    ref,
                    pins,
                    env,
                    self.now,
                    check_key_consistency=check_key_consistency,
                )
                env = only_trusted(env, self.access.values())
            self.env = env
            _check_desired(self.desired, env)
            self.clusters: list[DesiredCluster] = [
                result.require() for result in self.desired.clusters
            ]
            for cluster in self.clusters:
                self.pools[cluster.name] = self._stack.enter_context(
                    SessionPool(
                        cluster.spec,
                        pins,
                        env,
                        timeouts,
                        trusted=_endpoints(self.access.get(cluster.name)),
                    )
                )
        except BaseException:
            self._stack.close()
            raise

    def __enter__(self) -> Fleet:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.close()

    def close(self) -> None:
        self._stack.close()

    @property
    def git(self) -> GitInfo:
        return GitInfo(commit=self.desired.commit, dirty=self.desired.dirty)

    def read_live(self, only: Collection[str] | None = None) -> dict[str, LiveCluster]:
        """Every desired node in parallel, then any listed member the file does not name
        (of the clusters named ``only``, when given; the others keep their last read)."""
        clusters = [c for c in self.clusters if only is None or c.name in only]
        targets = [
            NodeTarget(
                cluster.name,
                node.name,
                node.address,
                self.pools[cluster.name].session(node.spec),
                tuple(node.bundle.remote_names()),
                read_marker=node.is_master,
            )
            for cluster in clusters
            for node in cluster.nodes
        ] + [
            # Connected call bridges: read like nodes (status, the files it names); one that
            # cannot be read blocks the cluster's plan (plan.facts).
            NodeTarget(
                cluster.name,
                bridge.name,
                bridge.address,
                self.pools[cluster.name].session(bridge),
                tuple(file.remote_name for file in cluster.bridge_files()),
                bridge=True,
            )
            for cluster in clusters
            for bridge in cluster.spec.connected
        ]
        first = {live.name: live for live in read_clusters(targets, max_parallel=self.parallelism)}
        extra_targets = []
        for cluster in clusters:
            known = {canonical_address(node.address) for node in cluster.nodes}
            listed = {
                canonical_address(member.address)
                for node in first[cluster.name].nodes
                if node.status is not None
                for member in node.status.members
            }
            for address in sorted(listed - known):
                session = self.pools[cluster.name].member_session(address)
                extra_targets.append(NodeTarget(cluster.name, address, address, session))
        extra = (
            {
                live.name: live
                for live in read_clusters(extra_targets, max_parallel=self.parallelism)
            }
            if extra_targets
            else {}
        )
        for name, live in first.items():
            if name in extra:
                live = live.model_copy(update={"nodes": live.nodes + extra[name].nodes})
            self.live[name] = live
        return self.live

    def plan(
        self,
        backup_time: datetime | None = None,
        only: Collection[str] | None = None,
        *,
        recertify: bool = False,
    ) -> Plan:
        """Read every node and plan; ``backup_time`` names the backups after a saved plan's
        time, so that a plan file's steps can be compared with this plan's field by field.
        ``only``: just the clusters of those names (apply's check of the clusters it ended).
        ``recertify``: re-load every node's certificates (``plan_cluster``); never for a
        check of whether a cluster converged, which that would never find."""
        live = self.read_live(only)
        planned = {
            cluster.name: plan_cluster(
                cluster,
                live[cluster.name],
                now=self.now,
                backup_time=backup_time,
                recertify=recertify,
            )
            for cluster in self.clusters
            if only is None or cluster.name in only
        }
        plans: list[ClusterPlan] = []
        for name in self.access or planned:
            access = self.access.get(name)
            if name not in planned:
                plans.append(not_contacted_plan(self.access[name]))
            elif access is not None:
                plans.append(with_access(planned[name], access, self.pools[name].not_contacted))
            else:
                plans.append(planned[name])
        return Plan(
            git=self.git,
            created_at=self.now.isoformat(timespec="seconds"),
            recertify=recertify,
            clusters=plans,
        )
