"""A running simulated cluster: the model, one SSH server per node, faults and inspection.

This is the Python API tests use (``SimulatedCluster``); ``reconcile sim`` and
``reconcile demo`` build one from a cluster file (see ``lab.py``).
"""

from __future__ import annotations

import hashlib
import hmac
import json
import os
import threading
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import Any

import paramiko

from reconciler.simulator.backend import Disconnect, SessionIO
from reconciler.simulator.cluster import ClusterModel
from reconciler.simulator.commands import DisconnectRequested, Interpreter
from reconciler.simulator.faults import FaultEngine, FaultSpec, parse_faults
from reconciler.simulator.render import TRANSITIONAL
from reconciler.simulator.ssh_server import NodeServer
from reconciler.simulator.state import Durations, Faults, SimClock, SimNode, Wording

AUTH_DIGEST_CHARS = 16
"""Hex characters of a refused password's sha256 kept in a node's log."""


@dataclass(frozen=True)
class NodeSetup:
    """How to serve one node: its identity on the network and its SSH host key."""

    name: str
    address: str
    port: int
    host_key: paramiko.PKey
    ssh_host: str | None = None  # where to listen; default: address

    @property
    def listen_host(self) -> str:
        return self.ssh_host or self.address


class ClusterNodeBackend:
    """The `NodeBackend` of one node of a `SimulatedCluster`: the device side, as the SSH
    servers see it."""

    def __init__(self, cluster: SimulatedCluster, node: SimNode) -> None:
        self._cluster = cluster
        self._node = node

    def prompt(self) -> str:
        return f"{self._node.name}> "

    def authenticate_password(self, username: str, password: str) -> bool:
        expected = self._cluster.users.get(username)
        accepted = expected is not None and hmac.compare_digest(expected, password)
        if not accepted:
            # As sshd logs "Failed password for ...": which secret arrived, as a short digest
            # (never the value), so a test can tell whose secret a client sent.
            digest = hashlib.sha256(password.encode()).hexdigest()[:AUTH_DIGEST_CHARS]
            self._cluster.model.log(self._node, username, "auth", f"password refused {digest}")
            self._cluster.save_state()
        return accepted

    def authenticate_key(self, username: str, key: paramiko.PKey) -> bool:
        allowed = self._cluster.authorized_keys.get(username, [])
        return any(candidate == key for candidate in allowed)

    def password_expired(self, username: str) -> bool:
        with self._cluster.model.lock:
            return self._node.faults.password_expired(username)

    def change_password(self, username: str, password: str) -> None:
        """A person changed an expired password at login: it holds from now on (the
        simulator keeps one password per user for the whole cluster)."""
        with self._cluster.model.lock:
            self._cluster.users[username] = password
            self._node.faults.expired_passwords.discard(username)
            self._node.faults.expired_passwords.discard("*")
        self._cluster.model.log(self._node, username, "auth", "expired password changed")
        self._cluster.save_state()

    def on_connect(self, username: str, peer: tuple[str, int]) -> None:
        self._cluster.model.log(self._node, username, "connect", f"{peer[0]}:{peer[1]}")
        self._cluster.save_state()

    def run_command(self, line: str, io: SessionIO, username: str) -> None:
        if self._cluster.fault_engine.on_command(self._node, line):
            self._cluster.save_state()
            raise Disconnect(f"fault fired as {line.strip()!r} arrived")
        try:
            self._cluster.interpreter.run(self._node, line, io, username)
        except DisconnectRequested as request:
            raise Disconnect(str(request)) from request
        finally:
            self._cluster.save_state()

    def sftp_root(self) -> Path:
        return self._node.files

    def on_sftp(self, operation: str, path: str, username: str) -> None:
        self._cluster.model.log(self._node, username, "sftp", f"{operation} {path}")
        if operation == "put" and self._node.faults.corrupt_uploads is not None:
            target = self._node.file_path(path)
            data = target.read_bytes()
            landed = self._node.faults.as_uploaded(path, data)
            if landed != data:
                target.write_bytes(landed)
        self._cluster.save_state()

    def sftp_refused(self, operation: str, path: str) -> bool:
        return self._node.faults.refuses(operation, path)

    def accepting(self) -> bool:
        return not self._node.faults.down


class SimulatedCluster:
    """Serves every node over real SSH/SFTP; faults and inspection for tests."""

    def __init__(
        self,
        setups: Iterable[NodeSetup],
        *,
        workdir: Path,
        users: dict[str, str],
        authorized_keys: dict[str, list[paramiko.PKey]] | None = None,
        wording: Wording = Wording.MASTER_SLAVE,
        durations: Durations | None = None,
        clock: SimClock | None = None,
        state_file: Path | None = None,
        visibility_needs_tls: bool = False,
    ) -> None:
        self.setups = list(setups)
        self.users = dict(users)
        self.authorized_keys = dict(authorized_keys or {})
        self.state_file = state_file
        nodes = []
        for setup in self.setups:
            files = workdir / setup.name
            files.mkdir(parents=True, exist_ok=True)
            nodes.append(
                SimNode(setup.name, setup.address, setup.port, files, f"{setup.name}-db-0")
            )
        self.model = ClusterModel(
            nodes,
            wording=wording,
            durations=durations,
            clock=clock,
            visibility_needs_tls=visibility_needs_tls,
        )
        self.interpreter = Interpreter(self.model)
        self._servers: dict[str, NodeServer] = {}
        self._save_lock = threading.Lock()
        self.fault_engine = FaultEngine(self)

    # --- lifecycle -------------------------------------------------------------------
    def start(self) -> SimulatedCluster:
        for setup in self.setups:
            node = self.model.node(setup.address)
            server = NodeServer(
                ClusterNodeBackend(self, node), setup.listen_host, setup.port, setup.host_key
            )
            server.start()
            self._servers[setup.address] = server
            if node.faults.down:  # a scenario or --fault said so before serving
                server.set_down(True)
        self.save_state()
        return self

    def stop(self) -> None:
        self.fault_engine.cancel()
        for server in self._servers.values():
            server.stop()
        self._servers.clear()

    def __enter__(self) -> SimulatedCluster:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.stop()

    def server(self, key: str) -> NodeServer:
        return self._servers[self.model.node(key).address]

    def known_hosts_lines(self) -> list[str]:
        lines = []
        for setup in self.setups:
            port = (
                self._servers[setup.address].port if setup.address in self._servers else setup.port
            )
            host = setup.address if port == 22 else f"[{setup.address}]:{port}"
            lines.append(f"{host} {setup.host_key.get_name()} {setup.host_key.get_base64()}")
        return lines

    # --- faults ---------------------------------------------------------------------
    def node(self, key: str) -> SimNode:
        return self.model.node(key)

    def set_down(self, key: str, down: bool = True) -> None:
        """Node down: connections refused, peers see it Disconnected."""
        node = self.model.node(key)
        with self.model.lock:
            self.model.settle()
            node.faults.down = down
        if node.address in self._servers:
            self._servers[node.address].set_down(down)

    def partition(self, a: str, b: str) -> None:
        """Cut the database network between two nodes (SSH to each still works)."""
        with self.model.lock:
            self.model.settle()
            self.model.partitions.add(
                frozenset((self.model.node(a).address, self.model.node(b).address))
            )

    def heal(self) -> None:
        with self.model.lock:
            self.model.settle()
            self.model.partitions.clear()

    def fail_operation(self, key: str, operation: str, fail: bool = True) -> None:
        """Make ``operation`` (remove, initialize, join, upgrade_schema) end ``(Failed)``."""
        faults = self.model.node(key).faults
        with self.model.lock:
            (faults.fail_operations.add if fail else faults.fail_operations.discard)(operation)

    def disconnect_on(self, key: str, command_prefix: str, stage: str = "after") -> None:
        """Drop the SSH connection once, when a command starting with the prefix arrives.

        ``before``: nothing is executed; ``after``: the command ran (an asynchronous one was
        started) but the client sees the connection drop instead of the prompt.
        """
        if stage not in ("before", "after"):
            raise ValueError("stage is 'before' or 'after'")
        with self.model.lock:
            self.model.node(key).faults.disconnect_on[command_prefix] = stage

    def refuse_sftp(
        self, key: str, operation: str, pattern: str = "*", refuse: bool = True
    ) -> None:
        """SFTP ``get`` or ``put`` of files matching ``pattern`` fails on this node."""
        faults = self.model.node(key).faults
        with self.model.lock:
            entry = (operation, pattern)
            (faults.sftp_refuse.add if refuse else faults.sftp_refuse.discard)(entry)

    def corrupt_uploads(self, key: str, corrupt: bool = True, pattern: str = "*") -> None:
        """Files matching ``pattern`` written over SFTP to this node land damaged (one byte
        flipped)."""
        with self.model.lock:
            self.model.node(key).faults.corrupt_uploads = pattern if corrupt else None

    def expire_password(self, key: str, username: str = "*") -> None:
        """``username``'s MMP password has expired on this node ("*": every account): the
        login is accepted, then the shell forces a change instead of showing the prompt."""
        with self.model.lock:
            self.model.node(key).faults.expired_passwords.add(username)

    def say(self, key: str, where: str, text: str | None) -> None:
        """Print ``text`` where the reference shows nothing like it (``say-*`` faults):
        ``where`` is ``certs`` (an extra line), ``status:OPERATION`` or ``member:OPERATION``
        (the Status line, or the node's own member state, while OPERATION runs); None
        lifts it."""
        with self.model.lock:
            says = self.model.node(key).faults.says
            if text is None:
                says.pop(where, None)
            else:
                says[where] = text

    def set_delay(self, key: str, seconds: float) -> None:
        """Slow responses: every command waits this long before answering."""
        with self.model.lock:
            self.model.node(key).faults.delay = seconds

    def hang_operation(self, key: str, operation: str, hang: bool = True) -> None:
        """``operation`` never finishes on this node; lifting the fault lets it finish."""
        faults = self.model.node(key).faults
        with self.model.lock:
            self.model.settle()
            (faults.hang_operations.add if hang else faults.hang_operations.discard)(operation)

    def slow_operation(self, key: str, operation: str, seconds: float | None) -> None:
        """``operation`` takes ``seconds`` on this node (None: the cluster's duration)."""
        faults = self.model.node(key).faults
        with self.model.lock:
            if seconds is None:
                faults.operation_seconds.pop(operation, None)
            else:
                faults.operation_seconds[operation] = seconds

    def stop_serving(self, key: str) -> None:
        """The node's SSH service stops (connections cut); its database goes on."""
        address = self.model.node(key).address
        if address in self._servers:
            self._servers[address].stop()

    def resume_serving(self, key: str) -> None:
        node = self.model.node(key)
        if node.address in self._servers and not node.faults.down:
            self._servers[node.address].start()

    def clear_faults(self) -> None:
        """Lift every fault: nodes up and serving, network healed, no trigger armed.

        A hung operation then finishes at the next status read; what already happened
        (operations that failed, connections cut) stays as it was, as on a device.
        """
        self.fault_engine.cancel()
        with self.model.lock:
            self.model.settle()
            for node in self.model.nodes.values():
                down = node.faults.down
                node.faults = Faults()
                node.faults.down = down
            self.model.partitions.clear()
        for setup in self.setups:
            self.set_down(setup.name, down=False)
            self.resume_serving(setup.name)

    def inject(self, *specs: str) -> None:
        """Faults written as ``reconcile sim --fault`` takes them (see faults.py)."""
        names = [setup.name for setup in self.setups]
        self.install_faults(parse_faults(specs, names, source="fault"))

    def install_faults(self, specs: list[FaultSpec]) -> None:
        self.fault_engine.install(specs)

    def note_fault(self, key: str, text: str) -> None:
        """Record a fired fault in the node's log (kind ``fault``), for whoever replays it."""
        node = self.model.node(key)
        self.model.log(node, "simulator", "fault", text)
        self.model.events.append(f"{node.name}: {text}")

    def write_data(self, key: str) -> str:
        return self.model.write_data(key)

    # --- inspection -----------------------------------------------------------------
    def snapshot(self) -> dict[str, Any]:
        """Per node: status, role, members, cert files with sha256, content id, backups, log."""
        with self.model.lock:
            self.model.settle()
            now = self.model.clock.now()
            nodes = [self._node_snapshot(node) for node in self.model.nodes.values()]
            return {
                "time": now.isoformat(),
                "wording": self.model.wording.value,
                "partitions": sorted(sorted(pair) for pair in self.model.partitions),
                "nodes": nodes,
            }

    def _node_snapshot(self, node: SimNode) -> dict[str, Any]:
        now = self.model.clock.now()
        operation = node.operation
        if operation is not None:
            status = TRANSITIONAL[operation.kind].split(" (")[0]
        else:
            status = node.status
        group = node.group
        role = "none"
        if group is not None and node.status != "Disabled":
            role = "master" if group.master == node.address else "replica"
        certs = None
        if node.certs is not None:
            certs = {
                role_name: {
                    "file": name,
                    "sha256": hashlib.sha256(node.certs.contents[role_name]).hexdigest(),
                }
                for role_name, name in node.certs.files.items()
            }
        return {
            "name": node.name,
            "address": node.address,
            "down": node.faults.down,
            "status": status,
            "role": role,
            "in_sync": self.model.in_sync(node, now) if role == "replica" else None,
            "members": list(group.members) if group is not None else [],
            "master": group.master if group is not None else None,
            "connected_to": node.connected_to,
            "certs": certs,
            "content_id": node.content_id,
            "last_command": list(node.last_command) if node.last_command else None,
            "error": node.error,
            "backups": list(node.backups),
            "files": sorted(path.name for path in node.files.iterdir()),
            "log": [
                {
                    "time": entry.time.isoformat(),
                    "user": entry.user,
                    "kind": entry.kind,
                    "detail": entry.detail,
                }
                for entry in node.log
            ],
        }

    def commands(self, key: str) -> list[str]:
        """The command lines a node received, in order."""
        with self.model.lock:
            return [entry.detail for entry in self.model.node(key).log if entry.kind == "command"]

    def connections(self, key: str) -> int:
        with self.model.lock:
            return sum(1 for entry in self.model.node(key).log if entry.kind == "connect")

    def save_state(self) -> None:
        """Write the JSON state file, if one was asked for (atomically)."""
        if self.state_file is None:
            return
        with self._save_lock:
            data = json.dumps(self.snapshot(), indent=2)
            temporary = self.state_file.with_suffix(".tmp")
            temporary.write_text(data + "\n")
            os.replace(temporary, self.state_file)
