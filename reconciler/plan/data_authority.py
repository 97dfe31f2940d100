"""Whose database the cluster keeps, and why (SPEC §6.9): the planner's data-authority seam.

The desired master's database always becomes (or stays) the master copy; what this module
decides is whether that is safe to do without ``--allow-master-change``, and how to say it.
It is safe when the desired master is the live master, or when no node is master and the
evidence shows the desired master was the last one: the marker an interrupted re-form left
on it, or (S7) a master that lost sight of its peers while they still use it. Evidence
counts only when no node contradicts it by using another master.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from reconciler.addresses import same_address
from reconciler.plan.facts import ClusterFacts, NodeFacts
from reconciler.plan.models import Action, DataAuthority, Finding, Step

MARKER_MAX_AGE = timedelta(hours=24)


def data_authority(facts: ClusterFacts, steps: list[Step], now: datetime) -> DataAuthority:
    """Whose database the plan's ``steps`` keep, which ones they replace, and whether that
    changes the master (which apply refuses without ``--allow-master-change``)."""
    master = facts.master
    joined = [step.node for step in steps if step.action is Action.JOIN]
    replaced = ", ".join(joined) or "no other node"
    others = _other_live_masters(facts)
    who = f"{master.name} ({master.address})"

    def decided(statement: str, master_change: bool) -> DataAuthority:
        return DataAuthority(
            source=master.address, replaces=joined, statement=statement, master_change=master_change
        )

    if others:
        return decided(
            f"{', '.join(others)} is the live master, but the cluster file names {who}: "
            f"{who}'s database becomes the master copy and replaces the database of "
            f"{replaced}; writes made on {', '.join(others)} that {master.name} does not have "
            "are lost",
            True,
        )
    if master.is_live_master:
        statement = f"{who} is the master and keeps its database"
        if joined:
            statement += f"; {', '.join(joined)} will copy it (their own databases are replaced)"
        return decided(statement, False)
    evidence = _last_master_evidence(facts, now)
    if evidence is not None:
        return decided(
            f"no node reports itself master; {who} {evidence}, so its local database becomes "
            f"the master copy and replaces the database of {replaced}",
            False,
        )
    state = (
        "is a replica that is not in sync"
        if master.status.role == "replica"
        else "is not the master, and nothing shows it was the last one"
    )
    return decided(
        f"no node reports itself master and {who} {state}: its possibly stale local database "
        f"becomes the master copy and replaces the database of {replaced}",
        True,
    )


def authority_finding(facts: ClusterFacts, authority: DataAuthority) -> Finding:
    """The data authority as a finding: only informational when the master stays."""
    master = facts.master
    quiet = master.is_live_master and not authority.master_change
    return Finding(
        node=authority.source,
        what="data",
        live=f"master copy on {authority.source}",
        desired=f"master copy on {master.address}",
        severity="info" if quiet else "warning",
        message=authority.statement,
    )


def _other_live_masters(facts: ClusterFacts) -> list[str]:
    """Nodes other than the desired master that report themselves master."""
    master = facts.master
    others = [node.address for node in facts.nodes if node.is_live_master and node is not master]
    return others + [extra.address for extra in facts.extras if extra.is_live_master]


def _last_master_evidence(facts: ClusterFacts, now: datetime) -> str | None:
    """Why the desired master's local database is the newest, when no node is master.

    Evidence counts only when no other node contradicts it (a node that uses another
    master). The marker bridges an interrupted apply, so it counts only while the master
    is still as apply left it (Disabled, or naming itself) and for ``MARKER_MAX_AGE``.
    """
    if _believes_another_master(facts):
        return None
    return _marker_evidence(facts, now) or _lost_sight_evidence(facts)


def _marker_evidence(facts: ClusterFacts, now: datetime) -> str | None:
    """The marker reconcile wrote on the master before its last re-form took nodes apart."""
    master = facts.master
    marker = master.live.master_marker
    written = _marker_time(marker) if marker is not None else None
    if (
        marker is not None
        and written is not None
        and marker.get("cluster") == facts.desired.name
        and timedelta(0) <= now - written <= MARKER_MAX_AGE
        and (master.disabled or _names_itself(master))
    ):
        when = written.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S UTC")
        return f"was the master when reconcile started taking the cluster apart ({when})"
    return None


def _lost_sight_evidence(facts: ClusterFacts) -> str | None:
    """S7: a master demoted to replica that still uses itself, while its peers use it too."""
    master = facts.master
    followers = [
        node
        for node in facts.nodes
        if node is not master
        and node.enabled
        and same_address(node.status.node_in_use, master.address)
    ]
    if master.status.role == "replica" and _names_itself(master) and followers:
        return (
            "still uses itself as the node in use and "
            + ", ".join(node.name for node in followers)
            + " still use it: a master that lost sight of its peers (S7)"
        )
    return None


def _names_itself(node: NodeFacts) -> bool:
    return same_address(node.status.node_in_use, node.address)


def _marker_time(marker: dict[str, str]) -> datetime | None:
    try:
        moment = datetime.fromisoformat(marker.get("time", ""))
    except ValueError:
        return None
    return moment if moment.tzinfo is not None else None


def _believes_another_master(facts: ClusterFacts) -> list[str]:
    """Nodes whose own status points at a master other than the desired one."""
    master = facts.master.address
    statuses = [(node.address, node.status) for node in facts.nodes if node is not facts.master]
    statuses += [(extra.address, extra.status) for extra in facts.extras + facts.idle_extras]
    return [
        address
        for address, status in statuses
        if status.state in ("Enabled", "Error")
        and status.node_in_use is not None
        and not same_address(status.node_in_use, master)
    ]
