"""The MMP command interpreter of one simulated node.

Transport-agnostic: it reads and writes through ``ConsoleIO`` so the SSH server, exec
requests and unit tests drive the same code. Confirmations proceed only on a capital
``Y`` (reference §1.4); anything else aborts and changes nothing.
"""

from __future__ import annotations

import functools
import hashlib
import ipaddress
import json
import re
import shlex
import time
from base64 import b64decode, b64encode
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import NameOID

from reconciler.simulator import pki
from reconciler.simulator.choices import say
from reconciler.simulator.cluster import ClusterModel
from reconciler.simulator.render import render_status
from reconciler.simulator.state import CERT_ROLES, CLIENT_ROLES, CertConfig, SimNode

CONFIRM_TIMEOUT = 600.0
NAME_RE = re.compile(r"^[A-Za-z0-9_-]+$")
INTERFACES = ("a", "b", "c", "d")
RESTART_LINE = "The callbridge and web administration will restart at the end of this procedure."

REMOVE_WARNING = (
    "WARNING!!!\n"
    "Are you sure you wish to remove this node from the current cluster? (Y/n)\n"
    "The current contents of this node's database will become the running local database.\n"
    "This node will lose all knowledge of the rest of the cluster.\n" + RESTART_LINE + "\n"
)
# S1 wraps two lines at 79 columns (a copy artifact); the device prints them whole (§1.5).
INITIALIZE_WARNING = (
    "WARNING!!!\n"
    "Are you sure you wish to initialize this node as a new database cluster? (Y/n)\n"
    "The contents of this node's database will become the master version of the database "
    "in the new cluster.\n" + RESTART_LINE + "\n"
)
JOIN_WARNING = (
    "WARNING!!!\n"
    "Are you sure you wish to join this node to an existing database cluster? (Y/n)\n"
    "The contents of this node's database will be destroyed!\n" + RESTART_LINE + "\n"
)
JOIN_ALREADY_CLUSTERED = (
    "NOTE: This node is already in a cluster.\n"
    "Knowledge of all nodes in the old cluster will be removed\n"
)
CERTS_WHILE_ENABLED = (
    "ERROR: Cannot change certificates when clustering enabled.\n"
    "Disable clustering on this node first\n"
)
BUSY = "ERROR: A database cluster operation is already in progress\n"


def _no_arguments(args: list[str]) -> bool:
    return not args


def _one_address(args: list[str]) -> bool:
    return len(args) == 1 and _is_ip(args[0])


@dataclass(frozen=True)
class AsyncOperation:
    """How the device starts one asynchronous cluster operation: they all take the same steps
    (check the arguments, refuse while another runs, ask, start, say so) and differ only here."""

    kind: str
    accepts: Callable[[list[str]], bool]
    """The argument check made before anything else (else: the usage text)."""
    warning: str | None
    """The (Y/n) confirmation; None: it starts without asking."""
    started: str
    """Printed once it has started."""
    clustered_note: str = ""
    """Appended to the warning when the node is already in a cluster."""

    def command(self, args: list[str]) -> str:
        """The command line the operation is recorded under (its first argument is its target)."""
        return " ".join(("database", "cluster", self.kind, *args))


OPERATIONS: dict[str, AsyncOperation] = {  # in the order faults name them
    operation.kind: operation
    for operation in (
        AsyncOperation(
            "remove", _no_arguments, REMOVE_WARNING, "Please wait...\nRemove started..."
        ),
        AsyncOperation("initialize", _no_arguments, INITIALIZE_WARNING, say("initialize.started")),
        AsyncOperation(
            "join",
            _one_address,
            JOIN_WARNING,
            say("join.started"),
            clustered_note=JOIN_ALREADY_CLUSTERED,
        ),
        AsyncOperation("upgrade_schema", _no_arguments, None, say("upgrade_schema.started")),
    )
}


class ConsoleIO(Protocol):
    """The console the interpreter prints to and reads confirmations from (an SSH session,
    the rehearsal twin's worker, or a test script)."""

    def write(self, text: str) -> None: ...

    def read_line(self, timeout: float | None = None) -> str | None: ...


class DisconnectRequested(Exception):
    """The command asks the transport to drop the connection (fault or reboot)."""


Handler = Callable[[SimNode, list[str], ConsoleIO, str], None]


class Interpreter:
    """Runs command lines against the cluster model on behalf of one node."""

    def __init__(self, model: ClusterModel) -> None:
        self.model = model

    def run(self, node: SimNode, line: str, io: ConsoleIO, user: str) -> None:
        command = line.strip()
        if not command:
            return
        self.model.log(node, user, "command", command)
        faults = node.faults
        if faults.delay:
            time.sleep(faults.delay)
        stage = self._disconnect_stage(node, command)
        if stage == "before":
            raise DisconnectRequested(command)
        try:
            words = shlex.split(command)
        except ValueError:
            words = command.split()
        self._dispatch(node, words, io, user)
        if stage == "after":
            raise DisconnectRequested(command)

    def _disconnect_stage(self, node: SimNode, command: str) -> str | None:
        with self.model.lock:
            for prefix, stage in list(node.faults.disconnect_on.items()):
                if command.startswith(prefix):
                    del node.faults.disconnect_on[prefix]
                    return stage
        return None

    def _dispatch(self, node: SimNode, words: list[str], io: ConsoleIO, user: str) -> None:
        table: dict[tuple[str, ...], Handler] = {
            ("database", "cluster", "status"): self._status,
            ("database", "cluster", "certs"): self._certs,
            ("database", "cluster", "localnode"): self._localnode,
            ("database", "cluster", "connect"): self._connect,
            ("database", "cluster", "clear", "error"): self._clear_error,
            ("pki", "inspect"): self._pki_inspect,
            ("pki", "list"): self._pki_list,
            ("pki", "csr"): self._pki_csr,
            ("backup", "snapshot"): self._backup_snapshot,
            ("backup", "list"): self._backup_list,
            ("backup", "rollback"): self._backup_rollback,
            **{
                ("database", "cluster", kind): functools.partial(self._start_operation, kind)
                for kind in OPERATIONS
            },
        }
        for length in (4, 3, 2):
            handler = table.get(tuple(words[:length]))
            if handler is not None:
                handler(node, words[length:], io, user)
                return
        usages = {
            "database": "usage.database_cluster",
            "pki": "usage.pki",
            "backup": "usage.backup",
        }
        if words[0] in usages and (words[0] != "database" or words[1:2] == ["cluster"]):
            io.write(say(usages[words[0]]) + "\n")
            return
        io.write(say("error.unknown_command", command=" ".join(words)) + "\n")

    # --- helpers ------------------------------------------------------------------------
    def _confirm(self, io: ConsoleIO, warning: str) -> bool:
        io.write(warning)
        try:
            answer = io.read_line(timeout=CONFIRM_TIMEOUT)
        except TimeoutError:
            answer = None
        if answer is not None and answer.strip() == "Y":
            return True
        aborted = say("confirmation.aborted")
        if aborted:
            io.write(aborted + "\n")
        return False

    def _busy(self, node: SimNode, io: ConsoleIO) -> bool:
        with self.model.lock:
            self.model.settle()
            if node.operation is not None:
                io.write(BUSY)
                return True
        return False

    def _usage(self, io: ConsoleIO, key: str) -> None:
        io.write(say(key) + "\n")

    # --- database cluster ---------------------------------------------------------------
    def _status(self, node: SimNode, args: list[str], io: ConsoleIO, user: str) -> None:
        if args:
            self._usage(io, "usage.database_cluster")
            return
        with self.model.lock:
            self.model.settle()
            text = render_status(self.model, node)
        io.write(text)

    def _certs(self, node: SimNode, args: list[str], io: ConsoleIO, user: str) -> None:
        with self.model.lock:
            self.model.settle()
            # The enabled check comes before any argument check (reference §1.2, inference).
            if node.status != "Disabled" or node.operation is not None:
                io.write(CERTS_WHILE_ENABLED)
                return
            if len(args) not in (3, 5):
                self._usage(io, "usage.database_cluster")
                return
            for name in args:
                if not _plain_name(name) or not node.file_path(name).is_file():
                    io.write(say("error.file_not_found", file=name) + "\n")
                    return
                if pki.read_file_content(node.file_path(name).read_bytes()).kind == "unknown":
                    io.write(say("error.not_a_certificate", file=name) + "\n")
                    return
            roles = CERT_ROLES if len(args) == 5 else CLIENT_ROLES
            self.model.configure_certs(node, dict(zip(roles, args, strict=True)))
            extra = node.faults.says.get("certs")  # a say-certs fault (issue 24)
        if extra is not None:
            io.write(extra + "\n")
        io.write("Certificates updated\n")

    def _localnode(self, node: SimNode, args: list[str], io: ConsoleIO, user: str) -> None:
        if len(args) != 1:
            self._usage(io, "usage.database_cluster")
            return
        if args[0] not in INTERFACES:
            io.write(say("error.bad_interface", interface=args[0]) + "\n")
            return
        with self.model.lock:
            node.interface = args[0]
        done = say("localnode.done")
        if done:
            io.write(done + "\n")

    def _start_operation(
        self, kind: str, node: SimNode, args: list[str], io: ConsoleIO, user: str
    ) -> None:
        """Start one of the asynchronous operations of ``OPERATIONS`` (the same steps for all)."""
        operation = OPERATIONS[kind]
        if not operation.accepts(args):
            self._usage(io, "usage.database_cluster")
            return
        if kind in ("initialize", "join") and node.interface is None:
            # A never-clustered node: every published procedure sets localnode first.
            io.write(say("error.no_interface") + "\n")
            return
        warning = operation.warning
        if operation.clustered_note:
            with self.model.lock:
                self.model.settle()
                if node.status != "Disabled":
                    warning = f"{warning}{operation.clustered_note}"
        if self._busy(node, io):
            return
        if warning is not None and not self._confirm(io, warning):
            return
        with self.model.lock:
            self.model.settle()
            if node.operation is not None:
                io.write(BUSY)
                return
            self.model.start(node, kind, operation.command(args), args[0] if args else None)
        io.write(operation.started + "\n")

    def _connect(self, node: SimNode, args: list[str], io: ConsoleIO, user: str) -> None:
        """Attach a call bridge to the cluster of ``args[0]`` (choices ``connect.*``)."""
        if not _one_address(args):
            self._usage(io, "usage.database_cluster")
            return
        if self._busy(node, io):
            return
        with self.model.lock:
            self.model.settle()
            if node.group is not None or node.status != "Disabled":
                io.write(say("connect.while_clustered") + "\n")
                return
            certs = node.certs
            if certs is None or any(role not in certs.files for role in CLIENT_ROLES):
                io.write(say("connect.no_certs") + "\n")
                return
            node.connected_to = args[0]
            node.connected_with = certs
        done = say("connect.done")
        if done:
            io.write(done + "\n")

    def _clear_error(self, node: SimNode, args: list[str], io: ConsoleIO, user: str) -> None:
        with self.model.lock:
            self.model.settle()
            if node.status == "Error":
                node.status = "Enabled" if node.group is not None else "Disabled"
            node.error = None
        done = say("clear_error.done")
        if done:
            io.write(done + "\n")

    # --- pki ----------------------------------------------------------------------------
    def _pki_inspect(self, node: SimNode, args: list[str], io: ConsoleIO, user: str) -> None:
        if len(args) != 1:
            self._usage(io, "usage.pki")
            return
        name = args[0]
        io.write("Checking ssh public keys...not found\n")
        path = node.file_path(name)
        if not _plain_name(name) or not path.is_file():
            io.write("Checking user configured certificates and keys...not found\n")
            io.write(say("error.file_not_found", file=name) + "\n")
            return
        io.write("Checking user configured certificates and keys...found\n")
        content = pki.read_file_content(path.read_bytes())
        if content.certificates:
            io.write("File contains a PEM encoded certificate\n")
            io.write("\n".join(pki.render_inspect(content.certificates[0])) + "\n")
        elif content.private_key is not None:
            io.write(say("pki.inspect.key", bits=pki.key_bits(content.private_key)) + "\n")
        else:
            io.write(say("error.not_a_certificate", file=name) + "\n")

    def _pki_list(self, node: SimNode, args: list[str], io: ConsoleIO, user: str) -> None:
        files = [
            path
            for path in node.files.iterdir()
            if path.is_file() and path.suffix.lower() in {".key", ".cer", ".crt", ".pem", ".csr"}
        ]
        # Not sorted (N1: TAC 217320 lists tac.key, tac.cer, ROOTCA.cer, ...): the order
        # the files were written in, oldest first (choices "pki.list.order").
        files.sort(key=lambda path: path.stat().st_mtime_ns)
        names = [path.name for path in files]
        io.write(say("pki.list.heading") + "\n" + "".join(f"{name}\n" for name in names))

    def _pki_csr(self, node: SimNode, args: list[str], io: ConsoleIO, user: str) -> None:
        if len(args) < 2 or not NAME_RE.match(args[0]) or not args[1].startswith("CN:"):
            self._usage(io, "usage.pki")
            return
        key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        oids = {
            "CN": NameOID.COMMON_NAME,
            "OU": NameOID.ORGANIZATIONAL_UNIT_NAME,
            "O": NameOID.ORGANIZATION_NAME,
            "ST": NameOID.STATE_OR_PROVINCE_NAME,
            "C": NameOID.COUNTRY_NAME,
        }
        attributes: list[x509.NameAttribute[str]] = []
        sans: list[x509.GeneralName] = []
        for item in args[1:]:
            field, _, value = item.partition(":")
            if field == "subjectAltName":
                sans += [x509.DNSName(name) for name in value.split(",") if name]
            elif field in oids and value:
                attributes.append(x509.NameAttribute(oids[field], value))
            else:
                self._usage(io, "usage.pki")
                return
        builder = x509.CertificateSigningRequestBuilder().subject_name(x509.Name(attributes))
        if sans:
            builder = builder.add_extension(x509.SubjectAlternativeName(sans), critical=False)
        csr = builder.sign(key, hashes.SHA256())
        node.file_path(f"{args[0]}.key").write_bytes(
            key.private_bytes(
                serialization.Encoding.PEM,
                serialization.PrivateFormat.PKCS8,
                serialization.NoEncryption(),
            )
        )
        node.file_path(f"{args[0]}.csr").write_bytes(csr.public_bytes(serialization.Encoding.PEM))
        io.write(say("pki.csr.done", name=args[0]) + "\n")

    # --- backup -------------------------------------------------------------------------
    def _backup_snapshot(self, node: SimNode, args: list[str], io: ConsoleIO, user: str) -> None:
        if len(args) != 1:
            self._usage(io, "usage.backup")
            return
        name = args[0]
        if not NAME_RE.match(name):
            io.write(say("error.bad_backup_name", name=name) + "\n")
            return
        with self.model.lock:
            self.model.settle()
            now = self.model.clock.now()
            node.file_path(f"{name}.bak").write_bytes(_backup_blob(node, now))
            node.file_path(f"{name}.json").write_text(
                json.dumps(
                    {"hostname": node.name, "created": now.isoformat(), "backup": f"{name}.bak"},
                    indent=2,
                )
                + "\n"
            )
            if name not in node.backups:
                node.backups.append(name)
        io.write(f"{name}.bak ready for download\n")

    def _backup_list(self, node: SimNode, args: list[str], io: ConsoleIO, user: str) -> None:
        names = sorted(path.name for path in node.files.glob("*.bak"))
        io.write(
            "".join(f"{name}\n" for name in names) if names else say("backup.list.empty") + "\n"
        )

    def _backup_rollback(self, node: SimNode, args: list[str], io: ConsoleIO, user: str) -> None:
        if len(args) != 1:
            self._usage(io, "usage.backup")
            return
        name = args[0].removesuffix(".bak")
        path = node.file_path(f"{name}.bak")
        if not NAME_RE.match(name) or not path.is_file():
            io.write(say("error.backup_not_found", name=args[0]) + "\n")
            return
        if not self._confirm(io, say("backup.rollback.prompt") + "\n"):
            return
        header = json.loads(path.read_bytes().split(b"\n", 1)[0])
        with self.model.lock:
            node.content_id = header["content_id"]
            certs = header.get("certs")
            node.certs = (
                CertConfig(
                    dict(certs["files"]),
                    {role: b64decode(data) for role, data in certs["contents"].items()},
                )
                if certs
                else None
            )
        io.write(say("backup.rollback.done", name=name) + "\n")
        raise DisconnectRequested("backup rollback")


def _backup_blob(node: SimNode, now: datetime) -> bytes:
    """A backup file: a JSON header line the simulator can restore from, then padding."""
    certs = None
    if node.certs is not None:
        certs = {
            "files": node.certs.files,
            "contents": {
                role: b64encode(data).decode() for role, data in node.certs.contents.items()
            },
        }
    header = {
        "format": "cms-simulator-backup/1",
        "node": node.name,
        "taken": now.isoformat(),
        "content_id": node.content_id,
        "certs": certs,
    }
    seed = hashlib.sha256(node.content_id.encode()).digest()
    padding = b"".join(hashlib.sha256(seed + bytes([i])).digest() for i in range(256))
    return json.dumps(header).encode() + b"\n" + padding


def _plain_name(name: str) -> bool:
    return bool(name) and "/" not in name and name not in (".", "..")


def _is_ip(text: str) -> bool:
    try:
        ipaddress.ip_address(text)
    except ValueError:
        return False
    return True
