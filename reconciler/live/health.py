"""Judging the certificates a node uses, for ``reconcile status`` and ``certs check``.

Judging is pure: a certificate's state is decided from its expiry, the cluster file's
``renew_before`` and the moment the nodes were read, so the same reading always gives the
same verdict and exit code. Reading the nodes is ``reconciler.status``'s job.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Literal

from pydantic import AwareDatetime, BaseModel, ConfigDict

from reconciler.live.models import LiveCluster, LiveNode
from reconciler.mmp.models import CertRole

CERTIFICATE_ROLES: tuple[CertRole, ...] = tuple(role for role in CertRole if not role.is_key)
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

    role: CertRole
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

    def certificates(self, node: LiveNode) -> dict[CertRole, CertificateHealth]:
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
    role: CertRole,
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
) -> dict[CertRole, CertificateHealth]:
    """The certificates a node's status names, judged at ``now``; empty without a status."""
    if node.status is None:
        return {}
    judged: dict[CertRole, CertificateHealth] = {}
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
