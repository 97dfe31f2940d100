"""Cluster semantics: membership, election, replication and asynchronous operations.

Time is the simulator's clock, and state moves lazily: every read or command first
``settle()``s, which completes due operations in the order they finish, re-runs the
election and lets in-sync replicas follow their master's data. That keeps the simulator
free of timer threads and lets tests move the clock.
"""

from __future__ import annotations

import ipaddress
import itertools
import threading
from collections.abc import Iterable
from datetime import datetime, timedelta

from reconciler.simulator import pki
from reconciler.simulator.state import (
    CERT_ROLES,
    CLIENT_ROLES,
    CertConfig,
    Durations,
    Group,
    LogEntry,
    Operation,
    SimClock,
    SimNode,
    Wording,
)

SCHEMA_ERROR = "Couldn't upgrade the schema"


def address_key(address: str) -> tuple[int, int]:
    parsed = ipaddress.ip_address(address)
    return (parsed.version, int(parsed))


class ClusterModel:
    """All simulated nodes of one lab and the network between them."""

    def __init__(
        self,
        nodes: Iterable[SimNode],
        *,
        wording: Wording = Wording.MASTER_SLAVE,
        durations: Durations | None = None,
        clock: SimClock | None = None,
        visibility_needs_tls: bool = False,
    ) -> None:
        self.lock = threading.RLock()
        self.wording = wording
        self.durations = durations or Durations()
        self.clock = clock or SimClock()
        self.nodes: dict[str, SimNode] = {node.address: node for node in nodes}
        self.partitions: set[frozenset[str]] = set()
        self.visibility_needs_tls = visibility_needs_tls
        self._group_ids = itertools.count(1)
        self.events: list[str] = []  # why operations failed, for test diagnostics

    # --- lookup ----------------------------------------------------------------------
    def node(self, key: str) -> SimNode:
        """A node by address or name."""
        if key in self.nodes:
            return self.nodes[key]
        for node in self.nodes.values():
            if node.name == key:
                return node
        raise KeyError(f"no simulated node {key!r}")

    def new_group(self, members: list[str], master: str | None) -> Group:
        return Group(next(self._group_ids), list(members), master)

    def log(self, node: SimNode, user: str, kind: str, detail: str) -> None:
        with self.lock:
            node.log.append(LogEntry(self.clock.now(), user, kind, detail))

    # --- network and TLS -------------------------------------------------------------------
    def reachable(self, a: str, b: str) -> bool:
        """Network path between two nodes (both up, not partitioned)."""
        if a == b:
            return not self.nodes[a].faults.down
        node_a, node_b = self.nodes.get(a), self.nodes.get(b)
        if node_a is None or node_b is None or node_a.faults.down or node_b.faults.down:
            return False
        return frozenset((a, b)) not in self.partitions

    def visible(self, a: str, b: str) -> bool:
        """Whether two members see each other (for the election and ``Disconnected``).

        By default that is the network alone; with ``visibility_needs_tls`` (the other
        reading of S1's "nodes stop talking to each other") broken TLS hides peers too.
        """
        if not self.reachable(a, b):
            return False
        if a == b or not self.visibility_needs_tls:
            return True
        return self.tls_problem(self.nodes[a], self.nodes[b], self.clock.now()) is None

    def tls_problem(self, joiner: SimNode, master: SimNode, now: datetime) -> str | None:
        """Why the two nodes' database services cannot talk over mutual TLS, or None."""
        for node in (joiner, master):
            problem = self._own_cert_problem(node, now)
            if problem:
                return problem
        for a, b in ((joiner, master), (master, joiner)):
            assert a.certs is not None
            assert b.certs is not None
            bundle = pki.read_file_content(b.certs.contents["ca_cert"]).certificates
            for role in ("server_cert", "client_cert"):
                cert = pki.leaf(a.certs.contents[role])
                if cert is None or not pki.chains_to(cert, bundle, now):
                    return f"{a.name} {role} does not chain to {b.name}'s CA"
        return None

    def _own_cert_problem(self, node: SimNode, now: datetime) -> str | None:
        if node.certs is None or any(role not in node.certs.contents for role in CERT_ROLES):
            return f"{node.name} has no database cluster certificates configured"
        contents = node.certs.contents
        for role in ("server_cert", "client_cert", "ca_cert"):
            cert = pki.leaf(contents[role])
            if cert is None:
                return f"{node.name} {role} is not a certificate"
            if not pki.within_validity(cert, now):
                return f"{node.name} {role} is not within its validity"
        for key_role, cert_role in (("server_key", "server_cert"), ("client_key", "client_cert")):
            key = pki.read_file_content(contents[key_role]).private_key
            cert = pki.leaf(contents[cert_role])
            if key is None or cert is None or not _key_matches(key, cert):
                return f"{node.name} {key_role} does not match {cert_role}"
        client = pki.leaf(contents["client_cert"])
        if client is None or pki.common_name(client) != "postgres":
            return f"{node.name} client certificate CN is not postgres"
        return None

    def bridge_database(self, bridge: SimNode, now: datetime) -> str | None:
        """The master a connected call bridge uses (``database cluster connect``), or None.

        It uses the master of the cluster the node it was given belongs to, when it can reach
        that master and their TLS works: its client certificate chains to the master's CA and
        the master's server certificate to its own CA (choice ``rule.connected_bridge``).
        """
        given = self.nodes.get(bridge.connected_to or "")
        if given is None or given.group is None or given.status != "Enabled":
            return None
        master_address = given.group.master
        master = self.nodes.get(master_address or "")
        if master is None or not self.reachable(bridge.address, master.address):
            return None
        return master.address if self.bridge_tls_problem(bridge, master, now) is None else None

    def bridge_tls_problem(self, bridge: SimNode, master: SimNode, now: datetime) -> str | None:
        """Why a call bridge's client certificate and CA do not work with ``master``."""
        if self._own_cert_problem(master, now):
            return f"{master.name} cannot serve"
        certs = bridge.connected_with  # what certs had loaded when it connected
        if certs is None or any(role not in certs.contents for role in CLIENT_ROLES):
            return f"{bridge.name} connected with no client certificate and CA loaded"
        assert master.certs is not None
        client = pki.leaf(certs.contents["client_cert"])
        key = pki.read_file_content(certs.contents["client_key"]).private_key
        if client is None or key is None or not _key_matches(key, client):
            return f"{bridge.name} client_key does not match client_cert"
        if not pki.within_validity(client, now) or pki.common_name(client) != "postgres":
            return f"{bridge.name} client certificate is expired or not CN postgres"
        master_bundle = pki.read_file_content(master.certs.contents["ca_cert"]).certificates
        if not pki.chains_to(client, master_bundle, now):
            return f"{bridge.name} client_cert does not chain to {master.name}'s CA"
        own_bundle = pki.read_file_content(certs.contents["ca_cert"]).certificates
        server = pki.leaf(master.certs.contents["server_cert"])
        if server is None or not pki.chains_to(server, own_bundle, now):
            return f"{master.name} server_cert does not chain to {bridge.name}'s CA"
        return None

    # --- settling --------------------------------------------------------------------------
    def settle(self) -> None:
        """Complete due operations, elect, replicate: call before every read or command."""
        with self.lock:
            now = self.clock.now()
            due = sorted(
                (node for node in self.nodes.values() if node.operation is not None),
                key=lambda node: node.operation.finishes if node.operation else now,
            )
            for node in due:
                operation = node.operation
                if operation is None or operation.finishes > now:
                    continue
                if operation.kind in node.faults.hang_operations:
                    continue  # a fault: it finishes (at once) only when the fault is lifted
                # Elect and replicate as of that moment, so later operations see its effect.
                self._elect_all()
                self._complete(node, operation, operation.finishes)
            self._elect_all()
            self._replicate(now)

    def _groups(self) -> list[Group]:
        seen: dict[int, Group] = {}
        for node in self.nodes.values():
            if node.group is not None:
                seen[node.group.id] = node.group
        return list(seen.values())

    def _elect_all(self) -> None:
        for group in self._groups():
            self._elect(group)

    def _elect(self, group: Group) -> None:
        """S7's rule: a node leads only while it sees more than half of the members."""
        size = len(group.members)

        def sees_majority(address: str) -> bool:
            visible = sum(1 for other in group.members if self.visible(address, other))
            return visible * 2 > size

        if group.master is not None and sees_majority(group.master):
            return
        candidates = sorted(
            (address for address in group.members if sees_majority(address)), key=address_key
        )
        group.master = candidates[0] if candidates else None

    def in_sync(self, node: SimNode, now: datetime) -> bool:
        """A replica is in sync when it can reach its master over working mutual TLS."""
        group = node.group
        if group is None or group.master is None or group.master == node.address:
            return False
        master = self.nodes[group.master]
        return (
            node.status != "Disabled"
            and self.reachable(node.address, master.address)
            and self.tls_problem(node, master, now) is None
        )

    def _replicate(self, now: datetime) -> None:
        for group in self._groups():
            if group.master is None:
                continue
            master = self.nodes[group.master]
            for address in group.members:
                node = self.nodes[address]
                if self.reachable(address, group.master):
                    node.last_seen_master = group.master
                if address != group.master and self.in_sync(node, now):
                    node.content_id = master.content_id

    # --- operations ------------------------------------------------------------------------
    def start(self, node: SimNode, kind: str, command: str, target: str | None = None) -> None:
        with self.lock:
            now = self.clock.now()
            seconds = node.faults.operation_seconds.get(kind, self.durations.of(kind))
            finishes = now + timedelta(seconds=seconds)
            node.operation = Operation(kind, command, now, finishes, target)

    def _complete(self, node: SimNode, operation: Operation, when: datetime) -> None:
        node.operation = None
        problem: str | None
        if operation.kind in node.faults.fail_operations:
            problem = "injected failure"
        else:
            finisher = {
                "remove": self._finish_remove,
                "initialize": self._finish_initialize,
                "join": self._finish_join,
                "upgrade_schema": self._finish_upgrade_schema,
            }[operation.kind]
            problem = finisher(node, operation, when)
        node.last_command = (operation.command, "Failed" if problem else "Success")
        if problem:
            self.events.append(f"{node.name}: '{operation.command}' failed: {problem}")

    def _leave_group(self, node: SimNode) -> None:
        group = node.group
        if group is not None:
            if node.address in group.members:
                group.members.remove(node.address)
            if group.master == node.address:
                group.master = None
        node.group = None
        node.last_seen_master = None

    def _finish_remove(self, node: SimNode, operation: Operation, when: datetime) -> str | None:
        self._leave_group(node)
        node.status = "Disabled"
        node.error = None
        return None

    def _finish_initialize(self, node: SimNode, operation: Operation, when: datetime) -> str | None:
        if node.certs is None or any(role not in node.certs.contents for role in CERT_ROLES):
            return "no server and client certificates configured"
        self._leave_group(node)
        node.group = self.new_group([node.address], node.address)
        node.status = "Enabled"
        node.connected_to = node.connected_with = None
        node.error = None
        node.last_seen_master = node.address
        return None

    def _finish_join(self, node: SimNode, operation: Operation, when: datetime) -> str | None:
        target_address = operation.target or ""
        target = self.nodes.get(target_address)
        if target is None or target_address == node.address:
            return f"{target_address} is not another node of this network"
        if not self.reachable(node.address, target_address):
            return f"{target_address} is not reachable"
        group = target.group
        if target.status == "Disabled" or group is None or group.master != target_address:
            return f"{target_address} is not an enabled master"
        problem = self.tls_problem(node, target, when)
        if problem:
            return problem
        if node.group is not group:
            self._leave_group(node)
            group.members.append(node.address)
            group.members.sort(key=address_key)
            node.group = group
        node.status = "Enabled"
        node.connected_to = node.connected_with = None
        node.error = None
        node.content_id = target.content_id
        node.data_generation = target.data_generation
        node.last_seen_master = target_address
        return None

    def _finish_upgrade_schema(
        self, node: SimNode, operation: Operation, when: datetime
    ) -> str | None:
        group = node.group
        healthy = (
            group is not None
            and group.master == node.address
            and all(
                self.in_sync(self.nodes[address], when)
                for address in group.members
                if address != node.address
            )
        )
        if healthy:
            return None
        node.status = "Error"
        node.error = SCHEMA_ERROR
        return "not the primary, or not every replica in sync"

    # --- data (tests) -------------------------------------------------------------------------
    def write_data(self, key: str) -> str:
        """Simulate the call bridge writing to a node's database; returns the new content id."""
        with self.lock:
            self.settle()
            node = self.node(key)
            node.data_generation += 1
            node.content_id = f"{node.name}-db-{node.data_generation}"
            self._replicate(self.clock.now())
            return node.content_id

    def configure_certs(self, node: SimNode, files: dict[str, str]) -> CertConfig:
        """Copy the named files' contents into the node's database service configuration."""
        contents = {role: node.file_path(name).read_bytes() for role, name in files.items()}
        node.certs = CertConfig(dict(files), contents)
        return node.certs


def _key_matches(key: object, cert: object) -> bool:
    from cryptography import x509
    from cryptography.hazmat.primitives import serialization

    if not isinstance(cert, x509.Certificate) or not hasattr(key, "public_key"):
        return False
    public_format = serialization.PublicFormat.SubjectPublicKeyInfo
    ours = key.public_key().public_bytes(serialization.Encoding.DER, public_format)
    theirs = cert.public_key().public_bytes(serialization.Encoding.DER, public_format)
    return bool(ours == theirs)
