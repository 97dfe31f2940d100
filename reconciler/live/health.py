"""Judging what was read, for ``reconcile status`` (and the certificates, for ``certs check``).

Judging is pure: a certificate's state is decided from its expiry, the cluster file's
``renew_before`` and the moment the nodes were read; replication from each node's own status
against the cluster file's master (``live.replication``, the planner's judgement too). The
same reading always gives the same verdict and exit code. Reading the nodes is
``reconciler.status``'s job.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from typing import Literal

from pydantic import AwareDatetime, BaseModel, ConfigDict

from reconciler.addresses import same_address
from reconciler.durations import duration_text
from reconciler.live.caveats import LOADED_CERTIFICATES, Caveat
from reconciler.live.models import LiveCluster, LiveNode
from reconciler.live.replication import ReplicationKind, node_names, node_problems
from reconciler.mmp.models import BRIDGE_STATES, CertRole

CERTIFICATE_ROLES: tuple[CertRole, ...] = tuple(role for role in CertRole if not role.is_key)
"""The roles that hold certificates (the other two hold keys, which do not expire)."""

CertificateState = Literal["ok", "due", "expired", "unknown"]
BridgeKind = Literal["bridge_not_connected", "bridge_no_database", "bridge_other_master"]
"""Why a connected call bridge (``connected:``) needs attention."""
ProblemKind = (
    Literal["not_read", "certificate_expired", "certificate_due"] | ReplicationKind | BridgeKind
)

EXIT_HEALTHY = 0
EXIT_NOT_READ = 1
EXIT_ATTENTION = 2


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


class Problem(BaseModel):
    """One reason a cluster needs attention (the status JSON's ``problems``): which node,
    what kind, and a sentence saying it. ``not_read`` makes the exit code 1; any other, 2."""

    model_config = ConfigDict(frozen=True)

    node: str
    address: str
    kind: ProblemKind
    detail: str


class ClusterReport(BaseModel):
    """A cluster's live state, the cluster file's ``renew_before`` and master, judged
    together."""

    model_config = ConfigDict(frozen=True)

    live: LiveCluster
    renew_before: timedelta
    master: str
    """The cluster file's master (its address): whom every other node must replicate from."""
    window: str | None = None
    """Where the cluster file's maintenance windows stand at the read (None: no windows)."""

    @property
    def complete(self) -> bool:
        """Every node and connected call bridge was reached and its status understood."""
        return self.live.complete and all(bridge.readable for bridge in self.live.bridges)

    def certificates(self, node: LiveNode) -> dict[CertRole, CertificateHealth]:
        """The certificates ``node`` uses, by role, in status order."""
        return node_certificates(node, self.renew_before, self.live.read_at)

    def renewals(self) -> list[tuple[LiveNode, CertificateHealth]]:
        """Every certificate in use that is expired or due, with the node (or connected call
        bridge) using it."""
        return [
            (node, health)
            for node in (*self.live.nodes, *self.live.bridges)
            for health in self.certificates(node).values()
            if health.needs_renewal
        ]

    def bridge_problems(self, bridge: LiveNode) -> list[Problem]:
        """Why a connected call bridge whose status was read does not use the cluster
        file's master (``Node in use``); nothing for one not read (``problems`` says so)."""
        status = bridge.status
        if status is None:
            return []
        kind: BridgeKind
        if status.transitional or status.state not in BRIDGE_STATES or status.members:
            kind = "bridge_not_connected"
            detail = f"its status '{status.status_text}' is not a connected call bridge's"
        elif status.node_in_use is None:
            kind, detail = "bridge_no_database", "uses no database (Node in use: None)"
        elif not same_address(status.node_in_use, self.master):
            kind = "bridge_other_master"
            detail = f"uses {status.node_in_use}, not the cluster file's master {self.master}"
        else:
            return []
        return [Problem(node=bridge.name, address=bridge.address, kind=kind, detail=detail)]

    def replication(self, node: LiveNode) -> list[Problem]:
        """Why ``node`` does not replicate as the cluster file says (``live.replication``)."""
        return [
            Problem(node=node.name, address=node.address, kind=found.kind, detail=found.detail)
            for found in node_problems(node, self.master, node_names(self.live))
        ]

    def problems(self) -> list[Problem]:
        """Everything that needs attention, node by node, then each connected call bridge:
        not read, replication (a bridge: the database it uses), then certificates expired
        or due. Empty: healthy."""
        found: list[Problem] = []
        for node in self.live.nodes:
            found += _not_read(node) + self.replication(node) + self._renewal_problems(node)
        for bridge in self.live.bridges:
            found += _not_read(bridge) + self.bridge_problems(bridge)
            found += self._renewal_problems(bridge)
        return found

    def _renewal_problems(self, node: LiveNode) -> list[Problem]:
        return [
            _certificate_problem(node, health, self.renew_before)
            for health in self.certificates(node).values()
            if health.needs_renewal
        ]

    def caveats(self) -> list[Caveat]:
        """What a healthy verdict could not see (``live.caveats``); none for a cluster that
        needs attention anyway."""
        return [] if self.problems() else [LOADED_CERTIFICATES]


def _not_read(node: LiveNode) -> list[Problem]:
    if node.readable:
        return []
    return [
        Problem(
            node=node.name, address=node.address, kind="not_read", detail=node.error or "not read"
        )
    ]


def _certificate_problem(
    node: LiveNode, health: CertificateHealth, renew_before: timedelta
) -> Problem:
    """``server_cert dbclusterserver.cer expired on 2017-03-09`` (or ``expires on ...``)."""
    when = health.not_after.astimezone(UTC).date().isoformat() if health.not_after else None
    if health.state == "expired":
        kind: ProblemKind = "certificate_expired"
        detail = f"expired on {when}" if when else "expired (the node marks it so)"
    else:
        kind = "certificate_due"
        detail = f"expires on {when}, within renew_before ({duration_text(renew_before)})"
    return Problem(
        node=node.name,
        address=node.address,
        kind=kind,
        detail=f"{health.role.value} {health.file} {detail}",
    )


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
    """1 when a node could not be read (it wins); 2 when anything else needs attention (a
    certificate expired or due, a node that does not replicate as the cluster file says, a
    last cluster command that failed); else 0."""
    if not all(report.complete for report in reports):
        return EXIT_NOT_READ
    if any(report.problems() for report in reports):
        return EXIT_ATTENTION
    return EXIT_HEALTHY
