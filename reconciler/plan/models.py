"""The plan (SPEC §5): what will be done, in order, on which node, and why.

A plan is data: the planner makes it without I/O, renderers show it, a saved plan file is
its JSON, and the executor runs exactly its steps.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, SerializerFunctionWrapHandler, model_serializer

from reconciler.live.caveats import Caveat

# The step kinds and their facts live in ``plan.actions``; these names stay importable here.
from reconciler.plan.actions import ASYNCHRONOUS as ASYNCHRONOUS
from reconciler.plan.actions import DESTRUCTIVE as DESTRUCTIVE
from reconciler.plan.actions import Action as Action
from reconciler.plan.actions import Expectation as Expectation
from reconciler.plan.window import WindowReport

FORMAT_VERSION = 1


class Strategy(StrEnum):
    NONE = "none"  # converged
    MEMBERSHIP = "membership"  # master untouched; nodes join or leave
    ROLLING = "rolling"  # master untouched; replicas get new certificates one at a time
    REFORM = "reform"  # the cluster is taken apart and formed again on the master


class _Model(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class UploadFile(_Model):
    """A desired file to put in a node's file area (bytes come from the desired state)."""

    role: str
    repo_path: str
    remote_name: str
    sha256: str
    size: int


class Step(_Model):
    id: int
    node: str  # the node's address
    node_name: str
    action: Action
    command: str  # the exact MMP command line, or for upload the SFTP transfer
    reason: str
    # Ids of the steps on other nodes that must be done first (plan.dependencies); steps
    # on one node run in their listed order. None: it waits for no other node.
    after: list[int] | None = None
    expect: Expectation | None = None
    upload: UploadFile | None = None
    backup_name: str | None = None


class CertificateDetail(_Model):
    """What a desired certificate file says about itself (its first certificate), so that a
    reviewer sees the new subject, issuer and expiry rather than only a hash."""

    subject: str
    issuer: str
    not_after: str  # ISO 8601, UTC, whole seconds
    fingerprint_sha256: str


class Finding(_Model):
    """One difference between live and desired (or a problem that blocks planning); a
    problem in a cluster file itself is a ``desired.findings.SpecFinding``."""

    node: str | None
    what: str
    live: str
    desired: str
    severity: Literal["change", "info", "warning", "error"]
    message: str | None = None
    desired_certificate: CertificateDetail | None = None  # certificate roles only


class DataAuthority(_Model):
    """Whose database the cluster will run on, said out loud (SPEC §6.9)."""

    source: str  # address of the node whose database becomes (or stays) the master copy
    replaces: list[str]  # addresses whose databases will be replaced by it
    statement: str
    master_change: bool  # True: apply needs --allow-master-change


class Condition(_Model):
    """What is already out of service before any step runs, said first by every renderer: a
    reviewer must not take a plan that restores a broken cluster for one that breaks it.

    ``down``: no node is master. ``taken_apart``: a master serves, but nodes of the cluster
    file were taken out of it (Disabled after a ``database cluster remove``: an apply that
    stopped part-way, or someone by hand). ``broken``: a master serves, but certificates in
    use have expired or a replica does not follow it in sync. ``detail``: the facts, node by
    node, as read.
    """

    kind: Literal["down", "taken_apart", "broken"]
    detail: str

    @property
    def label(self) -> str:
        """``already down``: how the first line of a plan says it."""
        return {
            "down": "already down",
            "taken_apart": "already partly taken apart",
            "broken": "already broken",
        }[self.kind]


class Impact(_Model):
    restarts: list[str]  # nodes whose callbridge and web admin restart (remove/initialize/join)
    max_nodes_out: int  # nodes out of the cluster at the same time, at most
    estimated_seconds: int  # upper bound from the cluster's operation timeouts
    summary: str
    # What ``estimated_seconds`` allows for one step of each action (remove/initialize/join:
    # the cluster file's timeout; the others a fixed allowance), so that a renderer can bound
    # a part of the plan, such as the steps during which the cluster is down.
    action_seconds: dict[Action, int] | None = None


class RehearsedNode(_Model):
    """A node's state at the end of a rehearsal, as the twin's status showed it."""

    name: str
    address: str
    status: str | None  # the Status word (Enabled, Disabled, Error); None when unknown
    role: Literal["master", "replica", "none"]
    in_sync: bool | None
    bridge: bool = False  # a connected call bridge: no role of its own
    uses: str | None = None  # a bridge's Node in use: the address whose database it uses

    @model_serializer(mode="wrap")
    def _bridge_fields_only_for_bridges(
        self, handler: SerializerFunctionWrapHandler
    ) -> dict[str, Any]:
        """A database node's entry stays as it was (plan files and tests compare it)."""
        data: dict[str, Any] = handler(self)
        if not self.bridge:
            data.pop("bridge", None)
            data.pop("uses", None)
        return data


class Rehearsal(_Model):
    """The plan run by the real executor against a twin of the live cluster (``--rehearse``).

    ``converges``: every step ran and planning again from the twin's end state plans nothing.
    ``problem``: the executor's own error (or why planning again still finds work), else None.
    ``device_seconds``: modelled time of the device's work (waits and operations), not of
    the rehearsal itself; ``outage_seconds``: of that, the time the cluster has no master
    serving (a re-form), 0 when it stays up. ``assumptions``: what the live read could not
    tell the twin, and what the twin assumed instead (always: that the device's operations
    succeed unless the read shows why not). ``last_command_failed``: the nodes (names) whose
    last cluster command had failed when they were read; the twin cannot know why, and
    assumes what the plan runs on them succeeds.
    """

    converges: bool
    steps_run: int
    problem: str | None = None
    device_seconds: float = 0.0
    outage_seconds: float = 0.0
    final: list[RehearsedNode] = []
    assumptions: list[str] = []
    last_command_failed: list[str] = []


class AccessFieldChange(_Model):
    """An access field that the reviewed change would set differently (``--trusted-ref``)."""

    key: str  # e.g. ssh.password_env, nodes[cms4], pins of [10.0.0.4]:22
    trusted: str | None  # what this plan used (None: not set at the trusted ref)
    proposed: str | None  # what the change proposes; it takes effect once merged


class AccessReport(_Model):
    """Where the plan's access (hosts, ports, user, secret names, pins) came from, and what the
    change being planned would alter in it (SPEC §8). Only with ``--trusted-ref``."""

    trusted_ref: str  # e.g. commit 1a2b3c4d5e6f (origin/main)
    contacted: bool  # False: no node of the cluster was contacted (``problem`` says why)
    changes: list[AccessFieldChange] = []
    not_contacted: list[str] = []  # node addresses not contacted: not trusted at the ref
    problem: str | None = None
    # Blocked only by access the change itself adds (a new cluster, a new node): nothing can be
    # planned before it is merged, and nothing else is wrong. The plan workflow's check passes
    # such a plan, labelled, for review; after merge the apply workflow plans it in full and
    # shows that plan to the approver.
    pending: bool = False


class ClusterPlan(_Model):
    name: str
    state_fingerprint: str
    strategy: Strategy
    findings: list[Finding]
    steps: list[Step]
    impact: Impact
    data_authority: DataAuthority | None = None
    blocked: bool = False  # an error finding: no step may run
    # Every node's name by address (desired nodes and members to drop), for renderers:
    # findings and data authority carry only addresses, and not every node gets a step.
    node_names: dict[str, str] | None = None
    rehearsal: Rehearsal | None = None  # only with --rehearse
    access: AccessReport | None = None  # only with --trusted-ref
    # Already out of service before any step runs (``Condition``); None when it serves as a
    # cluster, or when the plan is blocked (the read is incomplete, nothing is claimed).
    condition: Condition | None = None
    # What the verdict could not check (``live.caveats``): a converged cluster's "No
    # changes" rests on the files on disk, not on what ``database cluster certs`` loaded.
    caveats: list[Caveat] = []
    # The cluster file's maintenance windows as they stand for this plan (``plan.window``);
    # None without a ``maintenance`` key, or when the plan is blocked.
    window: WindowReport | None = None

    @property
    def errors(self) -> list[Finding]:
        return [finding for finding in self.findings if finding.severity == "error"]


class GitInfo(_Model):
    commit: str | None
    dirty: bool


class Plan(_Model):
    format_version: int = FORMAT_VERSION
    git: GitInfo
    created_at: str
    # ``--recertify``: every node re-loads its certificates, even where the files match (a
    # re-form). Recorded so that ``apply --plan-file`` plans again exactly as reviewed.
    recertify: bool = False
    clusters: list[ClusterPlan]

    @property
    def has_changes(self) -> bool:
        return any(cluster.steps for cluster in self.clusters)

    @property
    def blocked(self) -> bool:
        return any(cluster.blocked for cluster in self.clusters)

    @property
    def rehearsal_failed(self) -> bool:
        """A cluster was rehearsed on its twin and did not converge there."""
        return any(
            cluster.rehearsal is not None and not cluster.rehearsal.converges
            for cluster in self.clusters
        )
