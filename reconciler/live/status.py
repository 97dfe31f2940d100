"""``reconcile status``: read every node, then judge the certificates each one uses.

Gathering opens one session per node and reads; judging is pure: a certificate's state is
decided from its expiry, the cluster file's ``renew_before`` and the moment the nodes were
read, so the same reading always gives the same verdict and exit code.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from contextlib import ExitStack
from datetime import datetime, timedelta
from pathlib import Path
from typing import Literal

from pydantic import AwareDatetime, BaseModel, ConfigDict

from reconciler.desired.findings import describe_errors
from reconciler.desired.loader import load_spec, resolve_cluster_names
from reconciler.desired.models import ROLES, Role
from reconciler.desired.source import open_source
from reconciler.errors import ConfigError
from reconciler.live.models import LiveCluster, LiveNode
from reconciler.live.reader import NodeTarget, read_clusters
from reconciler.mmp.connect import SessionPool
from reconciler.mmp.transport import TransportTimeouts

CERTIFICATE_ROLES: tuple[Role, ...] = tuple(role for role in ROLES if not role.is_key)
"""The roles that hold certificates (the other two hold keys, which do not expire)."""

CertificateState = Literal["ok", "due", "expired", "unknown"]

EXIT_HEALTHY = 0
EXIT_NOT_READ = 1
EXIT_RENEW = 2


class CertificateHealth(BaseModel):
    """One certificate a node uses, judged at the moment the node was read.

    ``expired`` when the node marks it ``(expired)`` or its expiry has passed; ``due`` when
    it expires within ``renew_before``; ``unknown`` when its expiry could not be read (the
    file is missing, or holds no certificate) and the node does not mark it expired.
    """

    model_config = ConfigDict(frozen=True)

    role: Role
    file: str
    not_after: AwareDatetime | None
    days_left: int | None
    """Whole days from the reading to the expiry, rounded down: negative once expired."""
    state: CertificateState

    @property
    def needs_renewal(self) -> bool:
        return self.state in ("expired", "due")


class ClusterReport(BaseModel):
    """A cluster's live state and the cluster file's ``renew_before``, judged together."""

    model_config = ConfigDict(frozen=True)

    live: LiveCluster
    renew_before: timedelta

    @property
    def complete(self) -> bool:
        """Every node was reached and its status understood."""
        return self.live.complete

    def certificates(self, node: LiveNode) -> dict[Role, CertificateHealth]:
        """The certificates ``node`` uses, by role, in status order."""
        return node_certificates(node, self.renew_before, self.live.read_at)

    def renewals(self) -> list[tuple[LiveNode, CertificateHealth]]:
        """Every certificate in use that is expired or due, with the node using it."""
        return [
            (node, health)
            for node in self.live.nodes
            for health in self.certificates(node).values()
            if health.needs_renewal
        ]


def judge_certificate(
    role: Role,
    file: str,
    not_after: datetime | None,
    *,
    marked_expired: bool,
    renew_before: timedelta,
    now: datetime,
) -> CertificateHealth:
    """The state of one certificate at ``now`` (see `CertificateHealth`)."""
    days_left = None if not_after is None else (not_after - now).days
    state: CertificateState
    if marked_expired or (not_after is not None and now > not_after):
        state = "expired"
    elif not_after is None:
        state = "unknown"
    elif not_after - now <= renew_before:
        state = "due"
    else:
        state = "ok"
    return CertificateHealth(
        role=role, file=file, not_after=not_after, days_left=days_left, state=state
    )


def node_certificates(
    node: LiveNode, renew_before: timedelta, now: datetime
) -> dict[Role, CertificateHealth]:
    """The certificates a node's status names, judged at ``now``; empty without a status."""
    if node.status is None:
        return {}
    judged: dict[Role, CertificateHealth] = {}
    for role in CERTIFICATE_ROLES:
        ref = getattr(node.status.certificates, role.value)
        if ref is None:
            continue
        live_file = node.file(ref.file)
        judged[role] = judge_certificate(
            role,
            ref.file,
            live_file.not_after if live_file is not None else None,
            marked_expired=ref.expired,
            renew_before=renew_before,
            now=now,
        )
    return judged


def status_exit_code(reports: Sequence[ClusterReport]) -> int:
    """1 when a node could not be read (it wins), 2 when a certificate needs renewal, else 0."""
    if not all(report.complete for report in reports):
        return EXIT_NOT_READ
    if any(report.renewals() for report in reports):
        return EXIT_RENEW
    return EXIT_HEALTHY


def gather_status(
    repo: Path,
    clusters: Sequence[str],
    env: Mapping[str, str],
    timeouts: TransportTimeouts | None = None,
) -> list[ClusterReport]:
    """Live state of the named clusters (all when none), every node read in parallel."""
    with open_source(repo) as source, ExitStack() as stack:
        targets: list[NodeTarget] = []
        renew_before: dict[str, timedelta] = {}
        for name in resolve_cluster_names(source, clusters):
            loaded = load_spec(source, name)
            if loaded.spec is None or loaded.findings.has_errors:
                problems = describe_errors(loaded.findings.items)
                raise ConfigError(
                    f"cluster {name} cannot be read (run `reconcile validate`):\n  {problems}"
                )
            renew_before[name] = loaded.spec.renew_before
            pool = stack.enter_context(SessionPool(loaded.spec, source, env, timeouts))
            targets += [
                NodeTarget(name, node.name, node.address, pool.session(node))
                for node in loaded.spec.nodes
            ]
        return [
            ClusterReport(live=live, renew_before=renew_before[live.name])
            for live in read_clusters(targets)
        ]
