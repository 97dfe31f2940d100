"""Wording shared by the text and markdown renderers, so a laptop and a PR say the same thing."""

from __future__ import annotations

import math
import re
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta

from reconciler.durations import format_duration
from reconciler.plan.models import (
    AccessFieldChange,
    AccessReport,
    ClusterPlan,
    Finding,
    GitInfo,
    Strategy,
)

_SHA = re.compile(r"[0-9a-fA-F]{7,64}")
_FRACTION = re.compile(r"(\d{2}:\d{2}:\d{2})[.,]\d+")
SHORT_SHA = 7


def plural(count: int, word: str) -> str:
    return f"{count} {word}" if count == 1 else f"{count} {word}s"


def commit_text(git: GitInfo) -> str:
    """The commit as people quote it: a short sha, or what the plan recorded if not a sha."""
    if git.commit is None:
        return "no commit"
    if _SHA.fullmatch(git.commit):
        return git.commit[:SHORT_SHA]
    return git.commit


def short_commit(git: GitInfo) -> str:
    """``1a2b3c4`` or ``1a2b3c4 (dirty)``: a dirty tree is not what the commit says."""
    text = commit_text(git)
    return f"{text} (dirty)" if git.dirty else text


def step_nodes(cluster: ClusterPlan) -> list[str]:
    """Addresses that get at least one step, in the order they first appear."""
    return list(dict.fromkeys(step.node for step in cluster.steps))


def node_names(cluster: ClusterPlan) -> dict[str, str]:
    """Node names by address: the plan's list (absent from older plan files), then the steps
    (findings and the data authority carry only addresses)."""
    names = dict(cluster.node_names or {})
    for step in cluster.steps:
        if step.node_name:
            names.setdefault(step.node, step.node_name)
    return names


def grouped_findings(findings: Sequence[Finding]) -> list[tuple[Finding, list[str | None]]]:
    """Findings that say the same thing of several nodes, as one with those nodes, in the
    order they first appear: three nodes refusing the same password is one message."""
    groups: dict[str, tuple[Finding, list[str | None]]] = {}
    for finding in findings:
        key = finding.model_copy(update={"node": None}).model_dump_json()
        finding_nodes = groups.setdefault(key, (finding, []))[1]
        if finding.node not in finding_nodes:
            finding_nodes.append(finding.node)
    return list(groups.values())


def named_nodes(cluster: ClusterPlan, addresses: Sequence[str | None]) -> str:
    """``cms1 (127.0.85.73), cms2 (127.0.85.74)``: each node by name and address, where the
    plan knows its name."""
    names = node_names(cluster)
    shown = []
    for address in addresses:
        if address is None:
            shown.append(f"cluster {cluster.name}")
            continue
        name = names.get(address)
        shown.append(f"{name} ({address})" if name and name != address else address)
    return ", ".join(shown)


def sentence(text: str) -> str:
    """``text`` without a full stop of its own (the caller adds one)."""
    return text.rstrip(".")


def short_name(names: dict[str, str], address: str | None) -> str:
    """``cms2`` when the plan names the node, else its address."""
    if address is None:
        return "cluster"
    return names.get(address, address)


def english_list(items: Sequence[str]) -> str:
    """``a``, ``a and b``, ``a, b and c``."""
    if len(items) <= 1:
        return "".join(items)
    return f"{', '.join(items[:-1])} and {items[-1]}"


def without_fraction(text: str) -> str:
    """``07:40:00.123456`` becomes ``07:40:00``: nobody reads microseconds in a review."""
    return _FRACTION.sub(r"\1", text)


def display_time(value: str) -> str:
    """An ISO time as ``2026-11-27 07:40:00 UTC``; anything else as given, minus fractions."""
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        return without_fraction(value)
    if moment.tzinfo is None:
        return moment.strftime("%Y-%m-%d %H:%M:%S")
    return moment.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S UTC")


def day(value: str) -> str:
    """``2027-12-01`` from an ISO time (in UTC); anything else as given, minus fractions."""
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        return without_fraction(value)
    if moment.tzinfo is not None:
        moment = moment.astimezone(UTC)
    return moment.date().isoformat()


def rough_minutes(seconds: float) -> str:
    """A bound in whole minutes, rounded up (``43 min``, ``2 h 5 min``): no false precision."""
    minutes = max(1, math.ceil(seconds / 60))
    if minutes < 120:
        return f"{minutes} min"
    hours, rest = divmod(minutes, 60)
    return f"{hours} h {rest} min" if rest else f"{hours} h"


def node_label(cluster: ClusterPlan, address: str | None) -> str:
    """``127.0.85.74 cms2`` when a step names the node, else just the address.

    Findings carry only the address; the steps of the same cluster know the name.
    """
    if address is None:
        return "cluster"
    for step in cluster.steps:
        if step.node == address and step.node_name:
            return f"{address} {step.node_name}"
    return address


def status_word(cluster: ClusterPlan) -> str:
    if cluster.blocked:
        return "BLOCKED"
    return "changes" if cluster.steps else "converged"


def estimated_duration(cluster: ClusterPlan) -> str:
    """Upper bound of the apply time; a plan without steps takes no time worth a number."""
    if not cluster.steps:
        return "-"
    return format_duration(timedelta(seconds=cluster.impact.estimated_seconds))


def closing_line(cluster: ClusterPlan) -> str:
    """Terraform-like last word on a cluster."""
    if cluster.blocked:
        errors = cluster.errors
        count = plural(len(errors), "error") if errors else "an error"
        return f"Cannot plan cluster {cluster.name}: {count}; no step will run."
    if not cluster.steps:
        return f"No changes. Cluster {cluster.name} is converged."
    nodes = step_nodes(cluster)
    strategy = cluster.strategy.value if cluster.strategy != Strategy.NONE else "no strategy"
    return (
        f"Plan: {plural(len(cluster.steps), 'step')} on {plural(len(nodes), 'node')} ({strategy})."
    )


def master_change_warning() -> str:
    return "This plan changes the master: apply needs --allow-master-change."


def access_sentence(access: AccessReport) -> str:
    """Where the plan's access came from (``--trusted-ref``)."""
    if not access.contacted:
        return f"no node was contacted: {access.problem or 'no trusted access'}"
    return (
        f"hosts, ports, user, secret variable names and host-key pins come from "
        f"{access.trusted_ref}, not from the change planned here"
    )


def access_change_text(change: AccessFieldChange) -> str:
    before = change.trusted if change.trusted is not None else "(none)"
    after = change.proposed if change.proposed is not None else "(none)"
    return f"{change.key}: {before} -> {after}"


def access_changes_sentence(access: AccessReport) -> str | None:
    """What the change would alter in access, which this plan did not use."""
    if not access.changes:
        return None
    what = "; ".join(access_change_text(change) for change in access.changes)
    return (
        f"this change alters access ({what}); it takes effect once merged, and this plan "
        "used the trusted values"
    )


def not_contacted_sentence(access: AccessReport, names: dict[str, str]) -> str | None:
    if not access.not_contacted:
        return None
    nodes = ", ".join(
        f"{names[address]} ({address})" if address in names else address
        for address in access.not_contacted
    )
    return (
        f"{nodes}, not a node of this cluster at the trusted ref (or not pinned there); "
        "contacted once the change that adds it is merged"
    )


def pending_sentence(access: AccessReport) -> str | None:
    """A plan blocked only by access the change adds: what that means for review and merge."""
    if not access.pending:
        return None
    return (
        "this change adds access (a new cluster, or a new node) that takes effect only once "
        "merged, so it cannot be planned against the nodes now: review it as an access change; "
        "after merge the apply workflow plans it in full and shows that plan to the approver"
    )
