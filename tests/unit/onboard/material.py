"""Readings of a small live cluster, built from status text and a device bundle (no SSH)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from reconciler.mmp.parsers.status import parse_cluster_status
from reconciler.onboard.reading import NodeFile, NodeReading
from tests.support.lab import member_line
from tests.support.pki import CertAuthority, DeviceBundle

NODES = (("cms1", "10.0.0.1"), ("cms2", "10.0.0.2"), ("cms3", "10.0.0.3"))
MASTER = "10.0.0.1"
LABELS = (
    ("Server Key", "server_key"),
    ("Server Certificate", "server_cert"),
    ("Client Key", "client_key"),
    ("Client Certificate", "client_cert"),
    ("CA Certificate", "ca_cert"),
)


@dataclass(frozen=True)
class NodeView:
    """What one node says, as parameters of its status text."""

    name: str
    address: str
    status: str = "Enabled"
    members: tuple[tuple[str, str], ...] | None = None
    """(address, state) lines; default: the healthy three-node cluster."""
    node_in_use: str = MASTER
    certs: Mapping[str, str] = field(default_factory=dict)
    """Role -> file name as status shows it (with ' (expired)' if so)."""


def healthy_members(master: str = MASTER) -> tuple[tuple[str, str], ...]:
    return tuple(
        (address, "Connected Master" if address == master else "Connected Slave ( In Sync )")
        for _, address in NODES
    )


def status_text(view: NodeView, bundle: DeviceBundle) -> str:
    members = view.members if view.members is not None else healthy_members()
    lines = [f"{'Status':<22}: {view.status}", ""]
    if view.status != "Disabled":
        lines.append("Nodes:")
        lines += [member_line(a, s, me=a == view.address) for a, s in members]
    lines += [f"{'Node in use':<22}: {view.node_in_use}", "", f"{'Interface':<23}: a", ""]
    lines.append("Certificates")
    names = dict(zip([role for _, role in LABELS], bundle.names, strict=True))
    for label, role in LABELS:
        lines.append(f"  {label:<21}: {view.certs.get(role, names[role])}")
    return "\n".join(lines) + "\n"


def reading(
    view: NodeView,
    bundle: DeviceBundle,
    *,
    given: str | None = None,
    files: Mapping[str, NodeFile] | None = None,
) -> NodeReading:
    status = parse_cluster_status(status_text(view, bundle))
    shown = {
        ref.file
        for role in ("server_key", "server_cert", "client_key", "client_cert", "ca_cert")
        if (ref := getattr(status.certificates, role)) is not None
    }
    read = {
        name: NodeFile(name, data=bundle.files[name], present=True)
        for name in shown
        if name in bundle.files
    }
    read.update(files or {})
    return NodeReading(given or view.address, 22, view.name, status, read)


def healthy(bundle: DeviceBundle) -> list[NodeReading]:
    return [reading(NodeView(name, address), bundle) for name, address in NODES]


def with_view(readings: list[NodeReading], index: int, new: NodeReading) -> list[NodeReading]:
    return [new if i == index else r for i, r in enumerate(readings)]


_BUNDLES: dict[str, DeviceBundle] = {}


def bundle(prefix: str = "t") -> DeviceBundle:
    """A valid bundle (cached: RSA keys are slow to make)."""
    if prefix not in _BUNDLES:
        _BUNDLES[prefix] = DeviceBundle.make(CertAuthority.make(), prefix=prefix)
    return _BUNDLES[prefix]
