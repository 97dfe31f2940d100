"""Whether a cluster replicates as its cluster file says: one judgement, for plan and status.

A converged cluster has the cluster file's master ``Enabled`` and master, and every other
node ``Enabled``, a replica of that master, ``In Sync``. ``membership_problem`` says why a
node is not that, from its own status alone; the planner asks it which nodes to fix (and
which membership findings to show), ``reconcile status`` asks it what needs attention.
Status also asks ``command_problem``: a node whose last cluster command failed (a ``join``
that ended ``(Failed)``) may look settled, but what was asked of it did not happen. The
planner does not plan from that (it plans from the state the failure left), so it is kept
apart.

Pure functions of what was read: no I/O, no clock.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Literal

from reconciler.addresses import canonical_address, same_address
from reconciler.live.models import LiveCluster, LiveNode
from reconciler.mmp.models import ClusterStatus

ReplicationKind = Literal[
    "busy",
    "error",
    "unknown_state",
    "not_clustered",
    "no_master",
    "other_master",
    "not_in_sync",
    "command_failed",
]
"""Why a node does not replicate as the cluster file says (``command_failed``: its last
cluster command failed, whatever its state now)."""

KNOWN_STATES = frozenset({"Enabled", "Disabled", "Error"})


@dataclass(frozen=True)
class NodeJudgement:
    """One reason a node needs attention: its kind and a sentence saying it."""

    kind: ReplicationKind
    detail: str


def _who(address: str | None, names: Mapping[str, str]) -> str:
    """``cms1 (10.0.0.1)`` when the address is a known node, else the address."""
    if address is None:
        return "no node"
    name = names.get(canonical_address(address))
    return f"{name} ({address})" if name and name != address else address


def membership_problem(
    status: ClusterStatus,
    address: str,
    master: str,
    names: Mapping[str, str] | None = None,
) -> NodeJudgement | None:
    """Why the node at ``address`` is not what a converged cluster with ``master`` (the
    cluster file's) needs of it, or None when it is.

    ``master`` itself must be ``Enabled`` and master; any other node ``Enabled``, a replica
    whose master is ``master``, ``In Sync``. ``names`` (canonical address -> node name) only
    makes the detail easier to read.
    """
    known = {} if names is None else names
    problem = _state_problem(status)
    if problem is not None:
        return problem
    if same_address(address, master):
        return _as_master(status, known)
    return _as_replica(status, master, known)


def _state_problem(status: ClusterStatus) -> NodeJudgement | None:
    """Anything but a settled ``Enabled``."""
    state = status.state
    if status.transitional:
        return NodeJudgement(
            "busy", f"in the middle of an operation ({status.status_text or state})"
        )
    if state == "Error":
        return NodeJudgement("error", f"reports Error ({status.error or 'no detail'})")
    if state not in KNOWN_STATES:
        shown = status.status_text if status.status_text is not None else "no Status line"
        return NodeJudgement("unknown_state", f"status {shown!r} is not one this tool knows")
    if state == "Disabled":
        return NodeJudgement("not_clustered", "Disabled: not a member of any cluster")
    return None


def _as_master(status: ClusterStatus, names: Mapping[str, str]) -> NodeJudgement | None:
    """The cluster file's master, Enabled: it must be the master."""
    if status.role == "master":
        return None
    follows = status.master_address
    if follows is None:
        return NodeJudgement(
            "no_master",
            f"the cluster file's master, but Enabled as {status.role} with no master in sight",
        )
    return NodeJudgement(
        "other_master", f"the cluster file's master, but a replica of {_who(follows, names)}"
    )


def _as_replica(
    status: ClusterStatus, master: str, names: Mapping[str, str]
) -> NodeJudgement | None:
    """Any other node, Enabled: a replica of ``master``, In Sync."""
    wanted = _who(master, names)
    follows = status.master_address
    if status.role == "master":
        return NodeJudgement(
            "other_master", f"a master itself; the cluster file's master is {wanted}"
        )
    if follows is None:
        return NodeJudgement(
            "no_master",
            f"Enabled, but sees no master (a partition, or the master is down); it should "
            f"follow {wanted}",
        )
    if not same_address(follows, master):
        return NodeJudgement(
            "other_master",
            f"a replica of {_who(follows, names)}, not of the cluster file's master {wanted}",
        )
    if status.role != "replica":
        return NodeJudgement(
            "not_in_sync",
            f"does not show itself as a replica of {wanted} (its own line is Disconnected "
            "or missing)",
        )
    if status.in_sync is not True:
        return NodeJudgement("not_in_sync", f"a replica of {wanted}, NOT in sync")
    return None


def command_problem(status: ClusterStatus) -> NodeJudgement | None:
    """The node's last cluster command, when it failed."""
    last = status.last_command
    if last is None or last.result != "Failed":
        return None
    return NodeJudgement("command_failed", f"its last cluster command failed: '{last.command}'")


def node_names(live: LiveCluster) -> dict[str, str]:
    """Canonical address -> node name, for every node read."""
    return {canonical_address(node.address): node.name for node in live.nodes}


def node_problems(
    node: LiveNode, master: str, names: Mapping[str, str] | None = None
) -> list[NodeJudgement]:
    """Everything ``membership_problem`` and ``command_problem`` say of a node whose status
    was read (nothing for a node without a status: that it was not read says it all)."""
    status = node.status
    if status is None:
        return []
    found = [
        membership_problem(status, node.address, master, names),
        command_problem(status),
    ]
    return [judgement for judgement in found if judgement is not None]


def failed_commands(live: LiveCluster) -> list[tuple[LiveNode, str]]:
    """Every node whose status was read and whose last cluster command failed, with it."""
    return [
        (node, node.status.last_command.command)
        for node in live.nodes
        if node.status is not None
        and node.status.last_command is not None
        and node.status.last_command.result == "Failed"
    ]
