"""Check a plan against the desired state before its first command (SPEC §6).

The planner already keeps these rules; the executor checks them again because a plan can
also come from a file. A step that breaks one stops the apply before anything is sent.
"""

from __future__ import annotations

import re

from reconciler.desired.state import DesiredCluster, DesiredNode
from reconciler.mmp.models import CertRole
from reconciler.plan.actions import ACTIONS, DESIRED_FIELDS, DESTRUCTIVE, Action
from reconciler.plan.models import ClusterPlan, Step

BACKUP_COMMAND = re.compile(r"^backup snapshot [A-Za-z0-9_-]+$")


def plan_problems(plan: ClusterPlan, desired: DesiredCluster) -> list[tuple[Step, str]]:
    """Every step that must not run, with the rule it breaks."""
    rules = _Rules(desired, reform=any(step.action is Action.INITIALIZE for step in plan.steps))
    return [(step, why) for step in plan.steps for why in rules.problems(step)]


class _Rules:
    """The rules, read in plan order: some depend on what came before a step (which nodes
    were backed up, whether the new cluster was formed)."""

    def __init__(self, desired: DesiredCluster, *, reform: bool) -> None:
        self.master = desired.master.address
        self.interface = desired.spec.interface
        self.nodes = {node.address: node for node in desired.nodes}
        self.bridges = {bridge.address for bridge in desired.spec.connected}
        self.bridge_files = {file.remote_name: file for file in desired.bridge_files()}
        self.reform = reform
        self.backed_up: set[str] = set()
        self.initialized = False

    def problems(self, step: Step) -> list[str]:
        """The rules ``step`` breaks, given the steps before it."""
        if step.action is Action.BACKUP:
            self.backed_up.add(step.node)
            return _backup_problems(step)
        found = []
        if step.action in DESTRUCTIVE and step.node not in self.backed_up:
            found.append("destructive step before a backup of this node (SPEC §6.2)")
        if step.node in self.bridges:
            return found + self._bridge_problems(step)
        if step.action is Action.CONNECT:
            return [*found, "connect only runs on a call bridge listed under connected:"]
        node = self.nodes.get(step.node)
        if node is None:
            return found + _undesired_node_problems(step)
        found += _command_problems(step, node, self.master, self.interface)
        found += self._master_problems(step)
        if step.action is Action.UPLOAD:
            found += _upload_problems(step, node)
        return found

    def _bridge_problems(self, step: Step) -> list[str]:
        """A connected call bridge gets its client files, the three-file ``certs`` and
        ``connect`` to the master, once the master has formed the cluster (a re-form)."""
        if step.action is Action.UPLOAD:
            upload = step.upload
            wanted = self.bridge_files.get(upload.remote_name) if upload is not None else None
            if (
                upload is None
                or wanted is None
                or wanted.role.value != upload.role
                or wanted.sha256 != upload.sha256
                or wanted.path != upload.repo_path
            ):
                return ["the upload is not one of the cluster's client files for a call bridge"]
            return []
        if step.action not in (Action.CERTS, Action.CONNECT):
            return [
                f"a call bridge gets no {step.action.value}: only its client files, the "
                "three-file certs and connect"
            ]
        if step.action is Action.CONNECT and self.reform and not self.initialized:
            return ["a call bridge connects only once the master has formed the cluster"]
        expected = ACTIONS[step.action].command_line(
            master=self.master, files=" ".join(self.bridge_files)
        )
        if step.command != expected:
            return [f"the command should be {expected!r}"]
        return []

    def _master_problems(self, step: Step) -> list[str]:
        """Only the master forms the cluster, never joins, and stays in what it formed."""
        found = []
        on_master = step.node == self.master
        if step.action is Action.INITIALIZE:
            if not on_master:
                found.append("initialize only runs on the desired master (SPEC §6.6)")
            self.initialized = True
        elif step.action is Action.JOIN and on_master:
            found.append("the master never joins (SPEC §6.5)")
        elif step.action is Action.REMOVE and on_master and self.initialized:
            found.append("the master would leave the cluster it just formed")
        return found


def _backup_problems(step: Step) -> list[str]:
    if not BACKUP_COMMAND.match(step.command) or step.backup_name != step.command.split()[-1]:
        return ["not a backup snapshot command"]
    return []


def _undesired_node_problems(step: Step) -> list[str]:
    """A member the file does not list may only be backed up and removed."""
    if step.action is not Action.REMOVE:
        return [f"{step.node} is not a node of the cluster file"]
    if step.command != ACTIONS[Action.REMOVE].command:
        return ["unexpected command"]
    return []


def _command_problems(
    step: Step, node: DesiredNode, master: str, interface: str | None
) -> list[str]:
    """The MMP command line each action must send, exactly, where the desired state makes
    all of it (``plan.actions.DESIRED_FIELDS``); a backup and an upload have their own rules."""
    spec = ACTIONS[step.action]
    if not spec.fields <= DESIRED_FIELDS:
        return []
    if "interface" in spec.fields and not interface:
        return ["the cluster file names no interface to set"]
    expected = spec.command_line(
        master=master, interface=interface or "", files=" ".join(node.bundle.remote_names())
    )
    if step.command != expected:
        return [f"the command should be {expected!r}"]
    return []


def _upload_problems(step: Step, node: DesiredNode) -> list[str]:
    upload = step.upload
    wanted = node.bundle.file(CertRole(upload.role)) if upload is not None else None
    if (
        upload is None
        or wanted is None
        or wanted.sha256 != upload.sha256
        or wanted.remote_name != upload.remote_name
        or wanted.path != upload.repo_path
    ):
        return ["the upload does not match the desired file"]
    return []
