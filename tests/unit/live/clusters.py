"""Live clusters for the status tests: statuses in the S1 layout, parsed by the real parser.

Every certificate's expiry is given directly (``LiveFile.not_after``), relative to ``NOW``,
the moment the nodes were "read": the verdicts never depend on the clock of the test run.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from reconciler.live.health import ClusterReport
from reconciler.live.models import LiveCluster, LiveFile, LiveNode
from reconciler.mmp.parsers.status import parse_cluster_status
from tests.support.planning import status_text

NOW = datetime(2026, 12, 2, 9, 30, tzinfo=UTC)
RENEW_BEFORE = timedelta(days=30)
ROLES = ("server_key", "server_cert", "client_key", "client_cert", "ca_cert")


@dataclass
class Node:
    """A node as its status shows it, with each certificate's expiry in days from NOW."""

    name: str
    address: str
    master: str
    files: dict[str, str]  # role -> file name
    expires_in: dict[str, float] = field(default_factory=dict)  # role -> days from NOW
    expired: tuple[str, ...] = ()  # roles the node marks "(expired)"
    unreachable: str | None = None
    missing: tuple[str, ...] = ()  # roles whose file is not on the node
    state: str = "Enabled"
    shows_itself: str = "in_sync"  # a replica's own line: in_sync, replica or disconnected
    last: str | None = None  # the Last command line, when not the one that made it a member
    sees_master: bool = True  # False: its master's line reads Disconnected (a partition)


def live_node(node: Node, members: list[str]) -> LiveNode:
    if node.unreachable is not None:
        return LiveNode(
            name=node.name, address=node.address, reachable=False, error=node.unreachable
        )
    role = "master" if node.address == node.master else node.shows_itself
    data = {
        "state": node.state,
        "members": {
            member: (
                ("master" if node.sees_master else "disconnected")
                if member == node.master
                else "in_sync"
            )
            for member in members
            if member in (node.address, node.master)
        }
        | {node.address: role},
        "node_in_use": node.master,
        "certs": node.files,
        "expired": list(node.expired),
        "last": node.last
        or (
            "'database cluster initialize' (Success)"
            if node.address == node.master
            else f"'database cluster join {node.master}' (Success)"
        ),
    }
    status = parse_cluster_status(status_text(data, node.address, ("Master", "Slave")))
    files = {}
    for file_role, name in node.files.items():
        days = node.expires_in.get(file_role)
        files[name] = LiveFile(
            name=name,
            present=file_role not in node.missing,
            sha256=None if file_role in node.missing else "0" * 64,
            not_after=None if days is None else NOW + timedelta(days=days),
            source="none" if file_role in node.missing else "sftp",
        )
    return LiveNode(
        name=node.name, address=node.address, reachable=True, status=status, files=files
    )


def report(
    nodes: list[Node],
    *,
    name: str = "lab",
    renew_before: timedelta = RENEW_BEFORE,
    master: str | None = None,
) -> ClusterReport:
    """``master``: the cluster file's (by default the master the first node follows)."""
    members = [node.address for node in nodes]
    live = LiveCluster(
        name=name, read_at=NOW, nodes=tuple(live_node(node, members) for node in nodes)
    )
    return ClusterReport(live=live, renew_before=renew_before, master=master or nodes[0].master)


LAB_FILES = {
    "server_key": "dbclusterserver.key",
    "server_cert": "dbclusterserver.cer",
    "client_key": "dbclusterclient.key",
    "client_cert": "EXPRSVR.cer",
    "ca_cert": "CA.cer",
}
# The seed lab: server and client certificates expired on 2017-03-09 08:57:17 UTC.
SEED_EXPIRY = (datetime(2017, 3, 9, 8, 57, 17, tzinfo=UTC) - NOW) / timedelta(days=1)
CA_EXPIRY = (datetime(2035, 3, 9, 8, 57, 17, tzinfo=UTC) - NOW) / timedelta(days=1)


def ipv4_lab(**changes: dict[str, float]) -> list[Node]:
    """Three IPv4 nodes as the Cisco tech note found them (certificates expired)."""
    master = "127.0.85.73"
    return [
        Node(
            name=f"cms{index}",
            address=f"127.0.85.{72 + index}",
            master=master,
            files=dict(LAB_FILES),
            expires_in={
                "server_cert": SEED_EXPIRY,
                "client_cert": SEED_EXPIRY,
                "ca_cert": CA_EXPIRY,
            }
            | changes.get(f"cms{index}", {}),
            expired=("server_cert", "client_cert"),
        )
        for index in (1, 2, 3)
    ]


def ipv6_cluster() -> list[Node]:
    """Five nodes on full-length IPv6 addresses, each with its own, long, file names."""
    master = "2001:0db8:0085:4c00:0000:0000:0000:0011"
    nodes = []
    for index, days in enumerate((400.0, 12.5, 0.25, -3.0, 900.0), start=1):
        name = f"cms-lon-dc{index}"
        nodes.append(
            Node(
                name=name,
                address=f"2001:0db8:0085:4c00:0000:0000:0000:00{10 + index}",
                master=master,
                files={
                    "server_key": f"{name}-dbclusterserver.key",
                    "server_cert": f"{name}-dbclusterserver.cer",
                    "client_key": "dbclusterclient.key",
                    "client_cert": "dbclusterclient.cer",
                    "ca_cert": "corporate-root-and-issuing-ca-2026.cer",
                },
                expires_in={"server_cert": days, "client_cert": 700.0, "ca_cert": 3000.0},
            )
        )
    return nodes
