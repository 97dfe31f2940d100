"""Build one SSH session per node from a cluster spec and the environment.

The wiring between a cluster file (``desired``) and the SSH layer (``mmp``), kept out of
both so that the SSH layer knows nothing of YAML. Secrets come only from the environment
variables the cluster file names; they go to paramiko and to the transcript redactor,
nowhere else.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import NoReturn

from reconciler.desired.models import ClusterSpec, ConnectedSpec, NodeSpec
from reconciler.desired.source import DesiredSource, brief
from reconciler.errors import ConfigError, SourceReadError, TransportError
from reconciler.mmp.known_hosts import host_key_name
from reconciler.mmp.session import MMPShell, Redactor, SSHSession, redactor_for
from reconciler.mmp.transport import (
    Credentials,
    Endpoint,
    KnownHosts,
    SSHTransport,
    TransportTimeouts,
)
from reconciler.simulator.builtin_lab import lab_hint


@dataclass(frozen=True)
class MissingVariable:
    """An environment variable a cluster file names that is not set, or is empty.

    ``names`` holds more than one name when any of them would do (a password or a key file).
    """

    cluster: str
    names: tuple[str, ...]
    keys: tuple[str, ...]  # the cluster file's keys that name them
    holds: str  # what the variable must hold, for a person
    empty: bool = False


def missing_credentials(spec: ClusterSpec, env: Mapping[str, str]) -> list[MissingVariable]:
    """The SSH login variables of ``spec`` when none of them is set (any one is enough)."""
    ssh = spec.ssh
    named = [
        (name, key, holds)
        for name, key, holds in (
            (ssh.password_env, "ssh.password_env", "the SSH password"),
            (ssh.key_file_env, "ssh.key_file_env", "the path of the SSH private key"),
        )
        if name
    ]
    if any(env.get(name) for name, _, _ in named):
        return []
    return [
        MissingVariable(
            cluster=spec.name,
            names=tuple(name for name, _, _ in named),
            keys=tuple(key for _, key, _ in named),
            holds=", or ".join(holds for _, _, holds in named),
            empty=bool(named) and all(env.get(name) == "" for name, _, _ in named),
        )
    ]


def missing_passphrases(spec: ClusterSpec, env: Mapping[str, str]) -> list[MissingVariable]:
    """Every ``key_passphrase_env`` a node of ``spec`` uses whose variable is not set."""
    used: dict[str, str] = {}
    for index, node in enumerate(spec.nodes):
        if node.certs is not None and node.certs.key_passphrase_env:
            used.setdefault(
                node.certs.key_passphrase_env, f"nodes[{index}].certs.key_passphrase_env"
            )
        else:
            used.setdefault(spec.certs.key_passphrase_env, "certs.key_passphrase_env")
    return [
        MissingVariable(
            cluster=spec.name,
            names=(name,),
            keys=(key,),
            holds="the passphrase of the encrypted private keys in git",
            empty=env.get(name) == "",
        )
        for name, key in used.items()
        if not env.get(name)
    ]


def describe_missing(missing: Sequence[MissingVariable]) -> str:
    """One message for every variable missing in a run: each named once, with the clusters
    that need it and what it must hold, so that one fix covers them all."""
    by_names: dict[tuple[str, ...], list[MissingVariable]] = {}
    for item in missing:
        by_names.setdefault(item.names, []).append(item)
    lines = []
    for names, items in by_names.items():
        if not names:
            lines.append(
                f"cluster {items[0].cluster}: the cluster file names no SSH credentials; set "
                "ssh.password_env or ssh.key_file_env"
            )
            continue
        where = "; ".join(
            f"cluster {item.cluster}: {' or '.join(dict.fromkeys(item.keys))}" for item in items
        )
        state = " (set, but empty)" if all(item.empty for item in items) else ""
        lines.append(f"{' or '.join(names)}{state}: {items[0].holds} ({where})")
    variables = [name for names in by_names for name in names]
    if not variables:
        head = "no SSH credentials"
    elif len(variables) == 1:
        state = "is empty" if missing[0].empty else "is not set"
        head = f"environment variable {variables[0]} {state}; export it and run again"
    else:
        head = f"environment variables not set: {', '.join(variables)}; export them and run again"
    return f"{head}:\n  " + "\n  ".join(lines)


def missing_variables(
    specs: Iterable[ClusterSpec], env: Mapping[str, str], *, passphrases: bool = True
) -> list[MissingVariable]:
    """Every variable the clusters of a run need and do not have: the SSH login, and (for
    plan and apply, which decrypt the keys in git) the key passphrases. Say them all at once
    with ``describe_missing``, rather than one per run."""
    missing: list[MissingVariable] = []
    for spec in specs:
        missing += missing_credentials(spec, env)
        if passphrases:
            missing += missing_passphrases(spec, env)
    return missing


def credentials_for(spec: ClusterSpec, env: Mapping[str, str]) -> Credentials:
    missing = missing_credentials(spec, env)
    if missing:
        raise ConfigError(describe_missing(missing))
    ssh = spec.ssh
    password = env.get(ssh.password_env) if ssh.password_env else None
    key_path = env.get(ssh.key_file_env) if ssh.key_file_env else None
    return Credentials(
        password=password or None,
        key_file=Path(key_path) if key_path else None,
        password_env=ssh.password_env if password else None,
        key_file_env=ssh.key_file_env if key_path else None,
    )


def known_hosts_for(
    spec: ClusterSpec, source: DesiredSource, *, say_where: bool = False
) -> KnownHosts:
    """The pins, refused whole if a line is unusable; ``say_where`` names the source in
    messages (pins from a trusted ref, not the files being planned)."""
    path = spec.ssh.known_hosts
    try:
        text = source.read_bytes(path).decode("utf-8", errors="replace")
    except (OSError, SourceReadError) as error:
        raise ConfigError(
            f"cluster {spec.name}: ssh.known_hosts {path} cannot be read ({error}); every "
            "node's host key must be pinned there"
        ) from error
    try:
        return KnownHosts.parse(text, f"{path} at {brief(source)}" if say_where else path)
    except ConfigError as error:
        raise ConfigError(f"cluster {spec.name}: ssh.known_hosts: {error}") from error


def timeouts_for(spec: ClusterSpec) -> TransportTimeouts:
    """The cluster file's ``timeouts.connect`` (TCP, SSH handshake and login, each)."""
    return TransportTimeouts(connect=spec.timeouts.connect.total_seconds())


@dataclass(frozen=True)
class TrustedEndpoints:
    """The endpoints a run with ``--trusted-ref`` may connect to: the cluster's own nodes, as
    the trusted cluster file reaches them (``host`` or ``[host]:port``, lower case)."""

    endpoints: frozenset[str]
    where: str  # the trusted ref, for messages


class NotContacted:
    """The transport of a node this run must not contact: every call fails before any socket
    is opened, as an unreachable node's would (the node did not answer: nothing was sent)."""

    def __init__(self, node: str, reason: str) -> None:
        self._node = node
        self._reason = reason

    @property
    def node(self) -> str:
        return self._node

    def _refuse(self) -> NoReturn:
        raise TransportError(self._node, self._reason, answered=False)

    def connect(self) -> None:
        self._refuse()

    def write(self, data: str) -> None:
        self._refuse()

    def read(self, timeout: float) -> str | None:
        self._refuse()

    def read_file(self, name: str) -> bytes | None:
        self._refuse()

    def write_file(self, name: str, data: bytes) -> None:
        self._refuse()

    def create_file(self, name: str, data: bytes) -> bool:
        self._refuse()

    def remove_file(self, name: str) -> None:
        self._refuse()

    def download(self, name: str, local: Path) -> int:
        self._refuse()

    def file_size(self, name: str) -> int | None:
        self._refuse()

    def close(self) -> None:
        """Nothing was opened."""


class SessionPool:
    """One session per node for the whole run: status, plan and apply reuse them."""

    def __init__(
        self,
        spec: ClusterSpec,
        source: DesiredSource,
        env: Mapping[str, str],
        timeouts: TransportTimeouts | None = None,
        *,
        trusted: TrustedEndpoints | None = None,
    ) -> None:
        """``source`` is where the pins are read. ``trusted`` (a plan with ``--trusted-ref``,
        whose pins come from that ref) opens no connection at all to an endpoint that is not
        one of the cluster's own nodes there, or has no usable pin: its session refuses every
        call, and nothing is sent. A pin alone is not enough: the pins file is shared, and
        another cluster's node must never receive this cluster's password."""
        self.spec = spec
        self._credentials = credentials_for(spec, env)
        self._known_hosts = known_hosts_for(spec, source, say_where=trusted is not None)
        self._trusted = trusted
        self.not_contacted: list[str] = []
        """Addresses of the nodes that ``trusted`` kept this run from contacting."""
        passphrase_envs = {spec.certs.key_passphrase_env} | {
            node.certs.key_passphrase_env
            for node in spec.nodes
            if node.certs is not None and node.certs.key_passphrase_env
        }
        self._redactor = redactor_for(
            [self._credentials.password, *(env.get(name) for name in passphrase_envs if name)]
        )
        self._timeouts = timeouts or timeouts_for(spec)
        # Only the simulated lab's nodes are told, when they refuse, how to serve them.
        self._refused_hint = lab_hint(spec) or ""
        self._sessions: dict[str, SSHSession] = {}
        self._where: dict[str, tuple[str | None, str, int]] = {}

    @property
    def redactor(self) -> Redactor:
        """Knows this cluster's secrets; for journals and anything else that keeps output."""
        return self._redactor

    def session(self, node: NodeSpec | ConnectedSpec) -> SSHSession:
        return self._session(
            node.address, node.name, node.effective_ssh_host, self.spec.ssh_port_of(node)
        )

    def member_session(self, address: str) -> SSHSession:
        """A live member the cluster file does not list: reached at its address on the SSH
        port every listed node uses (``ssh.port`` when they differ); host key pinned like
        any node's; its prompt name is not checked."""
        ports = {self.spec.ssh_port_of(node) for node in self.spec.nodes}
        port = ports.pop() if len(ports) == 1 else self.spec.ssh.port
        return self._session(address, None, address, port)

    def _session(self, address: str, name: str | None, host: str, port: int) -> SSHSession:
        existing = self._sessions.get(address)
        if existing is not None:
            return existing
        refusal = self._refusal(host, port)
        if refusal is not None:
            self.not_contacted.append(address)
            refusing = NotContacted(name or address, refusal)
            refused = SSHSession(refusing, MMPShell(refusing, name, redactor=self._redactor))
            self._sessions[address] = refused
            self._where[address] = (name, host, port)
            return refused
        endpoint = Endpoint(
            node=name or address,
            host=host,
            port=port,
            username=self.spec.ssh.username,
            refused_hint=self._refused_hint,
        )
        transport = SSHTransport(endpoint, self._credentials, self._known_hosts, self._timeouts)
        shell = MMPShell(
            transport,
            name,
            command_timeout=self._timeouts.command,
            redactor=self._redactor,
            username=self.spec.ssh.username,
            password_env=self._credentials.password_env,
        )
        session = SSHSession(transport, shell)
        self._sessions[address] = session
        self._where[address] = (name, host, port)
        return session

    def _refusal(self, host: str, port: int) -> str | None:
        """Why ``trusted`` forbids contacting ``[host]:port``; None when it may be."""
        if self._trusted is None:
            return None
        pin_name = host_key_name(host, port)
        if pin_name.lower() not in self._trusted.endpoints:
            return (
                f"not contacted: {pin_name} is not a node of cluster {self.spec.name} on "
                f"{self._trusted.where}; a new node goes into the cluster file (and its key "
                "into the pins) in a pull request of its own, and is contacted once that is merged"
            )
        if not self._known_hosts.usable_pin(pin_name):
            return (
                f"not contacted: {pin_name} is not pinned in {self._known_hosts.origin}; pin "
                "it in a pull request of its own, and it is contacted once that is merged"
            )
        return None

    def reopen(self, address: str) -> SSHSession:
        """A new connection to a node met before in this run, replacing one that was lost
        (to release a lock after the failure that stopped an apply)."""
        name, host, port = self._where[address]
        old = self._sessions.get(address)
        if old is not None and old.login_refused:
            return old  # no second login after a refused one: the MMP locks accounts
        old = self._sessions.pop(address, None)
        if old is not None:
            old.close()
        return self._session(address, name, host, port)

    def close(self) -> None:
        for session in self._sessions.values():
            session.close()
        self._sessions.clear()

    def __enter__(self) -> SessionPool:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.close()
