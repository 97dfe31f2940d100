"""``database cluster status`` as the device prints it (reference §1.3)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from reconciler.simulator import pki
from reconciler.simulator.choices import say
from reconciler.simulator.cluster import ClusterModel, address_key
from reconciler.simulator.state import SimNode, Wording

CERT_LABELS: tuple[tuple[str, str], ...] = (
    ("server_key", "Server Key"),
    ("server_cert", "Server Certificate"),
    ("client_key", "Client Key"),
    ("client_cert", "Client Certificate"),
    ("ca_cert", "CA Certificate"),
)
TRANSITIONAL = {
    "remove": "Disabling (Started {seconds} seconds ago)",  # confirmed by S1
    "initialize": say("status.initializing", seconds="{seconds}"),
    "join": say("status.joining", seconds="{seconds}"),
    "upgrade_schema": say("status.upgrading", seconds="{seconds}"),
}


@dataclass(frozen=True)
class Layout:
    """Column of the ``:`` and indents, as measured on the published transcripts (§1.3.10)."""

    colon: int
    colon_certs: int
    node_indent: int
    cert_indent: int


# S1 (Master/Slave) aligns at 22 (23 for Interface and certificates), nodes indented 2;
# S2 (Primary/Replica) aligns everything at 25, nodes indented 4.
LAYOUTS = {
    Wording.MASTER_SLAVE: Layout(colon=22, colon_certs=23, node_indent=2, cert_indent=2),
    Wording.PRIMARY_REPLICA: Layout(colon=25, colon_certs=25, node_indent=4, cert_indent=2),
}


def _field(label: str, value: str, colon: int) -> str:
    return f"{label.ljust(colon)}: {value}".rstrip()


def render_status(model: ClusterModel, node: SimNode) -> str:
    """The full status block for ``node`` (caller holds the lock and has settled)."""
    layout = LAYOUTS[model.wording]
    now = model.clock.now()
    if node.connected_to is not None and node.group is None and node.operation is None:
        # A call bridge attached with connect: the simulator's choice (status.connected).
        in_use = model.bridge_database(node, now) or "None"
        head = [
            _field("Status", say("status.connected"), layout.colon),
            _field("Node in use", in_use, layout.colon),
        ]
    else:
        head = [*_status_lines(node, layout, now), *_node_lines(model, node, layout)]
    lines = [
        *head,
        "",
        _field("Interface", node.interface or "", layout.colon_certs),
        "",
        "Certificates",
        *_certificate_lines(node, layout, now),
    ]
    if node.last_command is not None and node.operation is None:
        command, result = node.last_command
        lines += ["", _field("Last command", f"'{command}' ({result})", layout.colon)]
    return "\n".join(lines) + "\n"


def _status_lines(node: SimNode, layout: Layout, now: datetime) -> list[str]:
    """The error of the last operation (while none runs) and the status line."""
    operation = node.operation
    if operation is None:
        error = [_field("ERROR", node.error, layout.colon)] if node.error else []
        return [*error, _field("Status", node.status, layout.colon)]
    seconds = int((now - operation.started).total_seconds())
    # A say-status fault (issue 24) replaces the simulator's choice of words.
    said = node.faults.says.get(f"status:{operation.kind}", TRANSITIONAL[operation.kind])
    status = said.replace("{seconds}", str(seconds))
    return [_field("Status", status, layout.colon)]


def _node_lines(model: ClusterModel, node: SimNode, layout: Layout) -> list[str]:
    """The members as this node sees them, then the node in use; no list while not clustered."""
    if node.operation is not None:
        said = node.faults.says.get(f"member:{node.operation.kind}")  # a say-member fault
        me = (
            []
            if said is None
            else [_field(f"{' ' * layout.node_indent}{node.address} (me)", said, layout.colon)]
        )
        return ["", "Nodes:", *me, _field("Node in use", "None", layout.colon)]
    if node.status != "Disabled" and node.group is not None:
        in_use = _field("Node in use", node.last_seen_master or "None", layout.colon)
        return ["", "Nodes:", *_member_lines(model, node, layout), in_use]
    return [_field("Node in use", "None", layout.colon)]


def _certificate_lines(node: SimNode, layout: Layout, now: datetime) -> list[str]:
    if node.certs is None:
        return []
    lines = []
    for role, label in CERT_LABELS:
        name = node.certs.files.get(role)
        if name is None:
            continue
        marker = ""
        if role.endswith("_cert"):
            cert = pki.leaf(node.certs.contents[role])
            if cert is not None and pki.expired(cert, now):
                marker = " (expired)"
        indented = " " * layout.cert_indent + label
        lines.append(_field(indented, name + marker, layout.colon_certs))
    return lines


def _member_lines(model: ClusterModel, node: SimNode, layout: Layout) -> list[str]:
    group = node.group
    assert group is not None
    now = model.clock.now()
    lines = []
    for address in sorted(group.members, key=address_key):
        member = model.nodes[address]
        label = " " * layout.node_indent + address + (" (me)" if address == node.address else "")
        if address != node.address and not model.visible(node.address, address):
            state = "Disconnected"
        elif address == group.master:
            state = f"Connected {model.wording.master}"
        else:
            state = f"Connected {model.wording.replica}"
            if model.in_sync(member, now):
                state += " ( In Sync )"
            else:
                state += say("replica.out_of_sync")
        lines.append(_field(label, state, layout.colon))
    return lines
