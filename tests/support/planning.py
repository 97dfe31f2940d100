"""Build planner inputs from compact scenario data (tests/plans/*.yaml).

Live status is rendered as MMP text in the published S1 layout and parsed with the real
parser, so every scenario goes through the same path as a real node. File contents are
labels ("v1", "new-ca"): equal labels mean equal bytes, hence equal sha256.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

from reconciler.desired.models import ClusterSpec
from reconciler.desired.state import CertFile, DesiredCluster, DesiredNode, NodeBundle
from reconciler.live.models import LiveCluster, LiveFile, LiveNode
from reconciler.mmp.models import CertRole
from reconciler.mmp.parsers.status import parse_cluster_status

NOW = datetime(2026, 11, 27, 7, 40, tzinfo=UTC)
LABELS = {
    "server_key": "Server Key",
    "server_cert": "Server Certificate",
    "client_key": "Client Key",
    "client_cert": "Client Certificate",
    "ca_cert": "CA Certificate",
}


def content(label: str) -> bytes:
    return f"scenario file content: {label}\n".encode()


def desired_data(addresses: Sequence[str], master: str, files: Mapping[str, str]) -> dict[str, Any]:
    """The data ``desired_cluster`` reads for nodes cms1, cms2, ... at ``addresses``, each
    role's file (``files``: role to name) labelled "want"."""
    return {
        "master": master,
        "nodes": [{"name": f"cms{i}", "address": a} for i, a in enumerate(addresses, 1)],
        "bundle": {role: [name, "want"] for role, name in files.items()},
    }


def desired_cluster(data: dict[str, Any], name: str = "lab") -> DesiredCluster:
    nodes = data["nodes"]
    bundle: dict[str, list[str]] = data["bundle"]
    overrides: dict[str, dict[str, list[str]]] = data.get("overrides", {})
    spec = ClusterSpec.model_validate(
        {
            "name": name,
            "master": data["master"],
            "interface": data.get("interface", "a"),
            "nodes": [{"name": n["name"], "address": n["address"]} for n in nodes],
            "connected": data.get("connected", []),
            "maintenance": data.get("maintenance"),
            "ssh": {
                "username": "admin",
                "password_env": "PW",
                "known_hosts": "clusters/known_hosts",
            },
            "certs": {
                **{role: f"certs/{name}/{bundle[role][0]}" for role in LABELS},
                "key_passphrase_env": "PASS",
            },
        }
    )
    desired_nodes = []
    for node_spec in spec.nodes:
        files = {**bundle, **overrides.get(node_spec.address, {})}
        node_bundle = NodeBundle(
            **{
                role.value: CertFile.build(
                    role,
                    f"certs/{name}/{files[role.value][0]}",
                    files[role.value][0],
                    content(files[role.value][1]),
                )
                for role in CertRole
            }
        )
        desired_nodes.append(
            DesiredNode(
                spec=node_spec,
                name=node_spec.name,
                address=node_spec.address,
                ssh_host=node_spec.address,
                ssh_port=22,
                is_master=node_spec.address == data["master"],
                bundle=node_bundle,
            )
        )
    return DesiredCluster(
        name=name,
        file=f"clusters/{name}.yaml",
        spec=spec,
        nodes=tuple(desired_nodes),
        referenced_files=(),
    )


def status_text(node: dict[str, Any], address: str, wording: tuple[str, str]) -> str:
    """S1-style ``database cluster status`` output from compact scenario fields."""
    master_word, replica_word = wording
    state = node["state"]
    lines = [f"{'Status':<22}: {state}"] if state is not None else []
    if node.get("error"):
        lines.insert(0, f"{'ERROR':<22}: {node['error']}")
    members = node.get("members", {})
    if state not in ("Disabled", "Connected"):  # Connected: a call bridge, no Nodes list
        lines += ["", "Nodes:"] if lines else ["Nodes:"]
        for member, role in members.items():
            label = member + (" (me)" if member == address else "")
            text = {
                "master": f"Connected {master_word}",
                "replica": f"Connected {replica_word}",
                "in_sync": f"Connected {replica_word} ( In Sync )",
                "disconnected": "Disconnected",
            }[role]
            lines.append(f"  {label:<20}: {text}")
    lines.append(f"{'Node in use':<22}: {node.get('node_in_use', 'None')}")
    interface = node.get("interface", "a")  # null: a never-clustered node shows none
    lines += ["", f"{'Interface':<23}: {interface or ''}".rstrip(), "", "Certificates"]
    expired = set(node.get("expired", []))
    for role, label in LABELS.items():
        name = node.get("certs", {}).get(role)
        if name:
            lines.append(f"  {label:<21}: {name}" + (" (expired)" if role in expired else ""))
    if node.get("last"):
        lines += ["", f"{'Last command':<22}: {node['last']}"]
    return "\n".join(lines) + "\n"


def live_cluster(data: dict[str, Any], desired: DesiredCluster) -> LiveCluster:
    wording = (
        ("Master", "Slave")
        if data.get("wording", "master_slave") == "master_slave"
        else ("Primary", "Replica")
    )
    names = {node.address: node.name for node in desired.nodes}
    names.update({bridge.address: bridge.name for bridge in desired.spec.connected})
    nodes = _live_nodes(data["nodes"], names, wording)
    # Connected call bridges; by default each as the simulator shows one using the master,
    # holding the client key, client certificate and CA the live master is configured with.
    master = data["nodes"].get(desired.spec.master, {})
    client = ("client_key", "client_cert", "ca_cert")
    certs = {role: name for role, name in master.get("certs", {}).items() if role in client}
    files = {name: master.get("files", {}).get(name) for name in certs.values()}
    default_bridges = {
        bridge.address: {
            "state": "Connected",
            "node_in_use": desired.spec.master,
            "certs": certs,
            "files": {name: label for name, label in files.items() if label is not None},
            "interface": None,
        }
        for bridge in desired.spec.connected
    }
    bridges = _live_nodes(data.get("bridges", default_bridges), names, wording)
    return LiveCluster(name=desired.name, read_at=NOW, nodes=tuple(nodes), bridges=tuple(bridges))


def _live_nodes(
    data: dict[str, Any], names: dict[str, str], wording: tuple[str, str]
) -> list[LiveNode]:
    nodes = []
    for address, node in data.items():
        name = node.get("name", names.get(address, address))
        if "unreachable" in node:
            nodes.append(
                LiveNode(name=name, address=address, reachable=False, error=node["unreachable"])
            )
            continue
        status = parse_cluster_status(status_text(node, address, wording))
        files = {
            file_name: LiveFile(
                name=file_name,
                present=True,
                sha256=hashlib.sha256(content(label)).hexdigest(),
                size=len(content(label)),
            )
            for file_name, label in node.get("files", {}).items()
        }
        nodes.append(
            LiveNode(
                name=name,
                address=address,
                reachable=True,
                status=status,
                files=files,
                master_marker=node.get("marker"),
            )
        )
    return nodes
