"""Whether a cluster is already out of service before the plan runs, and how, as read.

A plan that restores an expired cluster, or continues an apply that stopped part-way, must
not read like one that takes a working cluster down: the reviewer is told first (issue 23).
Pure, from the planner's facts; only what the nodes showed is said:

* no node reports itself master (Enabled): the cluster is **down**;
* otherwise, a node of the cluster file Disabled after a ``database cluster remove`` (its
  last command), or the marker reconcile writes before a re-form takes the master out:
  **taken apart** in part;
* otherwise, certificates in use marked expired, a node that does not follow the live master
  in sync, or two masters: **broken**.

A node that is Disabled and never was taken out (a node being added) is not a condition,
nor is a node that could not be read (the plan is blocked, and says so).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime

from reconciler.live.replication import membership_problem
from reconciler.plan.facts import ClusterFacts, ExtraMember, NodeFacts
from reconciler.plan.models import Condition
from reconciler.plan.render.common import english_list

REMOVE = "database cluster remove"
# How a replica's problem is said in one breath (``live.replication`` kinds).
_REPLICA_PROBLEMS = {
    "not_in_sync": "not in sync",
    "no_master": "see no master",
    "other_master": "follow another master",
    "error": "report Error",
}


def cluster_condition(facts: ClusterFacts) -> Condition | None:
    """What is already out of service in ``facts``, or None when it serves as a cluster."""
    nodes = sorted(facts.nodes, key=lambda node: node.address)
    members: list[NodeFacts | ExtraMember] = [*facts.nodes, *facts.extras]
    masters = [node for node in members if node.is_live_master]
    parts = [] if masters else ["no node is master"]
    removed = [node for node in nodes if node.disabled and _removed(node)]
    parts += _out_of_the_cluster(nodes, removed, down=not masters)
    marker = _marker(facts.master)
    if marker is not None:
        parts.append(
            f"{facts.master.name} holds the marker of a re-form reconcile started on {marker} "
            "and did not finish"
        )
    expired = [node for node in nodes if any(diff.expired for diff in node.files)]
    if expired:
        parts.append(f"the certificates in use have expired on {_names(expired)}")
    parts += _masters_said(nodes, masters, facts.master, wrong=bool(parts))
    if not parts:
        return None
    if not masters:
        return Condition(kind="down", detail="; ".join(parts))
    if removed or marker is not None:
        return Condition(kind="taken_apart", detail="; ".join(parts))
    return Condition(kind="broken", detail="; ".join(parts))


def _out_of_the_cluster(
    nodes: Sequence[NodeFacts], removed: Sequence[NodeFacts], *, down: bool
) -> list[str]:
    """Nodes of the cluster file that are Disabled: all of them when no node is master, else
    those taken out (a node never clustered, being added, is not out of service)."""
    disabled = [node for node in nodes if node.disabled]
    if down and disabled:
        return [f"{_names(disabled)} {_are(disabled)} Disabled"]
    if removed:
        whose = "its" if len(removed) == 1 else "their"
        return [
            f"{_names(removed)} {_are(removed)} Disabled, out of the cluster ({whose} last "
            f"command was '{REMOVE}')"
        ]
    return []


def _masters_said(
    nodes: Sequence[NodeFacts],
    masters: Sequence[NodeFacts | ExtraMember],
    master: NodeFacts,
    *,
    wrong: bool,
) -> list[str]:
    """With one live master, the nodes that do not follow it in sync and, when anything is
    wrong, that it still serves; with several, that each claims it (none: said already)."""
    if len(masters) > 1:
        return [f"{_names(masters)} each report themselves master"]
    if not masters:
        return []
    said = _replica_problems(nodes, masters[0])
    if not (wrong or said):
        return []
    still = "still " if masters[0] is master else ""
    return [*said, f"{masters[0].name} is {still}master"]


def _removed(node: NodeFacts) -> bool:
    last = node.status.last_command
    return last is not None and last.command.startswith(REMOVE) and last.result == "Success"


def _marker(master: NodeFacts) -> str | None:
    """When the marker of an unfinished re-form on the master was written, as words."""
    marker = master.live.master_marker
    if marker is None:
        return None
    try:
        written = datetime.fromisoformat(marker.get("time", ""))
    except ValueError:
        return "an unknown date"
    if written.tzinfo is None:
        return written.strftime("%Y-%m-%d %H:%M:%S")
    return written.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S UTC")


def _replica_problems(nodes: Sequence[NodeFacts], master: NodeFacts | ExtraMember) -> list[str]:
    """Enabled nodes that do not follow the live ``master`` in sync, by problem: what the
    cluster serves now (a cluster file naming another master is a change, not a fault)."""
    grouped: dict[str, list[NodeFacts]] = {}
    for node in nodes:
        if node.address == master.address or node.disabled:
            continue
        problem = membership_problem(node.status, node.address, master.address)
        if problem is None or problem.kind not in _REPLICA_PROBLEMS:
            continue
        grouped.setdefault(problem.kind, []).append(node)
    said = []
    for kind, members in grouped.items():
        said.append(f"{_names(members)} {_verb(_REPLICA_PROBLEMS[kind], members)}")
    return said


def _verb(phrase: str, nodes: Sequence[NodeFacts]) -> str:
    """``not in sync`` with ``is``/``are``; ``see no master`` as ``sees``/``see``."""
    if phrase.startswith("not "):
        return f"{_are(nodes)} {phrase}"
    if len(nodes) > 1:
        return phrase
    verb, _, rest = phrase.partition(" ")
    return f"{verb}s {rest}"


def _names(nodes: Sequence[NodeFacts | ExtraMember]) -> str:
    return english_list([node.name for node in nodes])


def _are(nodes: Sequence[object]) -> str:
    return "is" if len(nodes) == 1 else "are"
