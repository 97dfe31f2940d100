"""``reconcile certs check``: when does each certificate expire, in git and on the nodes?

For every cluster: the certificate files of the desired bundle in git (``node`` is
``desired``), and the files each node's status names as in use, read like ``status`` reads
them (SFTP, ``pki inspect`` where SFTP cannot). Each is judged with ``status``'s own rule
(``live.health.judge_certificate``): expired, due (within the window: ``--within``, else the
cluster file's ``renew_before``), ok, or unknown. A file's expiry is that of its first
certificate (the leaf; the first CA of a CA file), the one ``status`` and ``pki inspect`` show.

Reading is read-only by construction: each node's session is wrapped so that only
``database cluster status`` and ``pki inspect`` can be sent and no file can be written.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from contextlib import ExitStack
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Literal

from cryptography import x509
from pydantic import AwareDatetime, BaseModel, ConfigDict

from reconciler.connect import SessionPool
from reconciler.desired.certcheck import describe_name
from reconciler.desired.findings import describe_errors
from reconciler.desired.loader import load_spec, resolve_cluster_names
from reconciler.desired.models import ClusterSpec
from reconciler.desired.pem import load_certificates
from reconciler.desired.source import DesiredSource, open_source
from reconciler.errors import MaterialError, ReconcileError, SourceReadError, StatusParseError
from reconciler.live.health import (
    CERTIFICATE_ROLES,
    CertificateHealth,
    CertificateState,
    judge_certificate,
    node_certificates,
)
from reconciler.live.models import LiveNode
from reconciler.live.reader import NodeTarget, read_clusters
from reconciler.mmp.models import CertRole
from reconciler.mmp.parsers.pki import parse_pki_inspect
from reconciler.mmp.session import CommandResult, MMPSession, TranscriptEntry
from reconciler.mmp.transport import TransportTimeouts

DESIRED = "desired"
EXIT_OK = 0
EXIT_RENEW = 1
EXIT_NOT_CHECKED = 3


class CertificateEntry(BaseModel):
    """One certificate file of one cluster, in git (``node == "desired"``) or on a node."""

    model_config = ConfigDict(frozen=True)

    cluster: str
    node: str
    address: str | None
    source: Literal["git", "live"]
    role: CertRole
    file: str
    """Repo-relative path in git; the file name on the node for live files."""
    not_after: AwareDatetime | None
    days_left: int | None
    state: CertificateState
    window: timedelta
    """Renewal is due this long before expiry (``--within`` or the cluster's renew_before)."""
    subject: str | None
    issuer: str | None

    @property
    def expired(self) -> bool:
        return self.state == "expired"

    @property
    def renewal_due(self) -> bool:
        return self.state in ("expired", "due")


class NodeCheck(BaseModel):
    """Whether everything of one node (or of the desired bundle) could be checked."""

    model_config = ConfigDict(frozen=True)

    cluster: str
    node: str
    address: str | None
    success: bool
    error: str | None = None


class CheckReport(BaseModel):
    model_config = ConfigDict(frozen=True)

    checked_at: AwareDatetime
    offline: bool
    certificates: tuple[CertificateEntry, ...]
    checks: tuple[NodeCheck, ...]

    def clusters(self) -> list[str]:
        names = [check.cluster for check in self.checks]
        return list(dict.fromkeys(names))

    @property
    def exit_code(self) -> int:
        """1 when a certificate is expired or due (it wins: renewing is the action either way),
        3 when something could not be checked, else 0."""
        if any(entry.renewal_due for entry in self.certificates):
            return EXIT_RENEW
        if not all(check.success for check in self.checks):
            return EXIT_NOT_CHECKED
        return EXIT_OK


@dataclass(frozen=True)
class CheckRequest:
    repo: Path
    clusters: Sequence[str] = ()
    within: timedelta | None = None
    offline: bool = False


def run_check(
    request: CheckRequest,
    env: Mapping[str, str],
    *,
    now: datetime | None = None,
    timeouts: TransportTimeouts | None = None,
) -> CheckReport:
    moment = now or datetime.now(UTC)
    entries: list[CertificateEntry] = []
    checks: list[NodeCheck] = []
    live: list[_LiveCluster] = []
    with open_source(request.repo) as source, ExitStack() as stack:
        for name in resolve_cluster_names(source, request.clusters):
            loaded = load_spec(source, name)
            if loaded.spec is None or loaded.findings.has_errors:
                problems = describe_errors(loaded.findings.items)
                error = f"the cluster file is not valid (run `reconcile validate`): {problems}"
                checks.append(
                    NodeCheck(cluster=name, node=DESIRED, address=None, success=False, error=error)
                )
                continue
            window = request.within if request.within is not None else loaded.spec.renew_before
            desired_entries, desired_check = _desired(source, loaded.spec, window, moment)
            entries += desired_entries
            checks.append(desired_check)
            if not request.offline:
                live.append(_open_live(stack, loaded.spec, source, env, window, timeouts))
        entries_live, checks_live = _read_live(live)
    return CheckReport(
        checked_at=moment,
        offline=request.offline,
        certificates=tuple(entries + entries_live),
        checks=tuple(checks + checks_live),
    )


# --- git -----------------------------------------------------------------------------------


def _desired(
    source: DesiredSource, spec: ClusterSpec, window: timedelta, now: datetime
) -> tuple[list[CertificateEntry], NodeCheck]:
    """Every distinct certificate file of the cluster's bundle (overrides included)."""
    entries: list[CertificateEntry] = []
    problems: list[str] = []
    seen: set[tuple[CertRole, str]] = set()
    for node in spec.nodes:
        bundle = spec.node_certs(node)
        for role in CERTIFICATE_ROLES:
            path = bundle.file(role).path
            if (role, path) in seen:
                continue
            seen.add((role, path))
            cert = None
            try:
                cert = load_certificates(source.read_bytes(path), path)[0]
            except FileNotFoundError:
                problems.append(f"{path} does not exist")
            except (SourceReadError, MaterialError) as error:
                problems.append(f"{path}: {error}")
            health = judge_certificate(
                role,
                path,
                cert.not_valid_after_utc if cert is not None else None,
                marked_expired=False,
                renew_before=window,
                now=now,
            )
            entries.append(_entry(spec.name, DESIRED, None, "git", health, window, cert))
    check = NodeCheck(
        cluster=spec.name,
        node=DESIRED,
        address=None,
        success=not problems,
        error="; ".join(problems) or None,
    )
    return entries, check


def _entry(
    cluster: str,
    node: str,
    address: str | None,
    source: Literal["git", "live"],
    health: CertificateHealth,
    window: timedelta,
    cert: x509.Certificate | None,
    names: tuple[str | None, str | None] = (None, None),
) -> CertificateEntry:
    subject, issuer = names
    if cert is not None:
        subject, issuer = describe_name(cert.subject), describe_name(cert.issuer)
    return CertificateEntry(
        cluster=cluster,
        node=node,
        address=address,
        source=source,
        role=health.role,
        file=health.file,
        not_after=health.not_after,
        days_left=health.days_left,
        state=health.state,
        window=window,
        subject=subject,
        issuer=issuer,
    )


# --- nodes ---------------------------------------------------------------------------------


class _ReadOnlySession:
    """A node's session that can only read, and keeps what it read (to name the
    certificates' subject and issuer without reading them twice)."""

    _COMMANDS = ("database cluster status", "pki inspect ")

    def __init__(self, session: MMPSession) -> None:
        self._session = session
        self.files: dict[str, bytes] = {}
        self.inspected: dict[str, str] = {}

    @property
    def node(self) -> str:
        return self._session.node

    @property
    def transcript(self) -> list[TranscriptEntry]:
        return self._session.transcript

    def run(self, command: str, timeout: float | None = None) -> CommandResult:
        if not command.startswith(self._COMMANDS):
            raise ReconcileError(f"certs check does not send {command!r}: it only reads")
        result = self._session.run(command, timeout)
        if command.startswith("pki inspect "):
            self.inspected[command.removeprefix("pki inspect ")] = result.output
        return result

    def read_file(self, name: str) -> bytes | None:
        data = self._session.read_file(name)
        if data is not None:
            self.files[name] = data
        return data

    def file_size(self, name: str) -> int | None:
        return self._session.file_size(name)

    def run_confirmed(self, command: str, timeout: float | None = None) -> CommandResult:
        raise ReconcileError(f"certs check does not send {command!r}: it only reads")

    def write_file(self, name: str, data: bytes) -> None:
        raise ReconcileError(f"certs check does not write {name}: it only reads")

    def create_file(self, name: str, data: bytes) -> bool:
        raise ReconcileError(f"certs check does not write {name}: it only reads")

    def remove_file(self, name: str) -> None:
        raise ReconcileError(f"certs check does not remove {name}: it only reads")

    def download(self, name: str, local: Path) -> int:
        raise ReconcileError(f"certs check does not download {name}")

    def close(self) -> None:
        self._session.close()


@dataclass
class _LiveCluster:
    spec: ClusterSpec
    window: timedelta
    sessions: dict[str, _ReadOnlySession] = field(default_factory=dict)
    error: str | None = None


def _open_live(
    stack: ExitStack,
    spec: ClusterSpec,
    source: DesiredSource,
    env: Mapping[str, str],
    window: timedelta,
    timeouts: TransportTimeouts | None,
) -> _LiveCluster:
    cluster = _LiveCluster(spec, window)
    try:
        pool = stack.enter_context(SessionPool(spec, source, env, timeouts))
    except ReconcileError as error:  # credentials not set, pins unreadable: no node is read
        cluster.error = str(error)
        return cluster
    cluster.sessions = {node.address: _ReadOnlySession(pool.session(node)) for node in spec.nodes}
    return cluster


def _read_live(
    clusters: list[_LiveCluster],
) -> tuple[list[CertificateEntry], list[NodeCheck]]:
    targets = [
        NodeTarget(cluster.spec.name, node.name, node.address, cluster.sessions[node.address])
        for cluster in clusters
        for node in cluster.spec.nodes
        if cluster.error is None
    ]
    read = {live.name: live for live in read_clusters(targets)} if targets else {}
    entries: list[CertificateEntry] = []
    checks: list[NodeCheck] = []
    for cluster in clusters:
        name = cluster.spec.name
        if cluster.error is not None:
            checks += [
                NodeCheck(
                    cluster=name,
                    node=node.name,
                    address=node.address,
                    success=False,
                    error=cluster.error,
                )
                for node in cluster.spec.nodes
            ]
            continue
        for node in read[name].nodes:
            session = cluster.sessions[node.address]
            node_entries = [
                _live_entry(name, node, health, cluster.window, session)
                for health in node_certificates(node, cluster.window, read[name].read_at).values()
            ]
            entries += node_entries
            checks.append(_node_check(name, node, node_entries))
    return entries, checks


def _live_entry(
    cluster: str,
    node: LiveNode,
    health: CertificateHealth,
    window: timedelta,
    session: _ReadOnlySession,
) -> CertificateEntry:
    data = session.files.get(health.file)
    cert = None
    if data is not None:
        try:
            cert = x509.load_pem_x509_certificates(data)[0]
        except ValueError:
            cert = _der(data)
    names: tuple[str | None, str | None] = (None, None)
    inspected = session.inspected.get(health.file)
    if cert is None and inspected is not None:
        try:
            details = parse_pki_inspect(inspected).certificate
        except StatusParseError:
            details = None
        if details is not None:
            names = (details.subject, details.issuer)
    return _entry(cluster, node.name, node.address, "live", health, window, cert, names)


def _der(data: bytes) -> x509.Certificate | None:
    try:
        return x509.load_der_x509_certificate(data)
    except ValueError:
        return None


def _node_check(cluster: str, node: LiveNode, entries: list[CertificateEntry]) -> NodeCheck:
    error = node.error
    if error is None and node.status is None:
        error = "no status"
    unknown = [entry.file for entry in entries if entry.state == "unknown"]
    if error is None and unknown:
        error = f"the expiry of {', '.join(unknown)} could not be read"
    return NodeCheck(
        cluster=cluster,
        node=node.name,
        address=node.address,
        success=error is None,
        error=error,
    )
