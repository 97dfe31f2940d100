"""Check a plan against the desired state before its first command (SPEC §6).

The planner already keeps these rules; the executor checks them again because a plan can
also come from a file. A step that breaks one stops the apply before anything is sent.
"""

from __future__ import annotations

import re

from reconciler.desired.models import Role
from reconciler.desired.state import DesiredCluster
from reconciler.plan.models import DESTRUCTIVE, Action, ClusterPlan, Step

BACKUP_COMMAND = re.compile(r"^backup snapshot [A-Za-z0-9_-]+$")


def plan_problems(plan: ClusterPlan, desired: DesiredCluster) -> list[tuple[Step, str]]:
    """Every step that must not run, with the rule it breaks."""
    master = desired.master.address
    nodes = {node.address: node for node in desired.nodes}
    backed_up: set[str] = set()
    initialized = False
    problems: list[tuple[Step, str]] = []
    for step in plan.steps:
        node = nodes.get(step.node)
        if step.action is Action.BACKUP:
            if (
                not BACKUP_COMMAND.match(step.command)
                or step.backup_name != step.command.split()[-1]
            ):
                problems.append((step, "not a backup snapshot command"))
            backed_up.add(step.node)
            continue
        if step.action in DESTRUCTIVE and step.node not in backed_up:
            problems.append((step, "destructive step before a backup of this node (SPEC §6.2)"))
        if node is None:
            # A member the file does not list may only be backed up and removed.
            if step.action is not Action.REMOVE:
                problems.append((step, f"{step.node} is not a node of the cluster file"))
            elif step.command != "database cluster remove":
                problems.append((step, "unexpected command"))
            continue
        expected = {
            Action.REMOVE: "database cluster remove",
            Action.INITIALIZE: "database cluster initialize",
            Action.JOIN: f"database cluster join {master}",
            Action.CERTS: "database cluster certs " + " ".join(node.bundle.remote_names()),
        }.get(step.action)
        if expected is not None and step.command != expected:
            problems.append((step, f"the command should be {expected!r}"))
        if step.action is Action.INITIALIZE and step.node != master:
            problems.append((step, "initialize only runs on the desired master (SPEC §6.6)"))
        if step.action is Action.INITIALIZE:
            initialized = True
        if step.action is Action.JOIN and step.node == master:
            problems.append((step, "the master never joins (SPEC §6.5)"))
        if step.action is Action.REMOVE and step.node == master and initialized:
            problems.append((step, "the master would leave the cluster it just formed"))
        if step.action is Action.UPLOAD:
            upload = step.upload
            wanted = node.bundle.file(Role(upload.role)) if upload is not None else None
            if (
                upload is None
                or wanted is None
                or wanted.sha256 != upload.sha256
                or wanted.remote_name != upload.remote_name
                or wanted.path != upload.repo_path
            ):
                problems.append((step, "the upload does not match the desired file"))
    return problems
