"""Host keys against pins: ``reconcile hostkeys`` and the first step of ``reconcile import``.

A node is asked for its host key with the SSH key exchange only (no login, no password), and
the key is judged against the pins file the way the transport judges it before a login:
revoked, pinned, changed (pinned for this name, but another key) or not pinned. Pinning is
explicit: ``--write`` (or ``import --trust-new-host-keys``) appends a line for a key that is
not pinned yet, and never touches a changed or revoked one.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, replace
from enum import StrEnum
from pathlib import Path

from reconciler.connect import timeouts_for
from reconciler.desired.loader import readable_spec, resolve_cluster_names
from reconciler.desired.models import ClusterSpec
from reconciler.desired.source import open_source
from reconciler.errors import ConfigError, TransportError
from reconciler.mmp import known_hosts as kh
from reconciler.mmp.transport import (
    Endpoint,
    KnownHosts,
    ScannedHostKey,
    TransportTimeouts,
    scan_host_key,
)
from reconciler.repo_root import repo_file
from reconciler.simulator.builtin_lab import lab_hint

Scanner = Callable[[Endpoint, KnownHosts, TransportTimeouts], ScannedHostKey]
"""How a host key is fetched: ``scan_host_key`` over SSH, a fake in unit tests."""

MAX_PARALLEL_SCANS = 8
PINS_HEADER = (
    "# Pinned SSH host keys of the CMS nodes, one '[address]:port key-type base64' line each\n"
    "# (OpenSSH known_hosts format). `reconcile hostkeys` shows each fingerprint: check it\n"
    '# over a path you trust before pinning (README: "Use it on your cluster").\n'
)


class PinState(StrEnum):
    """A node's host key against the pins file."""

    PINNED = "pinned"
    NOT_PINNED = "NOT PINNED"
    CHANGED = "CHANGED"
    REVOKED = "REVOKED"


@dataclass(frozen=True)
class Verdict:
    state: PinState
    detail: str
    """Which line pins or revokes the key, or which keys are pinned instead."""


def judge(pins: kh.KnownHostsFile, origin: str, name: str, blob: bytes) -> Verdict:
    """The key ``blob`` offered for ``name`` against ``pins``: the transport's rules, as data.

    A revocation wins over any pin; a key pinned for ``name`` is accepted; other pins for
    ``name`` mean the key changed; no pin at all means it was never pinned.
    """
    revoked = pins.revocation(blob)
    if revoked is not None:
        return Verdict(
            PinState.REVOKED,
            f"{origin} line {revoked.number} marks this key @revoked; it is refused even where "
            "another line pins it",
        )
    lines = pins.pins(name)
    match = next((line for line in lines if line.blob == blob), None)
    if match is not None:
        return Verdict(PinState.PINNED, f"{origin} line {match.number}")
    if not lines:
        return Verdict(PinState.NOT_PINNED, f"no line of {origin} names {name}")
    pinned = ", ".join(f"{line.fingerprint} (line {line.number})" for line in lines)
    return Verdict(
        PinState.CHANGED,
        f"{origin} pins {pinned} for {name}; this may be an impostor. If the node was really "
        "re-keyed, replace that line by hand after checking the new fingerprint over a path you "
        "trust",
    )


# --- the pins file in the working tree ----------------------------------------------------


def load_pins(repo: Path, path: str) -> tuple[KnownHosts, str]:
    """The pins file of the working tree and its text ('' when it does not exist yet)."""
    target = repo_file(repo, path)
    try:
        text = target.read_text(encoding="utf-8", errors="replace")
    except FileNotFoundError:
        text = ""
    except OSError as error:
        raise ConfigError(f"{path} cannot be read: {error.strerror or error}") from error
    return KnownHosts.parse(text, path), text


def pins_after(text: str | None, lines: Sequence[str]) -> tuple[str, list[str]]:
    """What ``append_pins`` adds at the end of a pins file holding ``text`` (None: no file
    yet, so the whole new file), and the lines it adds."""
    present = set((text or "").splitlines())
    new = [line for line in dict.fromkeys(lines) if line not in present]
    if not new:
        return "", []
    addition = "\n".join(new) + "\n"
    if text is None:
        return PINS_HEADER + addition, new
    return ("" if text == "" or text.endswith("\n") else "\n") + addition, new


def read_pins_text(repo: Path, path: str) -> str | None:
    """The pins file's text as ``append_pins`` reads it; None when it does not exist."""
    try:
        return repo_file(repo, path).read_text(encoding="utf-8", errors="replace")
    except FileNotFoundError:
        return None


def append_pins(repo: Path, path: str, lines: Sequence[str]) -> list[str]:
    """Append the lines the file does not hold yet; create it (with a header) if missing.

    Returns the lines appended. Existing lines are never rewritten or removed.
    """
    target = repo_file(repo, path)
    text = read_pins_text(repo, path)
    addition, new = pins_after(text, lines)
    if not new:
        return []
    if text is None:
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(addition, encoding="utf-8")
    else:
        with target.open("a", encoding="utf-8") as handle:
            handle.write(addition)
    return new


# --- `reconcile hostkeys` -----------------------------------------------------------------


@dataclass(frozen=True)
class NodeHostKey:
    """One node's host key as scanned, and how it stands against the pins."""

    node: str
    name: str
    """The node's name in known_hosts: ``host`` on port 22, else ``[host]:port``."""
    key: ScannedHostKey | None = None
    verdict: Verdict | None = None
    error: str | None = None
    """Why the key could not be fetched (unreachable, no SSH handshake)."""
    written: bool = False
    """Pinned by this run (``--write``)."""

    @property
    def ok(self) -> bool:
        return self.written or (self.verdict is not None and self.verdict.state is PinState.PINNED)

    @property
    def line(self) -> str | None:
        """The known_hosts line that would pin the scanned key."""
        return self.key.known_hosts_line(self.name) if self.key is not None else None


@dataclass(frozen=True)
class ClusterHostKeys:
    cluster: str
    pins_file: str
    nodes: tuple[NodeHostKey, ...]


@dataclass(frozen=True)
class HostKeysReport:
    clusters: tuple[ClusterHostKeys, ...]
    written: tuple[tuple[str, tuple[str, ...]], ...] = ()
    """Per pins file, the lines appended."""

    @property
    def ok(self) -> bool:
        return all(node.ok for cluster in self.clusters for node in cluster.nodes)


def scan_nodes(
    targets: Sequence[tuple[str, Endpoint]],
    pins: KnownHosts,
    timeouts: TransportTimeouts,
    scan: Scanner = scan_host_key,
) -> list[NodeHostKey]:
    """Fetch and judge each target's host key, in parallel (bounded); no login anywhere."""

    def one(target: tuple[str, Endpoint]) -> NodeHostKey:
        node, endpoint = target
        name = kh.host_key_name(endpoint.host, endpoint.port)
        try:
            key = scan(endpoint, pins, timeouts)
        except TransportError as error:
            return NodeHostKey(node, name, error=str(error))
        return NodeHostKey(node, name, key, judge(pins.file, pins.origin, name, key.blob))

    if not targets:
        return []
    with ThreadPoolExecutor(max_workers=min(MAX_PARALLEL_SCANS, len(targets))) as pool:
        return list(pool.map(one, targets))


def _cluster_targets(spec: ClusterSpec) -> list[tuple[str, Endpoint]]:
    hint = lab_hint(spec) or ""  # the simulated lab's nodes only: how to serve them
    return [
        (
            node.name,
            Endpoint(
                node.name,
                node.effective_ssh_host,
                spec.ssh_port_of(node),
                spec.ssh.username,
                refused_hint=hint,
            ),
        )
        for node in spec.machines()  # connected call bridges are read too
    ]


def check_host_keys(
    repo: Path,
    clusters: Sequence[str],
    *,
    write: bool = False,
    scan: Scanner = scan_host_key,
) -> HostKeysReport:
    """Every node's host key against its cluster's pins; ``write`` pins the unpinned ones."""
    with open_source(repo) as source:
        specs = [readable_spec(source, name) for name in resolve_cluster_names(source, clusters)]
    pins_by_file: dict[str, KnownHosts] = {}
    results: list[ClusterHostKeys] = []
    for spec in specs:
        path = spec.ssh.known_hosts
        if path not in pins_by_file:
            try:
                pins_by_file[path] = load_pins(repo, path)[0]
            except ConfigError as error:
                raise ConfigError(f"cluster {spec.name}: ssh.known_hosts: {error}") from error
        nodes = scan_nodes(_cluster_targets(spec), pins_by_file[path], timeouts_for(spec), scan)
        results.append(ClusterHostKeys(spec.name, path, tuple(nodes)))
    if not write:
        return HostKeysReport(tuple(results))
    return _write_new_pins(repo, results)


def _write_new_pins(repo: Path, results: list[ClusterHostKeys]) -> HostKeysReport:
    wanted: dict[str, list[str]] = {}
    for cluster in results:
        for node in cluster.nodes:
            if node.verdict is not None and node.verdict.state is PinState.NOT_PINNED:
                assert node.line is not None
                wanted.setdefault(cluster.pins_file, []).append(node.line)
    written = {path: append_pins(repo, path, lines) for path, lines in wanted.items()}
    updated = [
        replace(
            cluster,
            nodes=tuple(
                replace(node, written=True)
                if node.verdict is not None and node.verdict.state is PinState.NOT_PINNED
                else node
                for node in cluster.nodes
            ),
        )
        for cluster in results
    ]
    return HostKeysReport(
        tuple(updated), tuple((path, tuple(lines)) for path, lines in written.items() if lines)
    )


def render_host_keys(report: HostKeysReport, *, write: bool) -> str:
    """The text of ``reconcile hostkeys``: one block per cluster, one line per node."""
    out: list[str] = []
    for cluster in report.clusters:
        out.append(f"cluster {cluster.cluster} (pins: {cluster.pins_file})")
        for node in cluster.nodes:
            out.extend(_node_lines(node))
    for path, lines in report.written:
        out.append(f"appended {len(lines)} line{'s' if len(lines) != 1 else ''} to {path}")
    out.append(_summary(report, write=write))
    return "\n".join(out)


def _node_lines(node: NodeHostKey) -> list[str]:
    head = f"  {node.node}  {node.name}"
    if node.key is None or node.verdict is None:
        return [f"{head}  UNREACHABLE: {node.error}"]
    key = f"{node.key.key_type} {node.key.fingerprint}"
    state = node.verdict.state
    if node.written:
        return [f"{head}  {key}  pinned now (was NOT PINNED)"]
    if state is PinState.PINNED:
        return [f"{head}  {key}  pinned ({node.verdict.detail})"]
    if state is PinState.NOT_PINNED:
        return [
            f"{head}  {key}  NOT PINNED",
            "      check the fingerprint over a path you trust (see below), then pin it with "
            "--write, or add this line:",
            f"      {node.line}",
        ]
    return [f"{head}  {key}  {state.value}: {node.verdict.detail}"]


def _summary(report: HostKeysReport, *, write: bool) -> str:
    nodes = [node for cluster in report.clusters for node in cluster.nodes]
    counts: dict[str, int] = {}
    for node in nodes:
        if node.written:
            label = "pinned now"
        elif node.verdict is None:
            label = "UNREACHABLE"
        else:
            label = node.verdict.state.value
        counts[label] = counts.get(label, 0) + 1
    parts = ", ".join(f"{count} {label}" for label, count in counts.items())
    summary = f"{len(nodes)} node{'s' if len(nodes) != 1 else ''}: {parts}"
    if not write and counts.get(PinState.NOT_PINNED.value):
        summary += (
            "; check the NOT PINNED fingerprints over a path you trust, not over this "
            f"connection ({kh.fingerprint_source()}), then run `reconcile hostkeys --write` to "
            "pin them"
        )
    if counts.get(PinState.CHANGED.value) or counts.get(PinState.REVOKED.value):
        summary += "; CHANGED and REVOKED keys are never replaced automatically"
    return summary
