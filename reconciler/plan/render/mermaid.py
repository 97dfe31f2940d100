"""The order of a plan's phases as a Mermaid flowchart (GitHub draws ```mermaid blocks).

A phase is a run of consecutive steps of one kind (uploads and ``certs`` are one kind,
"certificates"); a ``remove`` or ``initialize`` of the master is a phase of its own, so a
re-form reads: backup all, remove replicas, remove the master, certificates, initialize the
master, join the replicas. The first box names the nodes and the master.

Every label is quoted and every character outside a small safe set becomes a Mermaid entity
code (``#34;``), so a node name cannot end a label, start a comment or close the code block.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from reconciler.plan.models import Action, ClusterPlan
from reconciler.plan.render.common import node_names

MAX_PHASES = 30  # beyond this a drawing no longer helps; the step list says it all
WIDE_PHASES = 6  # up to this many phases, left to right; more, top to bottom
_UNSAFE = re.compile(r"[^A-Za-z0-9 .,:_/()+-]")
# Each step kind's phase (a test fails naming an Action missing here), and a phase's colour.
ACTION_KIND = {
    Action.BACKUP: "backup",
    Action.UPLOAD: "certificates",
    Action.CERTS: "certificates",
    Action.LOCALNODE: "interface",
    Action.REMOVE: "remove",
    Action.INITIALIZE: "initialize",
    Action.JOIN: "join",
    Action.CONNECT: "connect",
}
KIND_CLASS = {"remove": "down", "initialize": "up", "join": "up", "connect": "up"}
_CLASS_DEFS = (
    "classDef down fill:#fde2e2,stroke:#c62828,color:#000",
    "classDef up fill:#e3f4e1,stroke:#2e7d32,color:#000",
    "classDef nodes fill:#eef,stroke:#558,color:#000",
)


def mermaid_label(text: str) -> str:
    """Text safe inside a quoted Mermaid label: anything unusual as ``#<code>;``."""
    return _UNSAFE.sub(lambda match: f"#{ord(match.group())};", text)


@dataclass
class _Phase:
    kind: str
    master: bool
    first: int
    last: int
    nodes: list[str] = field(default_factory=list)

    def label(self) -> str:
        if self.first == self.last:
            steps = f"step {self.first}"
        else:
            steps = f"steps {self.first}-{self.last}"
        who = ", ".join(self.nodes) + (" (master)" if self.master else "")
        return f"{mermaid_label(steps)}<br/>{mermaid_label(f'{self.kind} {who}')}"


def phases(cluster: ClusterPlan) -> list[_Phase]:
    """Consecutive steps of one kind, in order; the master's remove/initialize apart."""
    names = node_names(cluster)
    master = cluster.data_authority.source if cluster.data_authority is not None else None
    found: list[_Phase] = []
    for step in cluster.steps:
        kind = ACTION_KIND[step.action]
        is_master = step.node == master and step.action in (Action.REMOVE, Action.INITIALIZE)
        current = found[-1] if found else None
        if current is None or current.kind != kind or current.master != is_master:
            current = _Phase(kind, is_master, step.id, step.id)
            found.append(current)
        current.last = step.id
        name = names.get(step.node, step.node)
        if name not in current.nodes:
            current.nodes.append(name)
    return found


def mermaid_block(cluster: ClusterPlan) -> str | None:
    """A ```mermaid flowchart of the plan's phases, or None when there is nothing to draw."""
    if cluster.blocked or not cluster.steps:
        return None
    found = phases(cluster)
    if len(found) > MAX_PHASES:
        return None
    direction = "LR" if len(found) <= WIDE_PHASES else "TD"
    lines = [f"flowchart {direction}", f'  nodes(["{_nodes_label(cluster)}"]):::nodes']
    previous = "nodes"
    for number, phase in enumerate(found, start=1):
        box = f"p{number}"
        style = KIND_CLASS.get(phase.kind)
        line = f'  {previous} --> {box}["{phase.label()}"]'
        lines.append(line + (f":::{style}" if style else ""))
        previous = box
    lines += [f"  {definition}" for definition in _CLASS_DEFS]
    return "```mermaid\n" + "\n".join(lines) + "\n```\n"


def _nodes_label(cluster: ClusterPlan) -> str:
    names = node_names(cluster)
    authority = cluster.data_authority
    master = authority.source if authority is not None else None
    if master is not None:
        names.setdefault(master, master)  # a master that gets no step (the plan names it not)
    lines = [mermaid_label(f"cluster {cluster.name}")]
    for address in sorted(names, key=lambda address: address != master):
        name = names[address]
        text = address if name == address else f"{name} {address}"
        lines.append(mermaid_label(text + (" (master)" if address == master else "")))
    return "<br/>".join(lines)
