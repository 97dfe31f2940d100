"""The loaded desired state that planner, status and apply work from.

A ``CertFile`` carries the exact bytes that will be uploaded and their sha256, which the
planner compares with the sha256 of the file read live from the node. Key bytes are the
decrypted key: they are excluded from repr, str and every dump, and must never be logged.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from datetime import datetime

from pydantic import BaseModel, ConfigDict, Field

from reconciler.addresses import same_address
from reconciler.desired.findings import SpecFinding, describe_errors, has_errors
from reconciler.desired.models import ClusterSpec, ConnectedSpec, NodeSpec
from reconciler.errors import ConfigError
from reconciler.mmp.models import CLIENT_ROLES, CertRole


class CertInfo(BaseModel):
    """What a certificate says about itself (for plans, status and ``certs check``)."""

    model_config = ConfigDict(frozen=True)

    subject: str
    subject_cn: str | None
    issuer: str
    serial: str
    """Serial number in lowercase hex."""
    not_before: datetime
    not_after: datetime
    fingerprint_sha256: str
    """sha256 of the certificate's DER encoding (what ``openssl x509 -fingerprint`` shows)."""


class KeyInfo(BaseModel):
    """Public facts about a private key; never the key."""

    model_config = ConfigDict(frozen=True)

    algorithm: str
    bits: int | None
    public_key_sha256: str
    """sha256 of the SubjectPublicKeyInfo DER, equal for a key and its certificate."""


class CertFile(BaseModel):
    """One of the five files of a node's bundle, as it will be uploaded."""

    model_config = ConfigDict(frozen=True)

    role: CertRole
    path: str
    """Repo-relative path in git."""
    remote_name: str
    """File name on the MMP (argument of ``database cluster certs``)."""
    upload_bytes: bytes = Field(repr=False, exclude=True)
    """Exactly what is uploaded: a certificate file as in git, or a key decrypted to
    unencrypted PKCS#8 PEM. Secret for keys: excluded from repr and dumps."""
    sha256: str
    """Lowercase hex sha256 of ``upload_bytes``."""
    certificates: tuple[CertInfo, ...] = ()
    """The certificates in the file, in file order (leaf first); empty for keys."""
    key: KeyInfo | None = None
    """For key files: facts about the key."""

    @classmethod
    def build(
        cls,
        role: CertRole,
        path: str,
        remote_name: str,
        upload_bytes: bytes,
        certificates: tuple[CertInfo, ...] = (),
        key: KeyInfo | None = None,
    ) -> CertFile:
        return cls(
            role=role,
            path=path,
            remote_name=remote_name,
            upload_bytes=upload_bytes,
            sha256=hashlib.sha256(upload_bytes).hexdigest(),
            certificates=certificates,
            key=key,
        )

    @property
    def certificate(self) -> CertInfo | None:
        """The first (leaf) certificate, if this is a certificate file."""
        return self.certificates[0] if self.certificates else None


class NodeBundle(BaseModel):
    """A node's five files, in ``database cluster certs`` argument order."""

    model_config = ConfigDict(frozen=True)

    server_key: CertFile
    server_cert: CertFile
    client_key: CertFile
    client_cert: CertFile
    ca_cert: CertFile

    def file(self, role: CertRole) -> CertFile:
        value: CertFile = getattr(self, role.value)
        return value

    def files(self) -> Iterator[CertFile]:
        """The five files in MMP argument order."""
        for role in CertRole:
            yield self.file(role)

    def remote_names(self) -> list[str]:
        """Arguments of ``database cluster certs`` (five-argument form)."""
        return [file.remote_name for file in self.files()]


class DesiredNode(BaseModel):
    """A node with everything needed to reach it and to give it its certificates."""

    model_config = ConfigDict(frozen=True)

    spec: NodeSpec
    name: str
    address: str
    ssh_host: str
    ssh_port: int
    is_master: bool
    bundle: NodeBundle


class DesiredCluster(BaseModel):
    """A cluster file that passed every check (warnings allowed)."""

    model_config = ConfigDict(frozen=True)

    name: str
    file: str
    """Repo-relative path of the cluster file."""
    spec: ClusterSpec
    nodes: tuple[DesiredNode, ...]
    referenced_files: tuple[str, ...]
    """Every repo path the cluster depends on (YAML, certificates, known_hosts), sorted."""

    @property
    def master(self) -> DesiredNode:
        return next(node for node in self.nodes if node.is_master)

    def node(self, address: str) -> DesiredNode:
        for node in self.nodes:
            if node.address == address:
                return node
        raise KeyError(address)

    def bridge(self, address: str) -> ConnectedSpec | None:
        """The connected call bridge at ``address`` (``connected:``), or None."""
        return next((b for b in self.spec.connected if same_address(b.address, address)), None)

    def bridge_files(self) -> tuple[CertFile, ...]:
        """What a connected call bridge loads with the three-file ``database cluster certs``:
        the master's client key, client certificate and CA, since it is the master's database
        it uses, with the same mutual TLS as a replica."""
        return tuple(self.master.bundle.file(role) for role in CLIENT_ROLES)


class ClusterResult(BaseModel):
    """Outcome of loading one cluster file: whatever could be built, and every finding.

    ``spec`` is set when the YAML is structurally valid (status can use it); ``cluster``
    only when there is no error at all (plan and apply need it).
    """

    model_config = ConfigDict(frozen=True)

    name: str
    file: str
    findings: tuple[SpecFinding, ...]
    spec: ClusterSpec | None = None
    cluster: DesiredCluster | None = None

    @property
    def ok(self) -> bool:
        return not has_errors(self.findings)

    def errors(self) -> list[SpecFinding]:
        return [finding for finding in self.findings if finding.is_error]

    def require(self) -> DesiredCluster:
        """The valid cluster, or ``ConfigError`` listing its errors."""
        if self.cluster is not None:
            return self.cluster
        errors = self.errors()
        raise ConfigError(
            f"cluster {self.name} is not valid ({len(errors)} error(s); run `reconcile "
            "validate`):\n  " + describe_errors(errors)
        )


class DesiredState(BaseModel):
    """Every requested cluster, read from one source (one commit, or the working tree)."""

    model_config = ConfigDict(frozen=True)

    commit: str | None
    dirty: bool
    clusters: tuple[ClusterResult, ...]
    dirty_paths: tuple[str, ...] = ()  # what makes the working tree dirty, for messages

    @property
    def ok(self) -> bool:
        return all(result.ok for result in self.clusters)
