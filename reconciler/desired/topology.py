"""Rules across values of a valid ``ClusterSpec``: names, addresses, master, node count.

A wrong ``join`` destroys a database, so anything that makes the node list ambiguous (two
nodes with one address or one SSH endpoint, a master that is not a node) is an error.
"""

from __future__ import annotations

import ipaddress

from reconciler.desired.findings import FindingList
from reconciler.desired.models import ClusterSpec

_MAX_NODES_NOTE = (
    "the reference conflicts on the maximum: Cisco TAC note 210530 says only 3 nodes can "
    "join a database cluster (more via `database cluster connect`), note 216183 says at "
    "most five database servers"
)


def check_topology(spec: ClusterSpec, stem: str, findings: FindingList) -> None:
    if spec.name != stem:
        findings.error(
            "name",
            f"name {spec.name!r} does not match the file name {stem!r}; "
            f"rename the file to {spec.name}.yaml or set name: {stem}",
        )
    _unique(spec, findings)
    _connected(spec, findings)
    _master(spec, findings)
    _node_count(spec, findings)


def _unique(spec: ClusterSpec, findings: FindingList) -> None:
    names: dict[str, int] = {}
    addresses: dict[str, int] = {}
    endpoints: dict[tuple[str, int], int] = {}
    for index, node in enumerate(spec.nodes):
        key = f"nodes[{index}]"
        if node.name in names:
            findings.error(
                f"{key}.name",
                f"duplicate node name {node.name!r} (also nodes[{names[node.name]}]); "
                "give each node its own MMP hostname",
            )
        names.setdefault(node.name, index)
        if node.address in addresses:
            findings.error(
                f"{key}.address",
                f"duplicate address {node.address} (also nodes[{addresses[node.address]}]); "
                "give each node its own address",
            )
        addresses.setdefault(node.address, index)
        endpoint = (node.effective_ssh_host, spec.ssh_port_of(node))
        other = endpoints.get(endpoint)
        # Same address already reported above; same endpoint alone is its own mistake.
        if other is not None and spec.nodes[other].address != node.address:
            findings.error(
                f"{key}.ssh_host" if node.ssh_host else f"{key}.ssh_port",
                f"SSH endpoint {endpoint[0]}:{endpoint[1]} is also used by "
                f"nodes[{other}]; commands for two nodes would reach one machine",
            )
        endpoints.setdefault(endpoint, index)


def _connected(spec: ClusterSpec, findings: FindingList) -> None:
    """Connected call bridges are other machines than the nodes and than each other."""
    names = {node.name: f"nodes[{index}]" for index, node in enumerate(spec.nodes)}
    addresses = {node.address: f"nodes[{index}]" for index, node in enumerate(spec.nodes)}
    endpoints = {
        (node.effective_ssh_host, spec.ssh_port_of(node)): f"nodes[{index}]"
        for index, node in enumerate(spec.nodes)
    }
    for index, bridge in enumerate(spec.connected):
        key = f"connected[{index}]"
        if bridge.name in names:
            findings.error(
                f"{key}.name",
                f"duplicate name {bridge.name!r} (also {names[bridge.name]}); a connected "
                "call bridge is another machine than the nodes: give it its own MMP hostname",
            )
        names.setdefault(bridge.name, key)
        also = addresses.get(bridge.address)
        if also is not None:
            findings.error(
                f"{key}.address",
                f"duplicate address {bridge.address} (also {also}); "
                + (
                    "a connected call bridge has no local database and is not a node: list a "
                    "machine either in nodes or in connected"
                    if also.startswith("nodes")
                    else "give each call bridge its own address"
                ),
            )
        addresses.setdefault(bridge.address, key)
        endpoint = (bridge.effective_ssh_host, spec.ssh_port_of(bridge))
        other = endpoints.get(endpoint)
        # Same address already reported above; same endpoint alone is its own mistake.
        if other is not None and also is None:
            findings.error(
                f"{key}.ssh_host" if bridge.ssh_host else f"{key}.ssh_port",
                f"SSH endpoint {endpoint[0]}:{endpoint[1]} is also used by {other}; "
                "commands for two machines would reach one",
            )
        endpoints.setdefault(endpoint, key)


def _master(spec: ClusterSpec, findings: FindingList) -> None:
    if spec.master_node() is not None:
        return
    by_name = next(
        (index for index, node in enumerate(spec.nodes) if node.name == spec.master), None
    )
    known = ", ".join(node.address for node in spec.nodes)
    if by_name is not None:
        node = spec.nodes[by_name]
        findings.error(
            "master",
            f"master {spec.master!r} is the name of nodes[{by_name}]; master must be an "
            f"address: write master: {node.address}",
        )
        return
    try:
        ipaddress.ip_address(spec.master.strip())
    except ValueError:
        findings.error(
            "master",
            f"master {spec.master!r} is not an IP address; it must be the address of one of "
            f"the nodes ({known})",
        )
        return
    findings.error(
        "master",
        f"master {spec.master} is not the address of any node (nodes: {known}); "
        "set it to the node whose database must survive",
    )


def _node_count(spec: ClusterSpec, findings: FindingList) -> None:
    count = len(spec.nodes)
    if count > 5:
        findings.warning(
            "nodes",
            f"{count} nodes: more than five database nodes is not supported ({_MAX_NODES_NOTE})",
        )
    elif count % 2 == 0:
        findings.warning(
            "nodes",
            f"{count} nodes: an even node count weakens primary election (a new primary needs "
            "to see more than half of the nodes); Cisco recommends an odd number, 3 or 5 "
            f"({_MAX_NODES_NOTE})",
        )
    elif count < 3:
        findings.warning(
            "nodes",
            f"{count} node: Cisco recommends at least 3 database nodes for a viable cluster",
        )
