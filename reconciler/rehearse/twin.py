"""A twin of one cluster, built from the live read: the simulator's device model, seeded.

Every node becomes a ``SimNode`` with the status, role, membership, node in use, last
command and certificate configuration it reported; nodes that agree on their members share
a database cluster; a member one node sees ``Disconnected`` while both answered is behind a
partition; a node that could not be read is down. A connected call bridge that was read
(``live.bridges``) is a node with no database, connected (``database cluster connect``) to
the node its ``Node in use`` shows; one that could not be read is left out. Files are the
desired bundle's real bytes where the live sha256 matches them, and stand-ins
(``standin.py``) where the live read knows a file only by identity. Whatever the twin had
to assume is said in ``assumptions``.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives.asymmetric.types import PrivateKeyTypes

from reconciler.addresses import canonical_address
from reconciler.desired.state import DesiredCluster
from reconciler.live.models import CERT_ROLES, MASTER_MARKER, LiveCluster, LiveFile, LiveNode
from reconciler.mmp.models import CertFileRef, ClusterStatus
from reconciler.mmp.session import Redactor, ShellSession
from reconciler.rehearse.channel import twin_session
from reconciler.rehearse.clock import TwinClock, VirtualTime
from reconciler.rehearse.standin import StandIns
from reconciler.simulator import pki
from reconciler.simulator.cluster import ClusterModel, address_key
from reconciler.simulator.commands import OPERATIONS, Interpreter
from reconciler.simulator.state import CertConfig, Durations, Group, Operation, SimNode, Wording

# How long the device's asynchronous operations are modelled to take. The MMP reference
# gives no durations (see outage.py), so these are stated as an assumption of every
# rehearsal; they are well inside the default timeouts (remove/initialize 300 s, join 600 s).
MODELLED = Durations(remove=30.0, initialize=60.0, join=60.0, upgrade_schema=60.0)
_OPERATION_OF_STATE = {
    "Disabling": "remove",
    "Enabling": "initialize",
    "Upgrading": "upgrade_schema",
}
# The CA first: the node's stand-in leaves are issued by its stand-in CA.
_STAND_IN_ORDER = ("ca_cert", "server_key", "client_key", "server_cert", "client_cert")


class TwinModel(ClusterModel):
    """The device model, trusting the live read where stand-ins cannot prove it.

    A replica the live read showed In Sync with its master can talk to it over mutual TLS:
    that is evidence, which stand-in certificates (not the real ones) cannot reproduce. So
    until either node's certificate configuration changes (``database cluster certs``), the
    pair's TLS is taken as working; from then on the model checks the real bytes.
    """

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.vouched: set[frozenset[str]] = set()
        self.read_certs: dict[str, CertConfig | None] = {}
        self.vouched_bridges: set[tuple[str, str]] = set()  # (bridge, master)
        self.read_connected: dict[str, CertConfig | None] = {}
        self.read_in_use: dict[str, str] = {}  # bridge -> the node, not a master, it used

    def vouch(self, a: str, b: str) -> None:
        self.vouched.add(frozenset((a, b)))
        for address in (a, b):
            self.read_certs[address] = self.nodes[address].certs

    def _as_read(self, node: SimNode) -> bool:
        return node.address in self.read_certs and node.certs is self.read_certs[node.address]

    def tls_problem(self, joiner: SimNode, master: SimNode, now: datetime) -> str | None:
        pair = frozenset((joiner.address, master.address))
        if pair in self.vouched and self._as_read(joiner) and self._as_read(master):
            return None
        return super().tls_problem(joiner, master, now)

    def vouch_bridge(self, bridge: str, master: str) -> None:
        """A call bridge the live read showed using ``master``: their TLS works."""
        self.vouched_bridges.add((bridge, master))
        self.read_connected[bridge] = self.nodes[bridge].connected_with
        self.read_certs.setdefault(master, self.nodes[master].certs)

    def keep_in_use(self, bridge: str, node: str) -> None:
        """A call bridge the live read showed using ``node``, which is not a master."""
        self.read_in_use[bridge] = node
        self.read_connected[bridge] = self.nodes[bridge].connected_with

    def bridge_database(self, bridge: SimNode, now: datetime) -> str | None:
        """As the device model, except for a bridge the live read showed using a node that is
        not a master (which the device model cannot show): until it connects again, it uses
        that node while the node is up, reachable and Enabled in a cluster."""
        shown = self.read_in_use.get(bridge.address)
        if shown is None or bridge.connected_to != shown or not self._connected_as_read(bridge):
            return super().bridge_database(bridge, now)
        node = self.nodes.get(shown)
        if node is None or node.group is None or node.status != "Enabled":
            return None
        return shown if self.reachable(bridge.address, shown) else None

    def _connected_as_read(self, bridge: SimNode) -> bool:
        return (
            bridge.address in self.read_connected
            and bridge.connected_with is self.read_connected[bridge.address]
        )

    def bridge_tls_problem(self, bridge: SimNode, master: SimNode, now: datetime) -> str | None:
        """As the device model, except for a bridge the live read showed using ``master``:
        until the bridge connects with other files or the master loads other certificates,
        their TLS is taken as working."""
        if (
            (bridge.address, master.address) in self.vouched_bridges
            and self._connected_as_read(bridge)
            and self._as_read(master)
        ):
            return None
        return super().bridge_tls_problem(bridge, master, now)


@dataclass
class Twin:
    """The twin's model and clock, and what building it had to assume."""

    model: TwinModel
    clock: TwinClock
    names: dict[str, str]  # address -> name, every node of the twin
    assumptions: list[str] = field(default_factory=list)
    bridges: tuple[str, ...] = ()  # addresses of the connected call bridges it has

    def __post_init__(self) -> None:
        self.interpreter = Interpreter(self.model)
        self.time = VirtualTime(self.clock)

    def session(self, address: str, redactor: Redactor | None = None) -> ShellSession:
        return twin_session(self.model.node(address), self.interpreter, self.time, redactor)

    def node(self, address: str) -> SimNode:
        return self.model.node(address)


def _identity(file: LiveFile, node: LiveNode) -> str:
    if file.sha256:
        return f"sha256:{file.sha256}"
    if file.serial:
        return f"pki:{file.serial}/{file.issuer}"
    return f"name:{node.address}/{file.name}"


class _Builder:
    def __init__(
        self, desired: DesiredCluster, live: LiveCluster, directory: Path, durations: Durations
    ) -> None:
        self.desired = desired
        self.live = live
        self.directory = directory
        self.durations = durations
        self.now = live.read_at
        self.standins = StandIns(self.now)
        self.known: dict[str, bytes] = {
            file.sha256: file.upload_bytes for node in desired.nodes for file in node.bundle.files()
        }
        self.assumptions: list[str] = []
        self.names = {node.address: node.name for node in desired.nodes}
        self.names.update({node.address: node.name for node in live.nodes})
        self.addresses = {canonical_address(node.address): node.address for node in live.nodes}

    # --- nodes ---------------------------------------------------------------------------
    def build(self) -> Twin:
        nodes = [self._node(live) for live in self.live.nodes]
        listed = {
            canonical_address(member.address): member.address
            for live in self.live.nodes
            if live.status is not None
            for member in live.status.members
        }
        for canonical, address in sorted(listed.items()):
            if canonical not in self.addresses:
                self.addresses[canonical] = address
                self.names.setdefault(address, address)
                nodes.append(self._sim_node(address, address, down=True))
                self.assumptions.append(
                    f"{address}: listed as a member but not read; the twin has it down"
                )
        bridges = [
            (live, node) for live in self.live.bridges if (node := self._bridge(live)) is not None
        ]
        nodes += [node for _, node in bridges]
        clock = TwinClock(self.now)
        model = TwinModel(nodes, wording=self._wording(), durations=self.durations, clock=clock)
        self._groups(model)
        self._vouch(model)
        self._vouch_bridges(model, bridges)
        self._partitions(model)
        self._operations(model)
        return Twin(
            model,
            clock,
            dict(self.names),
            self.assumptions,
            tuple(node.address for _, node in bridges),
        )

    def _sim_node(self, name: str, address: str, *, down: bool) -> SimNode:
        folder = self.directory / f"{len(list(self.directory.iterdir())):02d}-{name}"
        folder.mkdir(parents=True)
        node = SimNode(name, address, 0, folder, f"{name}-db-live")
        node.faults.down = down
        return node

    def _node(self, live: LiveNode) -> SimNode:
        if not live.readable or live.status is None:
            why = live.error or "not read"
            self.assumptions.append(f"{live.name}: could not be read ({why}); the twin has it down")
            return self._sim_node(live.name, live.address, down=True)
        node = self._sim_node(live.name, live.address, down=False)
        status = live.status
        node.status = (
            status.state if status.state in ("Enabled", "Disabled", "Error") else "Disabled"
        )
        node.error = status.error
        node.interface = status.interface
        node.last_seen_master = status.node_in_use
        if status.last_command is not None:
            node.last_command = (status.last_command.command, status.last_command.result)
        self._files(node, live, status)
        if live.master_marker is not None and "unreadable" not in live.master_marker:
            node.file_path(MASTER_MARKER).write_text(json.dumps(live.master_marker))
        return node

    def _bridge(self, live: LiveNode) -> SimNode | None:
        """A connected call bridge as the device model has one: Disabled, in no cluster,
        ``connected_to`` the node its ``Node in use`` shows (the desired master when it shows
        None), with the client files it shows loaded, as loaded when it connected. None for
        one that was not read, or whose status is not a call bridge's (the planner refuses
        such a plan): it stays as read."""
        status = live.status
        if not live.readable or status is None:
            return None
        if status.transitional or status.members or status.state not in ("Connected", "Disabled"):
            return None
        canonical = canonical_address(live.address)
        if canonical in self.addresses:  # also a database node's address: not a bridge
            return None
        self.addresses[canonical] = live.address
        self.names[live.address] = live.name
        node = self._sim_node(live.name, live.address, down=False)
        node.status = "Disabled"  # with no group: how the device model has a call bridge
        node.interface = status.interface
        if status.last_command is not None:
            node.last_command = (status.last_command.command, status.last_command.result)
        self._files(node, live, status)
        if status.state == "Connected":
            if status.node_in_use is not None:
                node.connected_to = self._address(status.node_in_use)
            else:
                master = self.desired.master
                node.connected_to = self._address(master.address)
                self.assumptions.append(
                    f"{live.name} showed no database in use; the twin has it connected to "
                    f"{master.name} ({master.address})"
                )
            node.connected_with = node.certs
        return node

    def _wording(self) -> Wording:
        seen = [
            live.status.wording.value
            for live in self.live.nodes
            if live.status is not None and live.status.wording is not None
        ]
        if not seen:
            return Wording.MASTER_SLAVE
        return Wording(max(set(seen), key=seen.count))

    # --- files ---------------------------------------------------------------------------
    def _files(self, node: SimNode, live: LiveNode, status: ClusterStatus) -> None:
        refs = {
            role: ref
            for role in CERT_ROLES
            if (ref := getattr(status.certificates, role)) is not None
        }
        contents, stood = self._cert_contents(live, refs)
        if refs:
            node.certs = CertConfig({role: ref.file for role, ref in refs.items()}, contents)
        stood += self._write_files(node, live, refs, contents)
        if stood:
            self.assumptions.append(
                f"{live.name}: {', '.join(stood)} differ from the desired files and are known "
                "by identity only: the twin stands in keys that match their certificates, "
                "certificates with the live expiry, and one CA per distinct live CA file"
            )

    def _cert_contents(
        self, live: LiveNode, refs: dict[str, CertFileRef]
    ) -> tuple[dict[str, bytes], list[str]]:
        """The bytes of each configured role, and the roles that had to be stood in."""
        stood: list[str] = []
        contents: dict[str, bytes] = {}
        ca_identity = f"unknown CA of {live.address}"
        for role in _STAND_IN_ORDER:
            ref = refs.get(role)
            if ref is None:
                continue
            file = live.file(ref.file)
            identity = (
                _identity(file, live)
                if file is not None and file.present
                else (f"name:{live.address}/{ref.file}")
            )
            data = self.known.get(file.sha256 or "") if file is not None else None
            if data is None:
                stood.append(role)
                if role == "ca_cert":
                    ca_identity = identity
                data = self._stand_in(role, ref, file, identity, ca_identity, contents)
            contents[role] = data
        return contents, stood

    def _stand_in(
        self,
        role: str,
        ref: CertFileRef,
        file: LiveFile | None,
        identity: str,
        ca_identity: str,
        contents: dict[str, bytes],
    ) -> bytes:
        """A stand-in for ``role``: a leaf matches the key already chosen and the node's CA."""
        not_after = file.not_after if file is not None else None
        if role == "ca_cert":
            return self.standins.ca(identity, not_after, ref.expired)
        if role.endswith("_key"):
            return self.standins.key(identity)
        key = _private_key(contents.get(role.replace("_cert", "_key")))
        return self.standins.leaf(
            identity,
            key=key,
            ca=ca_identity,
            client=role == "client_cert",
            not_after=not_after,
            expired=ref.expired,
        )

    def _write_files(
        self,
        node: SimNode,
        live: LiveNode,
        refs: dict[str, CertFileRef],
        contents: dict[str, bytes],
    ) -> list[str]:
        """Write the node's file area as the live read found it; the names stood in."""
        stood: list[str] = []
        written: set[str] = set()
        for role, ref in refs.items():
            file = live.file(ref.file)
            if file is not None and file.present:
                node.file_path(ref.file).write_bytes(contents[role])
                written.add(ref.file)
        for name, file in live.files.items():
            if name in written or not file.present:
                continue
            data = self.known.get(file.sha256 or "")
            if data is None:
                stood.append(name)
                data = self.standins.key(_identity(file, live))
            node.file_path(name).write_bytes(data)
        return stood

    # --- clusters ------------------------------------------------------------------------
    def _address(self, printed: str) -> str:
        return self.addresses.get(canonical_address(printed), printed)

    def _vouch(self, model: TwinModel) -> None:
        """Replicas the live read showed In Sync (by themselves or by their master)."""
        for live in self.live.nodes:
            status = live.status
            if status is None or not live.readable or status.master_address is None:
                continue
            master = self._address(status.master_address)
            for member in status.members:
                address = self._address(member.address)
                if member.in_sync and address in model.nodes and master in model.nodes:
                    model.vouch(address, master)

    def _vouch_bridges(self, model: TwinModel, bridges: list[tuple[LiveNode, SimNode]]) -> None:
        """Call bridges the live read showed using the master (``Node in use``)."""
        masters = {
            self._address(live.status.master_address)
            for live in self.live.nodes
            if live.readable and live.status is not None and live.status.master_address
        }
        for live, node in bridges:
            assert live.status is not None
            shown = live.status.node_in_use
            if shown is None or node.connected_to is None:
                continue
            used = self._address(shown)
            if used not in model.nodes:
                continue
            if used in masters:
                model.vouch_bridge(node.address, used)
            else:
                model.keep_in_use(node.address, used)
                self.assumptions.append(
                    f"{live.name} showed {self.names.get(used, used)} ({used}) in use, which "
                    "is not a master: the twin keeps it using that node until it connects again"
                )

    def _groups(self, model: ClusterModel) -> None:
        groups: dict[tuple[frozenset[str], str | None], Group] = {}
        for live in self.live.nodes:
            status = live.status
            if not live.readable or status is None or not status.members:
                continue
            if status.state == "Disabled":
                continue
            members = frozenset(self._address(member.address) for member in status.members)
            master = status.master_address
            key = (members, self._address(master) if master else None)
            group = groups.get(key)
            if group is None:
                group = model.new_group(sorted(members, key=address_key), key[1])
                groups[key] = group
            model.node(live.address).group = group

    def _partitions(self, model: ClusterModel) -> None:
        """A member seen ``Disconnected`` while both nodes answered: when their certificates
        cannot carry mutual TLS, that explains it (the device model's other reading of S1's
        "nodes stop talking to each other"); otherwise the network between them is cut."""
        now = self.now
        for live in self.live.nodes:
            if live.status is None or model.node(live.address).faults.down:
                continue
            for member in live.status.members:
                other = self._address(member.address)
                if member.connected or other == live.address or other not in model.nodes:
                    continue
                if model.nodes[other].faults.down:
                    continue
                a, b = model.node(live.address), model.nodes[other]
                seen = self.names.get(other, other)
                pair = f"{live.name} sees {seen} Disconnected while both answered"
                if model.tls_problem(a, b, now) is not None:
                    if not model.visibility_needs_tls:
                        model.visibility_needs_tls = True
                        self.assumptions.append(
                            f"{pair}, and their certificates cannot carry mutual TLS: the twin "
                            "takes broken TLS to hide peers from each other"
                        )
                elif frozenset((a.address, b.address)) not in model.partitions:
                    model.partitions.add(frozenset((a.address, b.address)))
                    self.assumptions.append(
                        f"{pair}, with working certificates: the twin keeps them apart (a network "
                        "partition)"
                    )

    def _operations(self, model: ClusterModel) -> None:
        for live in self.live.nodes:
            status = live.status
            if status is None or not status.transitional or not live.readable:
                continue
            word = (status.state or "").split(" ")[0]
            kind = _OPERATION_OF_STATE.get(word, "remove")
            started = self.now - timedelta(seconds=status.started_seconds_ago or 0)
            node = model.node(live.address)
            command = OPERATIONS[kind].command([])
            node.operation = Operation(
                kind,
                command,
                started,
                started + timedelta(seconds=self.durations.of(kind)),
            )
            self.assumptions.append(
                f"{live.name} was busy ({status.status_text}): the twin lets it finish as "
                f"'{command}'"
            )


def _private_key(data: bytes | None) -> PrivateKeyTypes | None:
    if data is None:
        return None
    return pki.read_file_content(data).private_key


def build_twin(
    desired: DesiredCluster,
    live: LiveCluster,
    directory: Path,
    durations: Durations = MODELLED,
) -> Twin:
    """A twin of ``live`` in ``directory`` (the nodes' file areas), its clock at the read."""
    return _Builder(desired, live, directory, durations).build()


def modelled_durations_text(durations: Durations) -> str:
    return (
        f"the device's operations are modelled to take remove {durations.remove:g} s, "
        f"initialize {durations.initialize:g} s, join {durations.join:g} s (the MMP "
        "reference gives no durations)"
    )
