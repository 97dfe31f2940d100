"""Read what ``reconcile import`` needs from each node, read-only.

Per node: ``database cluster status`` (who it is, its membership and role, the certificate
files in use), then each of those files over SFTP. ``pki inspect`` is sent only for a file
SFTP refused to read, to learn whether it is there and, for a certificate, which one it is
(reference §2.1: its output is documented; ``pki list``'s is not, and SFTP already tells
whether a file exists). Nothing else is ever sent.

No file is read past ``MAX_FILE_BYTES``, the limit ``validate`` sets for a file in git (1 MiB;
a certificate or key is a few kilobytes): its size is asked first, and the read stops after
the limit even if the size was wrong. A larger file makes the node unreadable for the import,
naming the file and what to do, so that nothing git could not hold is ever written.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Protocol

from reconciler.desired.bundle import ROLE_LABEL
from reconciler.desired.source import MAX_FILE_BYTES
from reconciler.errors import (
    ReconcileError,
    RemoteFileTooLarge,
    StatusParseError,
    TransportError,
)
from reconciler.live.models import CERT_ROLES
from reconciler.mmp.models import CertificateDetails, CertRole, ClusterStatus, PkiObjectKind
from reconciler.mmp.parsers.pki import parse_pki_inspect
from reconciler.mmp.parsers.status import parse_cluster_status
from reconciler.mmp.session import MMPSession

STATUS_COMMAND = "database cluster status"
INSPECT_COMMAND = "pki inspect"
MAX_PARALLEL_NODES = 8


@dataclass(frozen=True)
class NodeFile:
    """One certificate file a node's status names, as far as it could be read."""

    name: str
    data: bytes | None = field(default=None, repr=False)
    """The bytes read over SFTP (a key unencrypted, as the MMP holds it); None if not read."""
    present: bool | None = None
    """True: read, or ``pki inspect`` found it; False: it is not there; None: unknown."""
    refused: str | None = None
    """Why SFTP could not read it, when it could not."""
    inspected_kind: PkiObjectKind | None = None
    certificate: CertificateDetails | None = None
    """What ``pki inspect`` says about a certificate SFTP could not read."""


@dataclass(frozen=True)
class NodeReading:
    """One ``--address``: who answered there and what it says, or why it could not be read."""

    given: str
    """The ``--address`` (where SSH reached the node)."""
    port: int
    name: str | None = None
    """The MMP prompt's hostname."""
    status: ClusterStatus | None = None
    files: dict[str, NodeFile] = field(default_factory=dict)
    """By file name."""
    error: str | None = None
    """Why the node could not be read, naming it."""

    @property
    def label(self) -> str:
        return f"{self.name} ({self.given})" if self.name else self.given

    def file_for(self, role: str) -> NodeFile | None:
        """The file of a certificate role (``server_key``...), when status names one."""
        if self.status is None:
            return None
        ref = getattr(self.status.certificates, role)
        return self.files.get(ref.file) if ref is not None else None


class BoundedFiles(Protocol):
    """A node's file area, read with a cap (``SSHTransport`` is one)."""

    def read_file_bounded(self, name: str, limit: int) -> bytes | None: ...


@dataclass(frozen=True)
class ReadTarget:
    """A node to read: where it was reached, and the session to it."""

    given: str
    port: int
    session: MMPSession
    hostname: Callable[[], str | None]
    """The hostname the session learnt from the MMP prompt (known once logged in)."""
    files: BoundedFiles
    """The same node's file area; every file is read through it, capped."""


def read_node(target: ReadTarget) -> NodeReading:
    """Status and certificate files of one node; a failure becomes the reading's ``error``."""
    given, port, session = target.given, target.port, target.session
    try:
        result = session.run(STATUS_COMMAND)
    except ReconcileError as error:
        return NodeReading(given, port, error=str(error))
    name = target.hostname()
    try:
        status = parse_cluster_status(result.output)
    except StatusParseError as error:
        rejection = result.rejection
        reason = (
            f"refused '{STATUS_COMMAND}': {rejection}"
            if rejection
            else f"'{STATUS_COMMAND}' not understood, refusing to guess: {error}"
        )
        return NodeReading(given, port, name, error=f"{name or given} ({given}): {reason}")
    names = [ref.file for role in CERT_ROLES if (ref := getattr(status.certificates, role))]
    try:
        files = {file: _read_file(target, file) for file in dict.fromkeys(names)}
    except RemoteFileTooLarge as error:
        return NodeReading(
            given,
            port,
            name,
            status,
            error=f"{name or given} ({given}): {_too_large(error, status)}",
        )
    except ReconcileError as error:
        return NodeReading(
            given,
            port,
            name,
            status,
            error=f"{name or given} ({given}): cannot read its files: {error}",
        )
    return NodeReading(given, port, name, status, files)


def _read_file(target: ReadTarget, name: str) -> NodeFile:
    try:
        data = target.files.read_file_bounded(name, MAX_FILE_BYTES)
    except RemoteFileTooLarge:
        raise
    except TransportError as error:
        return _inspect(target.session, name, str(error))
    if data is None:
        return NodeFile(name, present=False)
    return NodeFile(name, data=data, present=True)


def _too_large(error: RemoteFileTooLarge, status: ClusterStatus) -> str:
    roles = [
        ROLE_LABEL[CertRole(role)]
        for role in CERT_ROLES
        if (ref := getattr(status.certificates, role)) is not None and ref.file == error.name
    ]
    size = f"{error.size:,} bytes" if error.size is not None else f"more than {error.limit:,} bytes"
    return (
        f"its {' and '.join(roles) or 'file'} {error.name} is {size}, over the "
        f"{error.limit:,}-byte (1 MiB) limit `reconcile validate` sets for a file in git (a "
        "certificate or key is a few kilobytes); the import reads no more than that. Put a copy "
        "holding only the PEM block(s) on the node under the same name and import again, or write "
        "the cluster file by hand (README: Add a cluster)"
    )


def _inspect(session: MMPSession, name: str, refused: str) -> NodeFile:
    """SFTP refused the file: ``pki inspect`` says whether it is there and what it holds."""
    result = session.run(f"{INSPECT_COMMAND} {name}")
    try:
        inspected = parse_pki_inspect(result.output)
    except StatusParseError:
        # "not found" ends with an ERROR line instead of "File contains": the file is absent
        # only when the lookup lines say so; anything else stays unknown.
        lookups = result.output.splitlines()
        absent = any(line.strip().endswith("...not found") for line in lookups) and not any(
            line.strip().endswith("...found") for line in lookups
        )
        return NodeFile(name, present=False if absent else None, refused=refused)
    found = any(lookup.found for lookup in inspected.lookups)
    return NodeFile(
        name,
        present=found,
        refused=refused,
        inspected_kind=inspected.kind if found else None,
        certificate=inspected.certificate if found else None,
    )


def read_nodes(targets: Sequence[ReadTarget]) -> list[NodeReading]:
    """Read every target in parallel (bounded), in the order given."""
    if not targets:
        return []
    with ThreadPoolExecutor(max_workers=min(MAX_PARALLEL_NODES, len(targets))) as pool:
        return list(pool.map(read_node, targets))
