"""Live state for people (a rich table per cluster) and for machines (SPEC "Status JSON")."""

from __future__ import annotations

from typing import Any

from rich.console import Console
from rich.table import Table
from rich.text import Text

from reconciler.live.models import CERT_ROLES, LiveCluster, LiveNode

KEY_ROLES = ("server_key", "client_key")


def node_json(node: LiveNode) -> dict[str, Any]:
    """One node of the Status JSON; key hashes stay internal (only certificates get sha256)."""
    status = node.status
    data: dict[str, Any] = {
        "name": node.name,
        "address": node.address,
        "reachable": node.reachable,
        "error": node.error,
        "status": None,
        "status_text": None,
        "role": None,
        "in_sync": None,
        "node_in_use": None,
        "interface": None,
        "members": [],
        "certificates": {},
        "last_command": None,
    }
    if status is None:
        return data
    certificates: dict[str, Any] = {}
    for role in CERT_ROLES:
        ref = getattr(status.certificates, role)
        if ref is None:
            continue
        entry: dict[str, Any] = {"file": ref.file, "expired": ref.expired}
        live_file = node.files.get(ref.file)
        if role not in KEY_ROLES and live_file is not None:
            entry["sha256"] = live_file.sha256
            entry["present"] = live_file.present
        certificates[role] = entry
    data.update(
        status=status.state,
        status_text=status.status_text,
        role=status.role,
        in_sync=status.in_sync,
        node_in_use=status.node_in_use,
        interface=status.interface,
        members=[
            {"address": member.address, "me": member.me, "state": member.state}
            for member in status.members
        ],
        certificates=certificates,
        last_command=status.last_command.model_dump() if status.last_command else None,
    )
    return data


def status_json(clusters: list[LiveCluster]) -> dict[str, Any]:
    return {
        "clusters": [
            {
                "name": cluster.name,
                "read_at": cluster.read_at.isoformat(),
                "nodes": [node_json(node) for node in cluster.nodes],
            }
            for cluster in clusters
        ]
    }


def print_status(clusters: list[LiveCluster], console: Console) -> None:
    """Two tables per cluster: membership, then the certificate files each node uses."""
    for cluster in clusters:
        nodes = Table(title=f"cluster {cluster.name}", title_justify="left")
        for column in ("node", "address", "status", "role", "sync", "node in use", "last command"):
            nodes.add_column(column)
        certificates = Table(title=f"cluster {cluster.name}: certificates", title_justify="left")
        for column in ("node", "server key", "server cert", "client key", "client cert", "CA"):
            certificates.add_column(column)
        for node in cluster.nodes:
            nodes.add_row(*_node_row(node))
            if node.status is not None:
                certificates.add_row(node.name, *_cert_cells(node))
        console.print(nodes)
        if certificates.row_count:
            console.print(certificates)
        for node in cluster.nodes:
            if node.error:
                console.print(Text(f"{node.name} ({node.address}): {node.error}", style="red"))


def _node_row(node: LiveNode) -> list[Text | str]:
    status = node.status
    if status is None:
        state = "unreachable" if not node.reachable else "unreadable"
        return [node.name, node.address, Text(state, style="bold red"), "", "", "", ""]
    state_style = {"Enabled": "green", "Disabled": "yellow", "Error": "bold red"}.get(
        status.state or "", "cyan"
    )
    sync = "" if status.in_sync is None else ("in sync" if status.in_sync else "NOT in sync")
    last = ""
    if status.last_command is not None:
        last = f"{status.last_command.command} ({status.last_command.result})"
    return [
        node.name,
        node.address,
        Text(status.status_text or "?", style=state_style),
        status.role,
        Text(sync, style="green" if status.in_sync else "red"),
        status.node_in_use or "None",
        last,
    ]


def _cert_cells(node: LiveNode) -> list[Text]:
    assert node.status is not None
    cells = []
    for role in CERT_ROLES:
        ref = getattr(node.status.certificates, role)
        if ref is None:
            cells.append(Text("-", style="dim"))
        elif ref.expired:
            cells.append(Text(f"{ref.file} (expired)", style="bold red"))
        else:
            cells.append(Text(ref.file))
    return cells
