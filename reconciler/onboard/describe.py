"""From a healthy live cluster to what git should hold: the cluster file and its files.

Pure: readings in, a ``Draft`` out (the cluster YAML, every file with the exact bytes to write,
and notes for what could not be read). Nothing here touches a node or the disk.

- Nodes are named by their MMP prompt, addressed by their ``(me)`` address, listed in address
  order; ``ssh_host`` only where the ``--address`` differs from that address (``ssh_port`` is
  never needed: every node was reached on ``--port``, which becomes ``ssh.port``).
- Per role, the file most nodes use (the master's on a tie) is the cluster's ``certs:``
  entry, kept at ``certs/<cluster>/<file name on the MMP>``; a node using another file gets an
  override kept at ``certs/<cluster>/<node>/<file name>``. Files are the same when their bytes
  are; a key that could not be read is the key of the certificate it pairs with (a certificate
  has exactly one private key).
- Certificates are written exactly as read, so their sha256 is what the planner compares.
  Keys are written encrypted (``keys.py``).
"""

from __future__ import annotations

import hashlib
import ipaddress
import textwrap
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

import yaml
from pydantic import ValidationError

from reconciler.addresses import canonical_address
from reconciler.desired.bundle import ROLE_LABEL
from reconciler.desired.findings import FindingList, describe_errors
from reconciler.desired.models import ClusterSpec
from reconciler.desired.pem import load_certificates
from reconciler.desired.source import cluster_file
from reconciler.desired.topology import check_topology
from reconciler.durations import duration_text
from reconciler.errors import ConfigError, KeyProblem, MaterialError
from reconciler.mmp.models import CertRole
from reconciler.onboard.keys import encrypt_key
from reconciler.onboard.reading import NodeFile, NodeReading

SCHEMA_LINE = "# yaml-language-server: $schema=cluster.schema.json"
RENEW_BEFORE = timedelta(days=30)
_CERT_ROLES = (CertRole.SERVER_CERT, CertRole.CLIENT_CERT, CertRole.CA_CERT)
_KEY_PAIRS = (
    (CertRole.SERVER_KEY, CertRole.SERVER_CERT),
    (CertRole.CLIENT_KEY, CertRole.CLIENT_CERT),
)


@dataclass(frozen=True)
class ImportSettings:
    """What the command line says about the cluster (everything else is read live)."""

    cluster: str
    port: int
    username: str
    password_env: str
    key_passphrase_env: str
    known_hosts: str = "clusters/known_hosts"


@dataclass(frozen=True)
class DraftFile:
    """A file the cluster file names, and what to write there (None: it could not be read)."""

    path: str
    roles: tuple[CertRole, ...]
    remote_name: str
    nodes: tuple[str, ...]
    data: bytes | None = field(default=None, repr=False)
    """Certificate bytes as read, or the key encrypted; never an unencrypted key."""
    upload_sha256: str | None = None
    """sha256 of what ``reconcile`` would upload from this file (to compare an existing one)."""

    @property
    def is_key(self) -> bool:
        return self.roles[0].is_key


@dataclass(frozen=True)
class Note:
    text: str
    blocks_empty_plan: bool
    """Until acted on, the next plan is not empty (or cannot be made)."""


@dataclass(frozen=True)
class Draft:
    cluster_path: str
    cluster_yaml: str
    spec: ClusterSpec
    files: tuple[DraftFile, ...]
    notes: tuple[Note, ...]


@dataclass(frozen=True)
class _Node:
    reading: NodeReading
    name: str
    address: str
    ssh_host: str | None
    is_master: bool


@dataclass
class _Variant:
    """One distinct file of a role, and the nodes that use it."""

    role: CertRole
    remote_name: str
    identity: tuple[str, ...]
    nodes: list[_Node]
    path: str = ""


def describe(
    readings: Sequence[NodeReading], settings: ImportSettings, passphrase: str, now: datetime
) -> Draft:
    """The draft for a cluster that passed ``assess.refusals``; ``ConfigError`` if it cannot
    be written down consistently."""
    nodes = _nodes(readings)
    master = next(node for node in nodes if node.is_master)
    variants = _variants(nodes, settings.cluster)
    notes: list[Note] = []
    files = _files(variants, settings, passphrase, notes)
    notes += _renewal_notes(files, readings, now)
    document = _document(settings, nodes, master, variants)
    text = render_cluster_yaml(document)
    spec = _self_check(text, settings.cluster)
    return Draft(cluster_file(settings.cluster), text, spec, tuple(files), tuple(notes))


# --- nodes --------------------------------------------------------------------------------


def _nodes(readings: Sequence[NodeReading]) -> list[_Node]:
    nodes = []
    for reading in readings:
        status = reading.status
        assert status is not None
        assert status.me is not None
        assert reading.name is not None
        address = canonical_address(status.me.address)
        ssh_host = None if canonical_address(reading.given) == address else reading.given
        nodes.append(_Node(reading, reading.name, address, ssh_host, status.role == "master"))
    return sorted(nodes, key=lambda node: _address_key(node.address))


def _address_key(address: str) -> tuple[int, int, str]:
    try:
        parsed = ipaddress.ip_address(address)
    except ValueError:
        return (9, 0, address)
    return (parsed.version, int(parsed), address)


# --- variants and paths -------------------------------------------------------------------


def _identity(node: _Node, role: CertRole) -> tuple[str, ...]:
    file = node.reading.file_for(role.value)
    assert file is not None
    if file.data is not None:
        return ("sha256", hashlib.sha256(file.data).hexdigest())
    if file.certificate is not None:
        return ("serial", file.certificate.serial_text.lower(), file.certificate.issuer)
    return ("unread on", node.name)


def _variants(nodes: list[_Node], cluster: str) -> dict[CertRole, list[_Variant]]:
    identities: dict[tuple[str, CertRole], tuple[str, ...]] = {}
    variants: dict[CertRole, list[_Variant]] = {}
    for role in (*_CERT_ROLES, CertRole.SERVER_KEY, CertRole.CLIENT_KEY):
        found: list[_Variant] = []
        # Keys that were read first, so that an unread key can join the key of its certificate.
        for node in sorted(nodes, key=lambda n: _unread(n, role)):
            file = node.reading.file_for(role.value)
            assert file is not None
            if role.is_key and file.data is None:
                identity = _unread_key_identity(node, role, file.name, found, identities)
            elif file.data is None and file.certificate is not None:
                identity = _unread_certificate_identity(node, role, file, found)
            else:
                identity = _identity(node, role)
            identities[(node.name, role)] = identity
            same = next(
                (v for v in found if v.identity == identity and v.remote_name == file.name), None
            )
            if same is None:
                found.append(_Variant(role, file.name, identity, [node]))
            else:
                same.nodes.append(node)
        for variant in found:
            variant.nodes.sort(key=lambda n: _address_key(n.address))
        # Most nodes first; on a tie, the master's file is the cluster's.
        found.sort(key=lambda v: (-len(v.nodes), not any(n.is_master for n in v.nodes)))
        found[0].path = f"certs/{cluster}/{found[0].remote_name}"
        for variant in found[1:]:
            variant.path = f"certs/{cluster}/{variant.nodes[0].name}/{variant.remote_name}"
        variants[role] = found
    _check_paths(variants)
    return variants


def _unread(node: _Node, role: CertRole) -> bool:
    file = node.reading.file_for(role.value)
    return file is None or file.data is None


def _unread_certificate_identity(
    node: _Node, role: CertRole, file: NodeFile, found: list[_Variant]
) -> tuple[str, ...]:
    """A certificate SFTP could not read, known by ``pki inspect``: the same file as one read
    elsewhere under the same name with the same serial and issuer (as the planner compares)."""
    details = file.certificate
    assert details is not None
    for variant in found:
        data = _data(variant)
        if variant.remote_name != file.name or data is None:
            continue
        try:
            leaf = load_certificates(data, variant.remote_name)[0]
        except MaterialError:
            continue
        if leaf.serial_number == details.serial and _dn(leaf.issuer.rfc4514_string()) == _dn(
            details.issuer
        ):
            return variant.identity
    return _identity(node, role)


def _data(variant: _Variant) -> bytes | None:
    for node in variant.nodes:
        file = node.reading.file_for(variant.role.value)
        if file is not None and file.data is not None:
            return file.data
    return None


def _dn(text: str) -> frozenset[str]:
    """A distinguished name as a set of ``k=v`` parts: the MMP and RFC 4514 order differ."""
    return frozenset(part.strip().casefold() for part in text.split(",") if part.strip())


def _unread_key_identity(
    node: _Node,
    role: CertRole,
    name: str,
    found: list[_Variant],
    identities: dict[tuple[str, CertRole], tuple[str, ...]],
) -> tuple[str, ...]:
    """A key that could not be read is the key of its certificate (a certificate has exactly
    one private key): the same file as a key read elsewhere under the same name for the same
    certificate, else a file of its own."""
    certificate = identities[(node.name, dict(_KEY_PAIRS)[role])]
    for variant in found:
        if variant.remote_name == name and all(
            identities[(other.name, dict(_KEY_PAIRS)[role])] == certificate
            for other in variant.nodes
        ):
            return variant.identity
    return ("key of", *certificate)


def _check_paths(variants: dict[CertRole, list[_Variant]]) -> None:
    claimed: dict[str, _Variant] = {}
    for role_variants in variants.values():
        for variant in role_variants:
            first = claimed.setdefault(variant.path, variant)
            if first is not variant and first.identity != variant.identity:
                raise ConfigError(
                    f"the {ROLE_LABEL[first.role]} and the {ROLE_LABEL[variant.role]} would both "
                    f"be kept at {variant.path} but are different files (file name "
                    f"{variant.remote_name!r} used for both); rename one of them on the nodes"
                )


def _default(variants: list[_Variant]) -> _Variant:
    return variants[0]


# --- files and notes ----------------------------------------------------------------------


def _files(
    variants: dict[CertRole, list[_Variant]],
    settings: ImportSettings,
    passphrase: str,
    notes: list[Note],
) -> list[DraftFile]:
    by_path: dict[str, DraftFile] = {}
    for role, role_variants in variants.items():
        for variant in role_variants:
            existing = by_path.get(variant.path)
            if existing is not None:
                by_path[variant.path] = DraftFile(
                    existing.path,
                    (*existing.roles, role),
                    existing.remote_name,
                    existing.nodes,
                    existing.data,
                    existing.upload_sha256,
                )
                continue
            by_path[variant.path] = _file(variant, settings, passphrase, notes)
    return list(by_path.values())


def _file(
    variant: _Variant, settings: ImportSettings, passphrase: str, notes: list[Note]
) -> DraftFile:
    names = tuple(node.name for node in variant.nodes)
    data = _data(variant)
    if data is None:
        first = variant.nodes[0].reading.file_for(variant.role.value)
        assert first is not None
        notes.append(Note(_unread_note(variant, first, settings), blocks_empty_plan=True))
        return DraftFile(variant.path, (variant.role,), variant.remote_name, names)
    unread = [node.name for node in variant.nodes if _unread(node, variant.role)]
    if unread:
        notes.append(_taken_to_be(variant, unread))
    if not variant.role.is_key:
        sha256 = hashlib.sha256(data).hexdigest()
        return DraftFile(variant.path, (variant.role,), variant.remote_name, names, data, sha256)
    try:
        key = encrypt_key(data, passphrase)
    except KeyProblem as problem:
        notes.append(
            Note(
                f"{_who(variant)}: the {ROLE_LABEL[variant.role]} {variant.remote_name} "
                f"{problem}. {_put_key(variant, settings)}",
                blocks_empty_plan=True,
            )
        )
        return DraftFile(variant.path, (variant.role,), variant.remote_name, names)
    if not key.same_bytes_as_node:
        notes.append(
            Note(
                f"{_who(variant)}: the {ROLE_LABEL[variant.role]} {variant.remote_name} is kept "
                f"in {variant.path}, but the node holds it as {key.node_format}, not byte for "
                "byte as `reconcile` uploads keys (unencrypted PKCS#8 PEM). The planner compares "
                "bytes, so `reconcile plan` will propose uploading this same key again and "
                "re-running `database cluster certs` on "
                f"{'that node' if len(names) == 1 else 'those nodes'} (remove, certs, join): "
                "safe, but not an empty plan; apply it at a quiet time",
                blocks_empty_plan=True,
            )
        )
    return DraftFile(
        variant.path, (variant.role,), variant.remote_name, names, key.pem, key.upload_sha256
    )


def _taken_to_be(variant: _Variant, unread: list[str]) -> Note:
    readers = ", ".join(node.name for node in variant.nodes if node.name not in unread)
    text = (
        f"{', '.join(unread)}: the {ROLE_LABEL[variant.role]} {variant.remote_name} could not "
        f"be read over SFTP; it is taken to be {variant.path}, as read from {readers}"
    )
    if variant.role.is_key:
        return Note(
            f"{text} (the key of the same certificate). While SFTP cannot read it there, "
            "`reconcile plan` cannot verify it",
            blocks_empty_plan=True,
        )
    return Note(
        f"{text} (`pki inspect` shows the same serial and issuer, which is what `reconcile "
        "plan` compares there)",
        blocks_empty_plan=False,
    )


def _who(variant: _Variant) -> str:
    return ", ".join(node.name for node in variant.nodes)


def _put_key(variant: _Variant, settings: ImportSettings) -> str:
    return (
        f"Put that key at {variant.path}, encrypted with the passphrase in "
        f"${settings.key_passphrase_env}: openssl pkcs8 -topk8 -v2 aes-256-cbc -in "
        f"{variant.remote_name} -out {variant.path}"
    )


def _unread_note(variant: _Variant, file: NodeFile, settings: ImportSettings) -> str:
    label = f"{_who(variant)}: the {ROLE_LABEL[variant.role]} {variant.remote_name}"
    if file.present is False:
        where = (
            "is named by the status but is not in the node's file area"
            + (" (`pki inspect`: not found)" if file.refused else " (SFTP: no such file)")
            + "; `reconcile plan` will upload it from git (and re-run the certs step)"
        )
    elif file.refused:
        where = f"could not be read over SFTP ({file.refused})" + (
            "; `pki inspect` shows it is there"
            if file.present
            else "; `pki inspect` could not tell whether it is there"
        )
        where += (
            ". While SFTP refuses it, `reconcile plan` cannot verify it either"
            if variant.role.is_key
            else ""
        )
    else:
        where = "could not be read"
    if variant.role.is_key:
        return f"{label} {where}. {_put_key(variant, settings)}"
    shown = ""
    if file.certificate is not None:
        details = file.certificate
        shown = (
            f" (serial {details.serial_text}, subject {details.subject}, issued by "
            f"{details.issuer}, valid until {details.not_after:%Y-%m-%d})"
        )
    return f"{label} {where}. Put that certificate{shown}, as PEM, at {variant.path}"


def _renewal_notes(
    files: Sequence[DraftFile], readings: Sequence[NodeReading], now: datetime
) -> list[Note]:
    notes = []
    for file in files:
        if file.is_key or file.data is None:
            continue
        for certificate in load_certificates(file.data, file.path):
            left = certificate.not_valid_after_utc - now
            if left <= RENEW_BEFORE:
                notes.append(
                    Note(
                        f"{file.path} ({ROLE_LABEL[file.roles[0]]}) expires on "
                        f"{certificate.not_valid_after_utc:%Y-%m-%d}, within renew_before "
                        f"{duration_text(RENEW_BEFORE)}: plan its rotation soon",
                        blocks_empty_plan=False,
                    )
                )
                break
    return notes


# --- the cluster file ---------------------------------------------------------------------


def _document(
    settings: ImportSettings,
    nodes: list[_Node],
    master: _Node,
    variants: dict[CertRole, list[_Variant]],
) -> dict[str, Any]:
    interfaces = {node.reading.status.interface for node in nodes if node.reading.status}
    node_entries: list[dict[str, Any]] = []
    for node in nodes:
        entry: dict[str, Any] = {"name": node.name, "address": node.address}
        if node.ssh_host is not None:
            entry["ssh_host"] = node.ssh_host
        overrides = {
            role.value: variant.path
            for role in CertRole
            for variant in variants[role][1:]
            if node in variant.nodes
        }
        if overrides:
            entry["certs"] = {
                role.value: overrides[role.value] for role in CertRole if role.value in overrides
            }
        node_entries.append(entry)
    document: dict[str, Any] = {"name": settings.cluster, "master": master.address}
    interface = interfaces.pop() if len(interfaces) == 1 else None
    if interface is not None and len(interface) == 1 and interface.islower():
        document["interface"] = interface
    document["nodes"] = node_entries
    document["ssh"] = {
        "username": settings.username,
        "password_env": settings.password_env,
        "port": settings.port,
        "known_hosts": settings.known_hosts,
    }
    document["certs"] = {
        **{role.value: _default(variants[role]).path for role in CertRole},
        "key_passphrase_env": settings.key_passphrase_env,
    }
    document["renew_before"] = duration_text(RENEW_BEFORE)
    return document


def render_cluster_yaml(document: dict[str, Any]) -> str:
    """The layout of clusters/lab.yaml: the schema line first, one flow mapping per node
    (a node with certificate overrides in block style)."""
    parts = [
        f"{SCHEMA_LINE}\n# Written by `reconcile import` from the running cluster: review it, run "
        "`reconcile validate`\n# and `reconcile plan` (expect no changes), then commit.\n"
    ]
    for key, value in document.items():
        if key != "nodes":
            parts.append(yaml.safe_dump({key: value}, sort_keys=False, width=1000))
            continue
        parts.append("nodes:\n")
        for node in value:
            dumped = yaml.safe_dump(
                [node],
                sort_keys=False,
                default_flow_style=None if "certs" not in node else False,
                width=1000,
            )
            parts.append(textwrap.indent(dumped, "  "))
    return "".join(parts)


def _self_check(text: str, cluster: str) -> ClusterSpec:
    """The file must load as a valid cluster file before anything is written."""
    path = cluster_file(cluster)
    try:
        spec = ClusterSpec.model_validate(yaml.safe_load(text))
    except ValidationError as error:
        raise ConfigError(
            f"the {path} drafted from the live cluster is not valid: {error}"
        ) from None
    findings = FindingList(path)
    check_topology(spec, cluster, findings)
    if findings.has_errors:
        problems = describe_errors(findings.items)
        raise ConfigError(f"the {path} drafted from the live cluster is not valid:\n  {problems}")
    return spec
