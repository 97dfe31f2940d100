"""``plan(desired, live) -> ClusterPlan``: the minimal safe sequence, without any I/O.

Three shapes (SPEC §5 ``strategy``):

* membership / rolling: the desired master is a healthy live master with the desired
  certificates; each other node is brought in (or back) one at a time, and only nodes that
  do not already match get commands.
* reform: the master itself must change (its certificates, or it is not the live master):
  every node leaves the old cluster (replicas first, master last) so that no replica can
  promote itself and take writes that would be lost, certificates are configured, the
  master initializes a new cluster with its own data, and the others join it one by one.
  ``recertify`` asks for this shape whatever the files say: the device shows only the names
  of the files ``database cluster certs`` loaded, so a re-load is the only way to be sure
  that every node runs the desired files (``live.caveats``).

Whatever the shape, the desired master never runs ``join`` and nothing but the desired
master runs ``initialize`` (SPEC §6.5, §6.6). Whose database that keeps, and whether it
changes the master, is ``reconciler.plan.data_authority``'s question.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, datetime

from reconciler.addresses import same_address
from reconciler.desired.state import CertFile, DesiredCluster
from reconciler.live.caveats import LOADED_CERTIFICATES
from reconciler.live.models import LiveCluster
from reconciler.mmp.models import CLIENT_ROLES
from reconciler.plan.actions import ACTIONS, ASYNCHRONOUS, Action, command_line
from reconciler.plan.condition import cluster_condition
from reconciler.plan.data_authority import authority_finding, data_authority
from reconciler.plan.dependencies import with_dependencies
from reconciler.plan.facts import BridgeFacts, ClusterFacts, FileDiff, NodeFacts, gather_facts
from reconciler.plan.fingerprint import state_fingerprint
from reconciler.plan.models import (
    CertificateDetail,
    ClusterPlan,
    Finding,
    Impact,
    Step,
    Strategy,
    UploadFile,
)
from reconciler.plan.render.common import english_list
from reconciler.plan.timeouts import step_allowances
from reconciler.plan.window import window_report

RESTART_NOTE = "callbridge and web admin restart"


class _Steps:
    """Numbered steps in execution order, their commands and expectations from
    ``plan.actions``: ``values`` fill in the action's command template."""

    def __init__(self) -> None:
        self.items: list[Step] = []

    def add(
        self,
        node: str,
        node_name: str,
        action: Action,
        reason: str,
        *,
        upload: UploadFile | None = None,
        backup_name: str | None = None,
        **values: str,
    ) -> None:
        self.items.append(
            Step(
                id=len(self.items) + 1,
                node=node,
                node_name=node_name,
                action=action,
                command=command_line(action, **values),
                reason=reason,
                expect=ACTIONS[action].expect,
                upload=upload,
                backup_name=backup_name,
            )
        )


def backup_name(cluster: str, now: datetime) -> str:
    """A name the MMP accepts (letters, digits, ``-``, ``_``) that sorts by time."""
    return f"reconcile-{cluster}-{now.strftime('%Y%m%dT%H%M%SZ')}"


def plan_cluster(
    desired: DesiredCluster,
    live: LiveCluster,
    *,
    now: datetime,
    backup_time: datetime | None = None,
    recertify: bool = False,
) -> ClusterPlan:
    """The plan that brings ``live`` to ``desired``. ``recertify``: re-load every node's
    certificates even where its files already match (a re-form, in a rotation's order:
    backups, remove, certs, initialize on the master, join), for a node whose running
    configuration may have been loaded from other files than those on its disk now."""
    facts = gather_facts(desired, live)
    fingerprint = state_fingerprint(live)
    blocking = [
        Finding(node=node, what=what, live="", desired="", severity="error", message=msg)
        for node, what, msg in facts.problems
    ] + _interface_conflicts(facts)
    if blocking:
        return ClusterPlan(
            name=desired.name,
            state_fingerprint=fingerprint,
            strategy=Strategy.NONE,
            findings=blocking,
            steps=[],
            impact=Impact(restarts=[], max_nodes_out=0, estimated_seconds=0, summary="blocked"),
            blocked=True,
            node_names=_node_names(facts),
        )
    findings = _differences(facts)
    if recertify:
        findings += _recertify_findings(facts)
    steps = _Steps()
    name = backup_name(desired.name, backup_time or now)
    reform = recertify or not _master_is_healthy(facts)
    bridges = _bridges_to_connect(facts, reform=reform)
    findings += _bridge_findings(facts, bridges, reform=reform)
    if reform:
        strategy = Strategy.REFORM
        _plan_reform(facts, steps, name, bridges)
    else:
        strategy = _plan_around_master(facts, steps, name, bridges)
    ordered = with_dependencies(
        steps.items,
        reform=strategy is Strategy.REFORM,
        master=facts.master.address,
        live_masters=[node.address for node in facts.nodes + facts.extras if node.is_live_master],
    )
    authority = data_authority(facts, ordered, now) if ordered else None
    if authority is not None:
        findings.append(authority_finding(facts, authority))
    impact = _impact(facts, ordered, strategy)
    return ClusterPlan(
        name=desired.name,
        state_fingerprint=fingerprint,
        strategy=strategy if ordered else Strategy.NONE,
        findings=findings,
        steps=ordered,
        impact=impact,
        data_authority=authority,
        node_names=_node_names(facts),
        condition=cluster_condition(facts),
        # "No changes" is judged from the files on disk: say what it could not see.
        caveats=[] if ordered else [LOADED_CERTIFICATES],
        window=window_report(
            desired.spec.maintenance,
            needed=takes_service(facts, ordered),
            now=now,
            expected_seconds=impact.estimated_seconds,
        ),
    )


def takes_service(facts: ClusterFacts, steps: list[Step]) -> bool:
    """Does the plan take something serving out of service, and so need a maintenance
    window? A ``remove``, ``initialize`` or ``join`` on a node that is in a cluster now
    (Enabled, or Error), or a ``connect`` on a call bridge that uses a database now. A node
    that is Disabled serves no database (never clustered, or already out): a plan that only
    uploads files, or forms a cluster that is down already, runs at any time."""
    serving = {node.address for node in facts.nodes if node.enabled}
    serving |= {extra.address for extra in facts.extras if extra.status.state != "Disabled"}
    serving |= {bridge.address for bridge in facts.bridges if bridge.in_use is not None}
    return any(ACTIONS[step.action].takes_service and step.node in serving for step in steps)


# --- deciding ---------------------------------------------------------------------------
def _master_is_healthy(facts: ClusterFacts) -> bool:
    master = facts.master
    others = [node for node in facts.nodes if node.is_live_master and node is not master]
    return (
        master.member_as_desired(master.address)
        and master.certs_match
        and not others
        and not any(extra.is_live_master for extra in facts.extras)
    )


def _client_changes(facts: ClusterFacts) -> list[str]:
    """The client roles (client key, client certificate, CA) the plan loads anew on database
    nodes that serve now: what the cluster's connected call bridges use to reach it."""
    client_roles = {role.value for role in CLIENT_ROLES}
    return sorted(
        {
            diff.role
            for node in facts.nodes
            if node.enabled
            for diff in node.files
            if diff.role in client_roles and not diff.matches
        }
    )


def _bridges_to_connect(facts: ClusterFacts, *, reform: bool) -> list[BridgeFacts]:
    """The connected call bridges that get steps, once the cluster serves as desired: those
    whose client files are not the cluster's, those that do not use the desired master, and
    every one when the plan re-forms the cluster (no source says a bridge finds a cluster
    formed anew, or with another CA, by itself; a fresh ``database cluster connect`` makes
    sure). A plan around a healthy master leaves the master's files, and so what bridges
    use, as they are: a replica's client files do not concern them."""
    master = facts.master.address
    return [
        bridge
        for bridge in sorted(facts.bridges, key=lambda item: item.address)
        if reform or not bridge.certs_match or not bridge.uses(master)
    ]


def _bridge_findings(
    facts: ClusterFacts, bridges: list[BridgeFacts], *, reform: bool
) -> list[Finding]:
    """What changes on each connected call bridge, and why (one finding per bridge)."""
    master = facts.master
    changed = _client_changes(facts)
    findings = []
    for bridge in bridges:
        files = [diff.role for diff in bridge.files if not diff.matches]
        if files:
            why = f"its {english_list(files)} are not the cluster's"
        elif not bridge.uses(master.address):
            why = f"it uses {bridge.in_use or 'no database'}, not the master {master.name}"
        elif changed:
            why = f"the cluster loads another {english_list(changed)}"
        else:
            why = "the cluster is formed again" if reform else "it connects again"
        findings.append(
            Finding(
                node=bridge.address,
                what="connected",
                live=f"uses {bridge.in_use or 'no database'}",
                desired=f"uses {master.address}, with the cluster's client files",
                severity="change",
                message=(
                    f"{why}: it is given the cluster's client key, client certificate and CA "
                    f"where they differ, and connects to {master.name} again once the cluster "
                    "serves"
                ),
            )
        )
    return findings


# --- building steps -----------------------------------------------------------------------
def _backup(steps: _Steps, address: str, node_name: str, name: str) -> None:
    steps.add(
        address,
        node_name,
        Action.BACKUP,
        "before the first destructive step on this node (downloaded and size-checked)",
        backup_name=name,
        name=name,
    )


def _uploads(steps: _Steps, address: str, name: str, diffs: list[FileDiff], what: str) -> None:
    """An upload step per file that differs; ``what`` names the machine (``node``)."""
    for diff in diffs:
        wanted = diff.desired
        missing = diff.live_file is None or not diff.live_file.present
        steps.add(
            address,
            name,
            Action.UPLOAD,
            f"{diff.role}: "
            + (f"not on the {what}" if missing else f"the {what}'s file has other content"),
            upload=UploadFile(
                role=diff.role,
                repo_path=wanted.path,
                remote_name=wanted.remote_name,
                sha256=wanted.sha256,
                size=len(wanted.upload_bytes),
            ),
            path=wanted.path,
            remote_name=wanted.remote_name,
        )


def _configure_certs(steps: _Steps, node: NodeFacts) -> None:
    _uploads(steps, node.address, node.name, node.uploads, "node")
    names = " ".join(file.remote_name for file in node.desired.bundle.files())
    steps.add(
        node.address,
        node.name,
        Action.CERTS,
        "load the desired certificates (the node is Disabled; the service runs what certs "
        "last loaded, whatever the files now say)",
        files=names,
    )


def _connect_bridge(steps: _Steps, bridge: BridgeFacts, master: NodeFacts, *, reload: bool) -> None:
    """A connected call bridge: its client files where they differ, loaded with the
    three-file ``certs`` (``reload``: even where its files match, as every node of a re-form
    is), then ``connect`` to the master (reference §1.7)."""
    _uploads(steps, bridge.address, bridge.name, bridge.uploads, "call bridge")
    if reload or not bridge.certs_match:
        names = " ".join(diff.desired.remote_name for diff in bridge.files)
        steps.add(
            bridge.address,
            bridge.name,
            Action.CERTS,
            "load the cluster's client key, client certificate and CA (the three-file form "
            "of a connected call bridge)",
            files=names,
        )
    steps.add(
        bridge.address,
        bridge.name,
        Action.CONNECT,
        f"use the database of the master {master.name} again, with the files now loaded",
        master=master.address,
    )


def _remove(steps: _Steps, address: str, node_name: str, reason: str) -> None:
    steps.add(address, node_name, Action.REMOVE, reason)


def _localnode(steps: _Steps, node: NodeFacts) -> None:
    """Every published procedure sets the interface first (S2 step 1, on the primary and on
    each joiner); ``remove`` keeps it, so only a node that shows none gets the step."""
    interface = node.desired_interface
    if not interface or node.status.interface:
        return
    steps.add(
        node.address,
        node.name,
        Action.LOCALNODE,
        f"the node shows no cluster interface; interface {interface} (the cluster file's) "
        "is set before it forms or joins a cluster",
        interface=interface,
    )


def _join(steps: _Steps, node: NodeFacts, master: NodeFacts) -> None:
    _localnode(steps, node)
    steps.add(
        node.address,
        node.name,
        Action.JOIN,
        f"replicate from the master {master.name}; this node's own database is replaced",
        master=master.address,
    )


def _plan_around_master(
    facts: ClusterFacts, steps: _Steps, name: str, bridges: list[BridgeFacts]
) -> Strategy:
    """The master stays; replicas are fixed one at a time, extra members leave; then the
    connected call bridges that need it connect again."""
    master = facts.master
    work = [node for node in _by_address(facts.replicas) if not _replica_is_healthy(node, master)]
    for node in work:
        _backup(steps, node.address, node.name, name)
    for extra in facts.extras:
        _backup(steps, extra.address, extra.name, name)
    for bridge in bridges:
        _backup(steps, bridge.address, bridge.name, name)
    rotated = False
    for node in work:
        leaves = not node.disabled and (not node.certs_match or node.status.state == "Error")
        if leaves:
            rotated = rotated or (
                not node.certs_match and same_address(node.status.master_address, master.address)
            )
            reason = (
                "certificates can only change while Disabled"
                if not node.certs_match
                else "the node reports Error"
            )
            _remove(steps, node.address, node.name, reason)
        if leaves or node.disabled:
            _configure_certs(steps, node)
        _join(steps, node, master)
    for extra in facts.extras:
        _remove(steps, extra.address, extra.name, "not in the desired cluster")
    for bridge in bridges:
        _connect_bridge(steps, bridge, master, reload=False)
    return Strategy.ROLLING if rotated else Strategy.MEMBERSHIP


def _plan_reform(facts: ClusterFacts, steps: _Steps, name: str, bridges: list[BridgeFacts]) -> None:
    """Take the cluster apart, replicas first and the master last; form it on the master;
    connect the call bridges to it as soon as it serves (before the replicas join, which
    may take long), then the replicas join."""
    master = facts.master
    replicas = _by_address(facts.replicas)
    for node in [master, *replicas]:
        _backup(steps, node.address, node.name, name)
    for extra in facts.extras:
        _backup(steps, extra.address, extra.name, name)
    for bridge in bridges:
        _backup(steps, bridge.address, bridge.name, name)
    _take_apart(facts, steps, replicas)
    # Every node is Disabled now: configure it even where the files already match, because
    # the database service runs what 'certs' last loaded, not what is on disk.
    for node in [master, *replicas]:
        _configure_certs(steps, node)
    _localnode(steps, master)
    steps.add(
        master.address,
        master.name,
        Action.INITIALIZE,
        "its database becomes the master copy of the new cluster",
    )
    for bridge in bridges:
        _connect_bridge(steps, bridge, master, reload=True)
    for node in replicas:
        _join(steps, node, master)


def _take_apart(facts: ClusterFacts, steps: _Steps, replicas: list[NodeFacts]) -> None:
    """Replicas, then members to drop, then any other live master, the desired master last:
    while a live master remains, the nodes that are left never form a majority without it."""
    master = facts.master
    leaving = [node for node in replicas if not node.disabled]
    for node in leaving:
        if not node.is_live_master:
            _remove(steps, node.address, node.name, "every node leaves the old cluster first")
    dropped = "not in the desired cluster"
    for extra in facts.extras:
        if not extra.is_live_master:
            _remove(steps, extra.address, extra.name, dropped)
    for extra in facts.extras:
        if extra.is_live_master:
            _remove(steps, extra.address, extra.name, dropped)
    for node in leaving:
        if node.is_live_master:
            _remove(steps, node.address, node.name, "every node leaves the old cluster first")
    if not master.disabled:
        _remove(steps, master.address, master.name, "the master leaves last; it keeps its database")


def _replica_is_healthy(node: NodeFacts, master: NodeFacts) -> bool:
    return node.certs_match and node.replica_of(master.address)


def _by_address(nodes: Iterable[NodeFacts]) -> list[NodeFacts]:
    return sorted(nodes, key=lambda node: node.address)


# --- explaining -------------------------------------------------------------------------
def _membership_text(node: NodeFacts) -> str:
    status = node.status
    if status.state == "Disabled":
        return "Disabled (not clustered)"
    text = f"{status.state}, {status.role}"
    if status.role == "replica":
        text += f" of {status.master_address or 'no reachable master'}"
        text += ", in sync" if status.in_sync else ", NOT in sync"
    return text


def _node_names(facts: ClusterFacts) -> dict[str, str]:
    names = {node.address: node.name for node in facts.desired.nodes}
    for bridge in facts.desired.spec.connected:
        names.setdefault(bridge.address, bridge.name)
    for extra in facts.extras + facts.idle_extras:
        names.setdefault(extra.address, extra.name)
    return names


def _certificate_detail(file: CertFile) -> CertificateDetail | None:
    certificate = file.certificate
    if certificate is None:
        return None
    return CertificateDetail(
        subject=certificate.subject,
        issuer=certificate.issuer,
        not_after=certificate.not_after.astimezone(UTC).isoformat(timespec="seconds"),
        fingerprint_sha256=certificate.fingerprint_sha256,
    )


def _live_expiry(node: NodeFacts, configured: str | None) -> str | None:
    """The day the certificate the node uses now ends, when it was read: a renewal's
    reviewer sees how long the old one still has."""
    live_file = node.live.file(configured) if configured else None
    if live_file is None or live_file.not_after is None:
        return None
    return live_file.not_after.astimezone(UTC).date().isoformat()


def _differences(facts: ClusterFacts) -> list[Finding]:
    findings: list[Finding] = []
    for node in _by_address(facts.nodes):
        findings += _file_findings(node)
        findings += _membership_findings(node, facts.master)
        findings += _interface_findings(node, facts.master)
    return findings + _extra_findings(facts)


def _file_findings(node: NodeFacts) -> list[Finding]:
    """One change per certificate role the node is not configured with as desired."""
    return [
        Finding(
            node=node.address,
            what=diff.role,
            live=_live_file_text(node, diff),
            desired=f"{diff.desired.remote_name} sha256:{diff.desired.sha256[:16]}",
            severity="change",
            desired_certificate=_certificate_detail(diff.desired),
        )
        for diff in node.files
        if not diff.matches
    ]


def _live_file_text(node: NodeFacts, diff: FileDiff) -> str:
    """The configured file, with why it does not do: expired, or other content."""
    live = diff.configured or "not configured"
    ends = _live_expiry(node, diff.configured)
    notes = []
    if diff.expired:
        notes.append(f"expired {ends}" if ends else "expired")
    else:
        if diff.configured == diff.desired.remote_name:
            notes.append("other content")
        if ends:
            notes.append(f"valid until {ends}")
    if notes:
        live += f" ({', '.join(notes)})"
    return live


def _recertify_findings(facts: ClusterFacts) -> list[Finding]:
    """``--recertify``: the nodes whose files already match, and so would get no ``certs``
    but for the option; the others are re-loaded anyway, for the differences above."""
    return [
        Finding(
            node=node.address,
            what="loaded_certificates",
            live="not shown by the device (status names the files, not what was loaded)",
            desired="re-loaded from the desired files (--recertify)",
            severity="change",
        )
        for node in _by_address(facts.nodes)
        if node.certs_match
    ]


def _membership_findings(node: NodeFacts, master: NodeFacts) -> list[Finding]:
    wanted = "Enabled, master" if node is master else f"replica of {master.address}, in sync"
    if node.member_as_desired(master.address):  # as `reconcile status` judges it
        return []
    return [
        Finding(
            node=node.address,
            what="membership",
            live=_membership_text(node),
            desired=wanted,
            severity="change",
        )
    ]


def _interface_findings(node: NodeFacts, master: NodeFacts) -> list[Finding]:
    """A node that shows no cluster interface gets the file's before it forms or joins a
    cluster (``_localnode``); one that shows another is refused before planning
    (``_interface_conflicts``). A member as desired is left as it runs."""
    interface = node.desired_interface
    if not interface or node.status.interface or node.member_as_desired(master.address):
        return []
    return [
        Finding(
            node=node.address,
            what="interface",
            live="not set",
            desired=interface,
            severity="change",
        )
    ]


def _interface_conflicts(facts: ClusterFacts) -> list[Finding]:
    """A node whose cluster interface is not the file's: reconcile does not change a working
    interface (its peers reach it there), so the plan is refused until one of them is fixed."""
    interface = facts.desired.spec.interface
    return [
        Finding(
            node=node.address,
            what="interface",
            live=node.status.interface,
            desired=interface,
            severity="error",
            message=(
                f"the node uses interface {node.status.interface} for the database cluster, "
                f"the cluster file says {interface}; reconcile does not change a working "
                "interface (its peers reach it there): correct 'interface' in the cluster "
                f"file, or run 'database cluster localnode {interface}' on the node by hand, "
                "then plan again"
            ),
        )
        for node in _by_address(facts.nodes)
        if interface and node.status.interface and node.status.interface != interface
    ]


def _extra_findings(facts: ClusterFacts) -> list[Finding]:
    """Members the file does not list: to be removed, or (Disabled already) only noted."""
    findings = [
        Finding(
            node=extra.address,
            what="membership",
            live=f"member (listed by {extra.listed_by})",
            desired="not a member",
            severity="change",
        )
        for extra in facts.extras
    ]
    findings += [
        Finding(
            node=extra.address,
            what="membership",
            live=f"listed by {extra.listed_by}, but Disabled itself",
            desired="not a member",
            severity="warning",
            message="nothing to run on it; it disappears from the list once peers notice",
        )
        for extra in facts.idle_extras
    ]
    return findings


def _impact(facts: ClusterFacts, steps: list[Step], strategy: Strategy) -> Impact:
    if not steps:
        return Impact(restarts=[], max_nodes_out=0, estimated_seconds=0, summary="no change")
    restarts = sorted({step.node for step in steps if step.action in ASYNCHRONOUS})
    allowance = step_allowances(facts.desired.spec.timeouts)
    estimate = sum(allowance[step.action] for step in steps)
    bridges = [step.node_name or step.node for step in steps if step.action is Action.CONNECT]
    if strategy is Strategy.REFORM:
        out = len({step.node for step in steps if step.action is Action.REMOVE}) or len(restarts)
        parts = [f"the cluster is down from the first remove until {facts.master.name} initializes"]
    else:
        out = 1 if restarts else 0
        parts = [f"{facts.master.name} keeps serving"]
        if any(step.action in (Action.REMOVE, Action.JOIN) for step in steps):
            parts.append("one node at a time leaves or joins")
    if bridges:
        many = len(bridges) > 1
        parts.append(
            f"call bridge{'s' if many else ''} {english_list(bridges)} "
            f"connect{'' if many else 's'} to {facts.master.name}"
        )
    if restarts:
        parts.append(f"{RESTART_NOTE} on {len(restarts)} node(s)")
    summary = "; ".join(parts)
    return Impact(
        restarts=restarts,
        max_nodes_out=out,
        estimated_seconds=estimate,
        summary=summary,
        action_seconds=allowance,
    )
