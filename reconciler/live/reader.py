"""Read live state from every node, concurrently and read-only.

Only ``database cluster status``, ``pki inspect`` and SFTP reads are used here (SPEC §6.1):
reading can never change a node.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime

from reconciler.errors import ReconcileError, StatusParseError, TransportError
from reconciler.live.models import CERT_ROLES, MASTER_MARKER, LiveCluster, LiveFile, LiveNode
from reconciler.mmp.parsers.pki import parse_pki_inspect
from reconciler.mmp.parsers.status import parse_cluster_status
from reconciler.mmp.session import MMPSession
from reconciler.parallelism import DEFAULT_PARALLELISM


@dataclass(frozen=True)
class NodeTarget:
    """A node to read: who it is and the session to read it through."""

    cluster: str
    name: str
    address: str
    session: MMPSession
    extra_files: tuple[str, ...] = ()  # e.g. the desired remote names, to compare contents
    read_marker: bool = False  # the desired master's evidence of being the last master
    bridge: bool = False  # a connected call bridge (``connected:``), not a database node


def read_node(target: NodeTarget) -> LiveNode:
    """Status and file identities of one node; failures become the node's ``error``."""
    session = target.session
    try:
        result = session.run("database cluster status")
    except TransportError as error:
        # A node that answered (a refused login, a host key, not an MMP) is reachable: it
        # is refusing, and saying "unreachable" would send the reader to check the network.
        return LiveNode(
            name=target.name,
            address=target.address,
            reachable=error.answered,
            error=_without_node(error),
        )
    except ReconcileError as error:
        return LiveNode(name=target.name, address=target.address, reachable=True, error=str(error))
    try:
        status = parse_cluster_status(result.output)
    except StatusParseError as error:
        # Status in the Error state starts with an ERROR line, so a rejection is only looked
        # for when the output is not a status block at all.
        rejection = result.rejection
        reason = (
            f"the node refused 'database cluster status': {rejection}"
            if rejection
            else f"status not understood, refusing to guess: {error}"
        )
        return LiveNode(name=target.name, address=target.address, reachable=True, error=reason)
    names = [
        ref.file for role in CERT_ROLES if (ref := getattr(status.certificates, role)) is not None
    ]
    names += [name for name in target.extra_files if name not in names]
    try:
        files = {name: _read_file(session, name) for name in names}
    except ReconcileError as error:
        return LiveNode(
            name=target.name,
            address=target.address,
            reachable=True,
            status=status,
            error=f"cannot read certificate files: {_without_node(error)}",
        )
    return LiveNode(
        name=target.name,
        address=target.address,
        reachable=True,
        status=status,
        files=files,
        master_marker=_read_marker(session) if target.read_marker else None,
    )


def _without_node(error: ReconcileError) -> str:
    """The message of ``error`` without the node's name (the node is said once, by whoever
    shows it)."""
    return error.detail if isinstance(error, TransportError) else str(error)


def _read_marker(session: MMPSession) -> dict[str, str] | None:
    try:
        data = session.read_file(MASTER_MARKER)
    except TransportError:
        return None
    if data is None:
        return None
    try:
        marker = json.loads(data)
    except ValueError:
        return {"unreadable": "true"}
    return (
        {str(key): str(value) for key, value in marker.items()}
        if isinstance(marker, dict)
        else None
    )


def _read_file(session: MMPSession, name: str) -> LiveFile:
    try:
        data = session.read_file(name)
    except TransportError:
        return _inspect_file(session, name)
    if data is None:
        return LiveFile(name=name, present=False, source="none")
    return LiveFile.from_bytes(name, data)


def _inspect_file(session: MMPSession, name: str) -> LiveFile:
    """SFTP failed: identify a certificate by serial and issuer from ``pki inspect``."""
    result = session.run(f"pki inspect {name}")
    inspected = parse_pki_inspect(result.output)
    if not any(lookup.found for lookup in inspected.lookups):
        return LiveFile(name=name, present=False, source="none")
    certificate = inspected.certificate
    return LiveFile(
        name=name,
        present=True,
        serial=certificate.serial_text if certificate else None,
        issuer=certificate.issuer if certificate else None,
        source="pki",
        not_after=certificate.not_after if certificate else None,
    )


def read_clusters(
    targets: Sequence[NodeTarget],
    *,
    max_parallel: int = DEFAULT_PARALLELISM,
    now: Callable[[], datetime] = lambda: datetime.now(UTC),
) -> list[LiveCluster]:
    """Read every target in parallel (bounded) and group the results by cluster, in order."""
    read_at = now()
    with ThreadPoolExecutor(max_workers=max(1, min(max_parallel, len(targets)))) as pool:
        nodes = list(pool.map(read_node, targets))
    clusters: dict[str, list[LiveNode]] = {}
    bridges: dict[str, list[LiveNode]] = {}
    for target, node in zip(targets, nodes, strict=True):
        clusters.setdefault(target.cluster, [])
        (bridges if target.bridge else clusters).setdefault(target.cluster, []).append(node)
    return [
        LiveCluster(
            name=name,
            read_at=read_at,
            nodes=tuple(members),
            bridges=tuple(bridges.get(name, ())),
        )
        for name, members in clusters.items()
    ]
