"""What the planner needs to know about each node, derived from desired and live state.

Pure functions: a ``NodeFacts`` says, for one node, whether its certificate configuration
and its membership already match, which files differ, and what state it is in.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

from reconciler.addresses import canonical_address, same_address
from reconciler.desired.models import ConnectedSpec
from reconciler.desired.state import CertFile, DesiredCluster, DesiredNode
from reconciler.live.models import CERT_ROLES, LiveCluster, LiveFile, LiveNode
from reconciler.live.replication import membership_problem
from reconciler.mmp.models import BRIDGE_STATES, CLIENT_ROLES, ClusterStatus


@dataclass(frozen=True)
class FileDiff:
    """One role of the bundle: what the node is configured with against what is desired."""

    role: str
    desired: CertFile
    configured: str | None  # file name the node's status shows for this role
    expired: bool
    live_file: LiveFile | None  # the live file with the desired remote name
    needs_upload: bool
    matches: bool  # configured with the desired name and the same content


@dataclass(frozen=True)
class NodeFacts:
    desired: DesiredNode
    live: LiveNode
    status: ClusterStatus
    files: tuple[FileDiff, ...]
    desired_interface: str | None = None  # the cluster file's ``interface`` (None: not named)

    @property
    def address(self) -> str:
        return self.desired.address

    @property
    def name(self) -> str:
        return self.desired.name

    @property
    def certs_match(self) -> bool:
        return all(diff.matches for diff in self.files)

    @property
    def uploads(self) -> list[FileDiff]:
        return [diff for diff in self.files if diff.needs_upload]

    @property
    def disabled(self) -> bool:
        return self.status.state == "Disabled"

    @property
    def enabled(self) -> bool:
        return self.status.state in ("Enabled", "Error")

    @property
    def is_live_master(self) -> bool:
        return self.enabled and self.status.role == "master"

    def member_as_desired(self, master: str) -> bool:
        """What a converged cluster with ``master`` needs of this node: ``master`` itself
        Enabled and master, any other node a replica of it, In Sync. The one judgement
        ``reconcile status`` makes too (``live.replication.membership_problem``)."""
        return membership_problem(self.status, self.address, master) is None

    def replica_of(self, master: str) -> bool:
        """A healthy replica of ``master``: Enabled, In Sync, following that master."""
        return not same_address(self.address, master) and self.member_as_desired(master)


@dataclass(frozen=True)
class ExtraMember:
    """A live member that the desired state does not list (to be dropped); it was read."""

    address: str
    name: str
    listed_by: str  # the node whose status lists it
    status: ClusterStatus

    @property
    def is_live_master(self) -> bool:
        return self.status.state in ("Enabled", "Error") and self.status.role == "master"


@dataclass(frozen=True)
class BridgeFacts:
    """A connected call bridge (``connected:``) whose status reads as one (``_bridge_problem``),
    with its three client files against the cluster's (``DesiredCluster.bridge_files``)."""

    spec: ConnectedSpec
    live: LiveNode
    status: ClusterStatus
    files: tuple[FileDiff, ...] = ()

    @property
    def address(self) -> str:
        return self.spec.address

    @property
    def name(self) -> str:
        return self.spec.name

    @property
    def in_use(self) -> str | None:
        """The database node it uses now (``Node in use``); None when it uses none."""
        return self.status.node_in_use

    @property
    def certs_match(self) -> bool:
        return all(diff.matches for diff in self.files)

    @property
    def uploads(self) -> list[FileDiff]:
        return [diff for diff in self.files if diff.needs_upload]

    def uses(self, master: str) -> bool:
        return self.in_use is not None and same_address(self.in_use, master)


@dataclass
class ClusterFacts:
    desired: DesiredCluster
    live: LiveCluster
    nodes: list[NodeFacts] = field(default_factory=list)
    problems: list[tuple[str | None, str, str]] = field(default_factory=list)  # node, what, msg
    extras: list[ExtraMember] = field(default_factory=list)  # clustered: to be removed
    idle_extras: list[ExtraMember] = field(default_factory=list)  # listed, but Disabled
    bridges: list[BridgeFacts] = field(default_factory=list)  # connected call bridges, read

    @property
    def master(self) -> NodeFacts:
        return next(facts for facts in self.nodes if facts.desired.is_master)

    @property
    def replicas(self) -> list[NodeFacts]:
        return [facts for facts in self.nodes if not facts.desired.is_master]


KNOWN_STATES = frozenset({"Enabled", "Disabled", "Error"})


def _same_content(desired: CertFile, live: LiveFile | None) -> bool:
    if live is None or not live.present:
        return False
    if live.sha256 is not None:
        return live.sha256 == desired.sha256
    certificate = desired.certificate
    if live.source == "pki" and certificate is not None and live.serial is not None:
        return _serial(live.serial) == _serial(certificate.serial) and _dn(
            live.issuer or ""
        ) == _dn(certificate.issuer)
    return False


def _serial(text: str) -> str:
    return text.replace(":", "").lower().lstrip("0")


def _dn(text: str) -> frozenset[str]:
    """A distinguished name as a set of ``k=v`` parts: the MMP and RFC 4514 order differ."""
    return frozenset(part.strip().casefold() for part in text.split(",") if part.strip())


def file_diffs(desired: DesiredNode, live: LiveNode, status: ClusterStatus) -> tuple[FileDiff, ...]:
    return role_diffs(zip(CERT_ROLES, desired.bundle.files(), strict=True), live, status)


def role_diffs(
    wanted_files: Iterable[tuple[str, CertFile]], live: LiveNode, status: ClusterStatus
) -> tuple[FileDiff, ...]:
    """Each role's configured file against the desired one (a node's five, a bridge's three)."""
    diffs = []
    for role, wanted in wanted_files:
        ref = getattr(status.certificates, role)
        live_file = live.file(wanted.remote_name)
        same = _same_content(wanted, live_file)
        configured = ref.file if ref is not None else None
        diffs.append(
            FileDiff(
                role=role,
                desired=wanted,
                configured=configured,
                expired=bool(ref and ref.expired),
                live_file=live_file,
                needs_upload=not same,
                matches=same and configured == wanted.remote_name and not (ref and ref.expired),
            )
        )
    return tuple(diffs)


def _unverifiable(diffs: tuple[FileDiff, ...]) -> list[str]:
    """Files whose content could not be read, so that a match cannot be decided."""
    return [
        diff.desired.remote_name
        for diff in diffs
        if diff.live_file is not None
        and diff.live_file.present
        and diff.live_file.sha256 is None
        and (diff.desired.certificate is None or diff.live_file.serial is None)
    ]


def _node_problem(node: DesiredNode, live: LiveNode | None) -> tuple[str, str] | None:
    """Why this node cannot be planned for (what, message), or None.

    Messages do not name the node: renderers do, once, for every node with the same problem.
    A node that answered but refused (a login, a host key) is "unreadable", never
    "unreachable": that word sends the reader to the network.
    """
    if live is None:
        return "unreachable", "was not read"
    if not live.reachable:
        return "unreachable", live.error or "cannot be reached"
    status = live.status
    if status is None or live.error:
        return "unreadable", live.error or "no status"
    if status.transitional:
        return (
            "busy",
            f"in the middle of an operation ({status.status_text}); plan again when it has "
            "finished",
        )
    if status.state not in KNOWN_STATES:
        shown = status.status_text if status.status_text is not None else "no Status line"
        return (
            "unreadable",
            f"status {shown!r} is not one this tool understands; refusing to guess",
        )
    if node.is_master and status.state == "Error":
        return (
            "error",
            f"the master reports Error ({status.error or 'no detail'}); clear it on the node "
            "first ('database cluster clear error', then 'database cluster upgrade_schema' if "
            "the schema upgrade failed), then plan again",
        )
    return None


def _bridge_problem(live: LiveNode | None) -> tuple[str, str] | None:
    """Why a connected call bridge cannot be planned for (what, message), or None.

    Fail closed: a bridge that was not read, or whose status is not what this tool takes a
    connected call bridge's to be (``BRIDGE_STATES``, no ``Nodes:`` list), blocks the
    cluster's plan.
    """
    if live is None:
        return "unreachable", "(a connected call bridge) was not read"
    if not live.reachable:
        return "unreachable", f"(a connected call bridge) {live.error or 'cannot be reached'}"
    status = live.status
    if status is None or live.error:
        return "unreadable", f"(a connected call bridge) {live.error or 'no status'}"
    if status.transitional or status.state not in BRIDGE_STATES or status.members:
        shown = status.status_text if status.status_text is not None else "no Status line"
        listed = " and lists cluster members" if status.members else ""
        return (
            "unreadable",
            f"is listed under connected: but its status {shown!r}{listed} is not a connected "
            "call bridge's as cms-reconciler reads one ('Status : Connected' or 'Disabled', "
            "no Nodes list; no transcript of one is published); refusing to guess",
        )
    return None


def _gather_bridges(desired: DesiredCluster, live: LiveCluster, facts: ClusterFacts) -> None:
    by_address = {canonical_address(node.address): node for node in live.bridges}
    wanted = list(zip((role.value for role in CLIENT_ROLES), desired.bridge_files(), strict=True))
    for bridge in desired.spec.connected:
        live_bridge = by_address.get(canonical_address(bridge.address))
        problem = _bridge_problem(live_bridge)
        if problem is not None:
            facts.problems.append((bridge.address, *problem))
            continue
        assert live_bridge is not None
        assert live_bridge.status is not None
        diffs = role_diffs(wanted, live_bridge, live_bridge.status)
        unverifiable = _unverifiable(diffs)
        if unverifiable:
            facts.problems.append(
                (
                    bridge.address,
                    "unreadable",
                    f"(a connected call bridge) cannot verify {', '.join(unverifiable)} (SFTP "
                    "could not read them); refusing to guess whether they match",
                )
            )
            continue
        facts.bridges.append(BridgeFacts(bridge, live_bridge, live_bridge.status, diffs))


def gather_facts(desired: DesiredCluster, live: LiveCluster) -> ClusterFacts:
    """Pair desired and live nodes; anything that cannot be read becomes a problem."""
    facts = ClusterFacts(desired, live)
    live_by_address = {canonical_address(node.address): node for node in live.nodes}
    for node in desired.nodes:
        live_node = live_by_address.get(canonical_address(node.address))
        problem = _node_problem(node, live_node)
        if problem is not None:
            facts.problems.append((node.address, *problem))
            continue
        assert live_node is not None
        assert live_node.status is not None
        diffs = file_diffs(node, live_node, live_node.status)
        unverifiable = _unverifiable(diffs)
        if unverifiable:
            facts.problems.append(
                (
                    node.address,
                    "unreadable",
                    f"cannot verify {', '.join(unverifiable)} (SFTP could not read them); "
                    "refusing to guess whether they match",
                )
            )
            continue
        facts.nodes.append(
            NodeFacts(node, live_node, live_node.status, diffs, desired.spec.interface)
        )
    desired_addresses = {canonical_address(node.address) for node in desired.nodes}
    seen: set[str] = set()
    for node_facts in facts.nodes:
        for member in node_facts.status.members:
            address = canonical_address(member.address)
            if address in desired_addresses or address in seen:
                continue
            seen.add(address)
            extra = live_by_address.get(address)
            if extra is None or extra.status is None or extra.error:
                reason = extra.error if extra is not None and extra.error else "it was not read"
                facts.problems.append(
                    (
                        address,
                        "membership",
                        f"{address} is a cluster member that the cluster file does not "
                        f"list (listed by {node_facts.name}), and it cannot be read to remove it "
                        f"({reason}); add it to the cluster file, or run 'database cluster "
                        "remove' on it by hand",
                    )
                )
                continue
            if extra.status.transitional or extra.status.state not in KNOWN_STATES:
                facts.problems.append(
                    (
                        address,
                        "unreadable",
                        f"{address} (a member the cluster file does not list) shows status "
                        f"{extra.status.status_text!r}; plan again when it is settled",
                    )
                )
                continue
            member_facts = ExtraMember(address, extra.name, node_facts.address, extra.status)
            if extra.status.state == "Disabled":
                facts.idle_extras.append(member_facts)
            else:
                facts.extras.append(member_facts)
    _gather_bridges(desired, live, facts)
    return facts
