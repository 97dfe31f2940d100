"""Live state of a cluster as read from its nodes (the planner's other input)."""

from __future__ import annotations

import hashlib
from datetime import datetime
from typing import Literal

from cryptography import x509
from pydantic import AwareDatetime, BaseModel, ConfigDict

from reconciler.mmp.models import CertRole, ClusterStatus

CERT_ROLES: tuple[str, ...] = tuple(role.value for role in CertRole)
# Written by apply on the desired master just before it leaves the cluster, removed once it
# has initialized again: the proof, while every node is Disabled, of whose data is newest.
MASTER_MARKER = "reconcile-master.json"


class LiveFile(BaseModel):
    """Identity of one file in a node's file area.

    ``sha256`` is of the bytes read over SFTP; when SFTP could not read it, a certificate
    falls back to the serial and issuer from ``pki inspect`` (``source = "pki"``).
    ``not_after`` is the expiry of the file's first certificate (the one ``pki inspect``
    shows), from either source; None for keys and for files that hold no certificate.
    """

    model_config = ConfigDict(frozen=True)

    name: str
    present: bool
    sha256: str | None = None
    size: int | None = None
    serial: str | None = None
    issuer: str | None = None
    source: Literal["sftp", "pki", "none"] = "sftp"
    not_after: AwareDatetime | None = None

    @classmethod
    def from_bytes(cls, name: str, data: bytes) -> LiveFile:
        """A file read over SFTP: its hash and size, and its expiry if it is a certificate."""
        return cls(
            name=name,
            present=True,
            sha256=hashlib.sha256(data).hexdigest(),
            size=len(data),
            not_after=certificate_not_after(data),
        )


def certificate_not_after(data: bytes) -> datetime | None:
    """Expiry (UTC) of the first certificate in PEM or DER ``data``; None if there is none."""
    try:
        if b"-----BEGIN CERTIFICATE-----" in data:
            return x509.load_pem_x509_certificates(data)[0].not_valid_after_utc
        return x509.load_der_x509_certificate(data).not_valid_after_utc
    except ValueError:
        return None


class LiveNode(BaseModel):
    """One node: reachable and parsed, or the reason it is not."""

    model_config = ConfigDict(frozen=True)

    name: str
    address: str
    reachable: bool
    error: str | None = None
    status: ClusterStatus | None = None
    files: dict[str, LiveFile] = {}
    master_marker: dict[str, str] | None = None

    @property
    def readable(self) -> bool:
        return self.reachable and self.status is not None and self.error is None

    def file(self, name: str) -> LiveFile | None:
        return self.files.get(name)


class LiveCluster(BaseModel):
    model_config = ConfigDict(frozen=True)

    name: str
    read_at: datetime
    nodes: tuple[LiveNode, ...]
    bridges: tuple[LiveNode, ...] = ()
    """The connected call bridges (``connected:``), read like nodes: status and files."""

    @property
    def complete(self) -> bool:
        """Every node was reached and its status understood."""
        return all(node.readable for node in self.nodes)

    def node(self, address: str) -> LiveNode:
        for node in self.nodes:
            if node.address == address:
                return node
        raise KeyError(address)
