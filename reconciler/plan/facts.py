"""What the planner needs to know about each node, derived from desired and live state.

Pure functions: a ``NodeFacts`` says, for one node, whether its certificate configuration
and its membership already match, which files differ, and what state it is in.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from reconciler.desired.state import CertFile, DesiredCluster, DesiredNode
from reconciler.live.models import CERT_ROLES, LiveCluster, LiveFile, LiveNode
from reconciler.mmp.models import ClusterStatus


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

    def replica_of(self, master: str) -> bool:
        """A healthy replica of ``master``: Enabled, In Sync, following that master."""
        return (
            self.status.state == "Enabled"
            and self.status.role == "replica"
            and self.status.in_sync is True
            and self.status.master_address == master
        )


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


@dataclass
class ClusterFacts:
    desired: DesiredCluster
    live: LiveCluster
    nodes: list[NodeFacts] = field(default_factory=list)
    problems: list[tuple[str | None, str, str]] = field(default_factory=list)  # node, what, msg
    extras: list[ExtraMember] = field(default_factory=list)

    @property
    def master(self) -> NodeFacts:
        return next(facts for facts in self.nodes if facts.desired.is_master)

    @property
    def replicas(self) -> list[NodeFacts]:
        return [facts for facts in self.nodes if not facts.desired.is_master]


def _same_content(desired: CertFile, live: LiveFile | None) -> bool:
    if live is None or not live.present:
        return False
    if live.sha256 is not None:
        return live.sha256 == desired.sha256
    certificate = desired.certificate
    if live.source == "pki" and certificate is not None and live.serial is not None:
        return _serial(live.serial) == _serial(certificate.serial)
    return False


def _serial(text: str) -> str:
    return text.replace(":", "").lower().lstrip("0")


def file_diffs(desired: DesiredNode, live: LiveNode, status: ClusterStatus) -> tuple[FileDiff, ...]:
    diffs = []
    for role, wanted in zip(CERT_ROLES, desired.bundle.files(), strict=True):
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


def gather_facts(desired: DesiredCluster, live: LiveCluster) -> ClusterFacts:
    """Pair desired and live nodes; anything that cannot be read becomes a problem."""
    facts = ClusterFacts(desired, live)
    live_by_address = {node.address: node for node in live.nodes}
    for node in desired.nodes:
        live_node = live_by_address.get(node.address)
        if live_node is None or not live_node.reachable:
            reason = live_node.error if live_node else "not read"
            facts.problems.append(
                (node.address, "unreachable", f"{node.name} cannot be reached: {reason}")
            )
            continue
        if live_node.status is None or live_node.error:
            facts.problems.append(
                (node.address, "unreadable", f"{node.name}: {live_node.error or 'no status'}")
            )
            continue
        status = live_node.status
        if status.transitional:
            facts.problems.append(
                (
                    node.address,
                    "busy",
                    f"{node.name} is in the middle of an operation ({status.status_text}); "
                    "plan again when it has finished",
                )
            )
            continue
        facts.nodes.append(NodeFacts(node, live_node, status, file_diffs(node, live_node, status)))
    desired_addresses = {node.address for node in desired.nodes}
    seen: set[str] = set()
    for node_facts in facts.nodes:
        for member in node_facts.status.members:
            if member.address in desired_addresses or member.address in seen:
                continue
            seen.add(member.address)
            extra = live_by_address.get(member.address)
            if extra is None or extra.status is None or extra.error:
                reason = extra.error if extra is not None and extra.error else "it was not read"
                facts.problems.append(
                    (
                        member.address,
                        "membership",
                        f"{member.address} is a cluster member that the cluster file does not "
                        f"list (listed by {node_facts.name}), and it cannot be read to remove it "
                        f"({reason}); add it to the cluster file, or run 'database cluster "
                        "remove' on it by hand",
                    )
                )
                continue
            facts.extras.append(
                ExtraMember(member.address, extra.name, node_facts.address, extra.status)
            )
    return facts
