"""Access from a trusted ref (``--trusted-ref``): where a plan connects, and with which secret.

A pull request proposes desired state: certificate files, membership, the master. It must not
choose where the tool connects or which secret it sends there, or a YAML-only pull request
could name another secret's variable and a host of its own, pinned by itself, and receive that
secret as an SSH password (SPEC §8). So, given a trusted ref (the base branch), every access
field comes from the cluster file and the pins at that ref:

- ``ssh`` whole: ``username``, ``password_env``, ``key_file_env``, ``port``, ``known_hosts``;
- ``certs.key_passphrase_env``, and each node's ``certs.key_passphrase_env``;
- each node's ``ssh_host`` and ``ssh_port``, for the nodes the trusted file has (matched by
  address); a node new in the pull request keeps the address it proposes, and is not contacted
  at all (``ClusterAccess.endpoints``: only the cluster's own nodes at the trusted ref are);
- each connected call bridge's ``ssh_host`` and ``ssh_port`` (``connected:``), the same way:
  from the trusted file's bridge with that address; a bridge new in the pull request keeps
  what it proposes and is reported as a change; ``endpoints`` lists the trusted file's
  bridges only, pinned like nodes, so a bridge new in the pull request is not contacted (its
  status is not read, and the plan is blocked until it is merged);
- the pins: the known_hosts file named at the trusted ref, as it is there.

What the pull request changes in these fields is reported (``AccessChange``) and takes effect
once merged. A cluster file that does not exist (or does not load) at the trusted ref has no
trusted access at all: its nodes are not contacted.

Secrets are read in CI by literal names (``SECRET_SLOTS``): each cluster's GitHub environment
holds the same fixed secret names, and ``secret_slots`` says which variable of the trusted
cluster file each one becomes, so a workflow never indexes ``secrets`` by a computed name.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from reconciler.addresses import canonical_address
from reconciler.desired.models import CertOverrideSpec, ClusterSpec, ConnectedSpec, NodeSpec
from reconciler.errors import ConfigError
from reconciler.mmp.known_hosts import HostKeyLine, host_key_name, parse_known_hosts

PASSWORD_SLOT = "CMS_SSH_PASSWORD"
KEY_FILE_SLOT = "CMS_SSH_KEY"
PASSPHRASE_SLOTS = ("CMS_KEY_PASSPHRASE", "CMS_KEY_PASSPHRASE_2", "CMS_KEY_PASSPHRASE_3")
SECRET_SLOTS = (PASSWORD_SLOT, KEY_FILE_SLOT, *PASSPHRASE_SLOTS)
"""Every secret name a cluster's GitHub environment may hold, literal in the workflows."""


@dataclass(frozen=True)
class SecretSlot:
    """One literal secret name and the variable of the cluster file it becomes."""

    secret: str
    env: str
    file: bool = False
    """The secret holds a file's content (the SSH key); the variable gets the file's path."""


def secret_slots(spec: ClusterSpec) -> tuple[SecretSlot, ...]:
    """Which fixed secret feeds which variable ``spec`` names, in ``required_env`` order.

    ``ConfigError`` when the cluster names more distinct passphrase variables than there are
    slots: every node's keys would then need a secret the workflows cannot pass.
    """
    slots: list[SecretSlot] = []
    seen: set[str] = set()

    def add(secret: str, env: str | None, *, file: bool = False) -> None:
        if env is not None and env not in seen:
            seen.add(env)
            slots.append(SecretSlot(secret, env, file))

    add(PASSWORD_SLOT, spec.ssh.password_env)
    add(KEY_FILE_SLOT, spec.ssh.key_file_env, file=True)
    passphrases = [spec.certs.key_passphrase_env]
    passphrases += [
        node.certs.key_passphrase_env
        for node in spec.nodes
        if node.certs is not None and node.certs.key_passphrase_env
    ]
    distinct = [name for name in dict.fromkeys(passphrases) if name not in seen]
    if len(distinct) > len(PASSPHRASE_SLOTS):
        raise ConfigError(
            f"cluster {spec.name} names {len(distinct)} different key passphrase variables "
            f"({', '.join(distinct)}); the workflows pass at most {len(PASSPHRASE_SLOTS)} "
            f"({', '.join(PASSPHRASE_SLOTS)}): encrypt the keys of several nodes with one "
            "passphrase"
        )
    for secret, env in zip(PASSPHRASE_SLOTS, distinct, strict=False):
        add(secret, env)
    return tuple(slots)


@dataclass(frozen=True)
class AccessChange:
    """An access field the pull request changes; this plan used the trusted value."""

    key: str
    trusted: str | None  # None: not set (or the node or cluster is new) at the trusted ref
    proposed: str | None  # None: the pull request removes it

    def describe(self) -> str:
        before = self.trusted if self.trusted is not None else "(none)"
        after = self.proposed if self.proposed is not None else "(none)"
        return f"{self.key}: {before} -> {after}"


@dataclass(frozen=True)
class ClusterAccess:
    """What one cluster's plan may use: the trusted file's access, or nothing at all."""

    name: str
    trusted_ref: str
    """Where access came from, for messages (``commit 1a2b3c4d5e6f (origin/main)``)."""
    spec: ClusterSpec | None
    """The cluster file at the trusted ref; None: it is not contacted (``problem`` says why)."""
    changes: tuple[AccessChange, ...] = ()
    problem: str | None = None
    new: bool = False
    """The cluster file does not exist at the trusted ref: its access is all in this change."""

    @property
    def contacted(self) -> bool:
        return self.spec is not None

    @property
    def endpoints(self) -> frozenset[str]:
        """The cluster's own nodes and connected call bridges as the trusted file reaches
        them (``[host]:port``, lower case): the only endpoints a plan may connect to."""
        if self.spec is None:
            return frozenset()
        spec = self.spec
        return frozenset(
            host_key_name(machine.effective_ssh_host, spec.ssh_port_of(machine)).lower()
            for machine in spec.machines()
        )

    @property
    def addresses(self) -> frozenset[str]:
        """The database addresses of the trusted file's nodes (canonical)."""
        if self.spec is None:
            return frozenset()
        return frozenset(canonical_address(node.address) for node in self.spec.nodes)

    @property
    def env_names(self) -> frozenset[str]:
        """The only environment variables this cluster's plan may read."""
        if self.spec is None:
            return frozenset()
        return frozenset(slot.env for slot in secret_slots(self.spec))


def untrusted(
    name: str, trusted_ref: str, problem: str, proposed: ClusterSpec | None, *, new: bool
) -> ClusterAccess:
    """A cluster with no trusted access: every access field it proposes is a change."""
    changes = access_changes(proposed, None) if proposed is not None else ()
    return ClusterAccess(name, trusted_ref, None, changes, problem, new)


def overlay_access(proposed: ClusterSpec, trusted: ClusterSpec) -> ClusterSpec:
    """``proposed`` (desired state from the pull request) with every access field from
    ``trusted``: the spec a plan connects with."""
    by_address = {canonical_address(node.address): node for node in trusted.nodes}
    allowed = frozenset(slot.env for slot in secret_slots(trusted))
    nodes = [_overlay_node(node, by_address, allowed) for node in proposed.nodes]
    certs = proposed.certs.model_copy(
        update={"key_passphrase_env": trusted.certs.key_passphrase_env}
    )
    bridges = {canonical_address(bridge.address): bridge for bridge in trusted.connected}
    connected = [_overlay_bridge(bridge, bridges) for bridge in proposed.connected]
    return proposed.model_copy(
        update={"ssh": trusted.ssh, "certs": certs, "nodes": nodes, "connected": connected}
    )


def _overlay_bridge(bridge: ConnectedSpec, known: dict[str, ConnectedSpec]) -> ConnectedSpec:
    trusted = known.get(canonical_address(bridge.address))
    if trusted is None:
        return bridge  # new: reported by access_changes, never contacted
    return bridge.model_copy(update={"ssh_host": trusted.ssh_host, "ssh_port": trusted.ssh_port})


def _overlay_node(
    node: NodeSpec, by_address: dict[str, NodeSpec], allowed: frozenset[str]
) -> NodeSpec:
    known = by_address.get(canonical_address(node.address))
    if known is not None:
        passphrase = known.certs.key_passphrase_env if known.certs is not None else None
        update: dict[str, object] = {"ssh_host": known.ssh_host, "ssh_port": known.ssh_port}
    else:
        # A new node: where it says (never contacted before it is merged: endpoints), its keys
        # opened only with a variable the trusted file names, else the cluster's passphrase.
        proposed = node.certs.key_passphrase_env if node.certs is not None else None
        passphrase = proposed if proposed in allowed else None
        update = {}
    if node.certs is not None:
        certs = node.certs.model_copy(update={"key_passphrase_env": passphrase})
        update["certs"] = certs if _has_files(certs) or passphrase else None
    elif passphrase is not None:
        update["certs"] = CertOverrideSpec(key_passphrase_env=passphrase)
    return node.model_copy(update=update)


def _has_files(certs: CertOverrideSpec) -> bool:
    return any(
        getattr(certs, field) is not None
        for field in ("server_key", "server_cert", "client_key", "client_cert", "ca_cert")
    )


def access_changes(
    proposed: ClusterSpec | None,
    trusted: ClusterSpec | None,
    *,
    proposed_pins: str | None = None,
    trusted_pins: str | None = None,
) -> tuple[AccessChange, ...]:
    """Every access field that differs between the trusted file and the pull request's, in
    the order of the cluster file, then the pins of each node the pull request reaches."""
    if proposed is None:
        return ()
    changes: list[AccessChange] = []

    def compare(key: str, before: object, after: object) -> None:
        old = None if before is None else str(before)
        new = None if after is None else str(after)
        if old != new:
            changes.append(AccessChange(key, old, new))

    old_ssh = trusted.ssh if trusted is not None else None
    for field in ("username", "password_env", "key_file_env", "port", "known_hosts"):
        compare(
            f"ssh.{field}",
            getattr(old_ssh, field) if old_ssh is not None else None,
            getattr(proposed.ssh, field),
        )
    compare(
        "certs.key_passphrase_env",
        trusted.certs.key_passphrase_env if trusted is not None else None,
        proposed.certs.key_passphrase_env,
    )
    by_address = (
        {canonical_address(node.address): node for node in trusted.nodes} if trusted else {}
    )
    for node in proposed.nodes:
        changes += _node_changes(node, by_address.get(canonical_address(node.address)), proposed)
    bridges = (
        {canonical_address(bridge.address): bridge for bridge in trusted.connected}
        if trusted
        else {}
    )
    for bridge in proposed.connected:
        changes += _bridge_changes(bridge, bridges.get(canonical_address(bridge.address)), proposed)
    changes += _pin_changes(proposed, trusted, proposed_pins, trusted_pins)
    return tuple(changes)


def _node_changes(
    node: NodeSpec, known: NodeSpec | None, proposed: ClusterSpec
) -> list[AccessChange]:
    key = f"nodes[{node.name}]"
    if known is None:
        where = host_key_name(node.effective_ssh_host, proposed.ssh_port_of(node))
        return [AccessChange(key, None, f"new node {node.address}, reached at {where}")]
    changes = []
    for field, before, after in (
        ("ssh_host", known.ssh_host, node.ssh_host),
        ("ssh_port", known.ssh_port, node.ssh_port),
        (
            "certs.key_passphrase_env",
            known.certs.key_passphrase_env if known.certs else None,
            node.certs.key_passphrase_env if node.certs else None,
        ),
    ):
        if before != after:
            old = None if before is None else str(before)
            new = None if after is None else str(after)
            changes.append(AccessChange(f"{key}.{field}", old, new))
    return changes


def _bridge_changes(
    bridge: ConnectedSpec, known: ConnectedSpec | None, proposed: ClusterSpec
) -> list[AccessChange]:
    key = f"connected[{bridge.name}]"
    if known is None:
        where = host_key_name(bridge.effective_ssh_host, proposed.ssh_port_of(bridge))
        return [AccessChange(key, None, f"new call bridge {bridge.address}, reached at {where}")]
    changes = []
    for field, before, after in (
        ("ssh_host", known.ssh_host, bridge.ssh_host),
        ("ssh_port", known.ssh_port, bridge.ssh_port),
    ):
        if before != after:
            old = None if before is None else str(before)
            new = None if after is None else str(after)
            changes.append(AccessChange(f"{key}.{field}", old, new))
    return changes


def _pin_changes(
    proposed: ClusterSpec,
    trusted: ClusterSpec | None,
    proposed_pins: str | None,
    trusted_pins: str | None,
) -> list[AccessChange]:
    """Pins of the endpoints the pull request would reach that it adds, removes or changes."""
    if proposed_pins is None and trusted_pins is None:
        return []
    old = parse_known_hosts(trusted_pins or "") if trusted is not None else None
    new = parse_known_hosts(proposed_pins or "")
    changes = []
    for node in proposed.machines():
        name = host_key_name(node.effective_ssh_host, proposed.ssh_port_of(node))
        before = _fingerprints(old.pins(name)) if old is not None else None
        after = _fingerprints(new.pins(name))
        if (before or None) != (after or None):
            changes.append(AccessChange(f"pins of {name}", before or None, after or None))
    return _unique(changes)


def _fingerprints(lines: Sequence[HostKeyLine]) -> str:
    return ", ".join(sorted({line.fingerprint for line in lines}))


def _unique(changes: list[AccessChange]) -> list[AccessChange]:
    seen: set[str] = set()
    unique = []
    for change in changes:
        if change.key not in seen:
            seen.add(change.key)
            unique.append(change)
    return unique
