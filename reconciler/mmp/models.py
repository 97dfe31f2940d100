"""What the MMP told us, as frozen pydantic models.

The parsers in ``reconciler.mmp.parsers`` are the only producers of these
models; the planner and the Status JSON are their consumers. Raw strings are
kept next to the interpreted values wherever the planner or an operator may
need to see exactly what the device printed.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Any, Literal

from pydantic import AwareDatetime, BaseModel, ConfigDict, computed_field, model_validator


class _Frozen(BaseModel):
    """Immutable, strict about unknown keys, and round-trippable through JSON.

    Computed fields appear in dumps (the Status JSON wants ``role`` and
    ``in_sync``); they are dropped again on validation so that a dumped model
    validates back while any other unknown key is still refused.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    @model_validator(mode="before")
    @classmethod
    def _drop_computed_fields(cls, data: Any) -> Any:
        if isinstance(data, dict) and cls.model_computed_fields:
            return {k: v for k, v in data.items() if k not in cls.model_computed_fields}
        return data


class MemberRole(StrEnum):
    """A member's role, whichever wording the release prints."""

    MASTER = "master"  # "Master" (old wording) or "Primary" (new wording)
    REPLICA = "replica"  # "Slave" (old wording) or "Replica" (new wording)


class Wording(StrEnum):
    """Which role vocabulary a status output used (it changed between releases)."""

    MASTER_SLAVE = "master_slave"
    PRIMARY_REPLICA = "primary_replica"


class Member(_Frozen):
    """One line of the ``Nodes:`` section, e.g. ``10.0.0.2 (me) : Connected Slave ( In Sync )``."""

    address: str
    """As printed (not resolved, not re-formatted)."""
    me: bool
    state: str
    """The raw state text after the colon, e.g. ``Connected Slave ( In Sync )``."""
    connected: bool
    role: MemberRole | None
    """None for ``Disconnected``: the node cannot know a disconnected peer's role."""
    in_sync: bool | None
    """Replicas only: True with ``( In Sync )``, False without it; None otherwise."""


class CertRole(StrEnum):
    """The five files of ``database cluster certs``, in the MMP's argument order: the
    ``Certificates`` block's lines, and the cluster file's ``certs`` keys."""

    SERVER_KEY = "server_key"
    SERVER_CERT = "server_cert"
    CLIENT_KEY = "client_key"
    CLIENT_CERT = "client_cert"
    CA_CERT = "ca_cert"

    @property
    def is_key(self) -> bool:
        return self in (CertRole.SERVER_KEY, CertRole.CLIENT_KEY)


CLIENT_ROLES: tuple[CertRole, ...] = (CertRole.CLIENT_KEY, CertRole.CLIENT_CERT, CertRole.CA_CERT)
"""The three files of ``database cluster certs <client_key> <client_cert> <ca_cert>``: what a
call bridge attached with ``database cluster connect`` loads (reference §1.7)."""

BRIDGE_STATES = frozenset({"Connected", "Disabled"})
"""What a connected call bridge's ``Status`` line is taken to say. No transcript is published
(reference §1.7, Uncertain 5): the simulator shows ``Connected`` (its choice
``status.connected``), the reference guesses ``Disabled``. Either is read as a bridge (with
no ``Nodes:`` list), judged by its ``Node in use``; anything else is refused, not guessed."""


class CertFileRef(_Frozen):
    """A file name in the ``Certificates`` block, with the markers the MMP appended."""

    file: str
    expired: bool = False
    not_yet_valid: bool = False


class Certificates(_Frozen):
    """The five lines of the ``Certificates`` block; None when a line is absent or empty."""

    server_key: CertFileRef | None = None
    server_cert: CertFileRef | None = None
    client_key: CertFileRef | None = None
    client_cert: CertFileRef | None = None
    ca_cert: CertFileRef | None = None


class LastCommand(_Frozen):
    """``Last command : '<command>' (Success|Failed)``."""

    command: str
    result: Literal["Success", "Failed"]


class ClusterStatus(_Frozen):
    """The parsed output of ``database cluster status``."""

    state: str | None
    """First word of the Status value (``Enabled``, ``Disabling``, ...); None if no Status line."""
    status_text: str | None
    """Raw Status value, e.g. ``Disabling (Started 19 seconds ago)``."""
    transitional: bool = False
    """An operation is still running: a ``(Started N ... ago)`` suffix or an ``-ing`` state."""
    started_seconds_ago: int | None = None
    error: str | None = None
    """Text of the leading ``ERROR : ...`` line (seen with ``Status : Error``)."""
    members: tuple[Member, ...] = ()
    node_in_use: str | None = None
    """The address the node's call bridge uses (the master); None when printed as ``None``."""
    interface: str | None = None
    certificates: Certificates = Certificates()
    last_command: LastCommand | None = None
    wording: Wording | None = None
    """Role vocabulary seen in the member lines; None when no role word was printed."""

    @property
    def me(self) -> Member | None:
        """The member marked ``(me)``: this node's own view of itself."""
        return next((m for m in self.members if m.me), None)

    @computed_field  # type: ignore[prop-decorator]
    @property
    def role(self) -> Literal["master", "replica", "none"]:
        """This node's role; "none" when it lists no ``(me)`` member or is Disconnected."""
        me = self.me
        if me is None or me.role is None:
            return "none"
        return "master" if me.role is MemberRole.MASTER else "replica"

    @computed_field  # type: ignore[prop-decorator]
    @property
    def in_sync(self) -> bool | None:
        """This node's sync flag (replicas only), None where the MMP shows none."""
        me = self.me
        return None if me is None else me.in_sync

    @computed_field  # type: ignore[prop-decorator]
    @property
    def master_address(self) -> str | None:
        """Who this node believes is master.

        The member shown as Master/Primary; failing that, ``Node in use`` of an
        Enabled node that lists no members at all. When members are listed but
        none is master (a minority partition, S7), there is no master: ``Node in
        use`` then names the node's own replica and must not be taken for one.
        """
        for member in self.members:
            if member.role is MemberRole.MASTER:
                return member.address
        if self.state == "Enabled" and not self.members:
            return self.node_in_use
        return None


class PkiLookup(_Frozen):
    """A ``Checking <where>...found|not found`` preamble line of ``pki inspect``."""

    where: str
    found: bool


class PkiObjectKind(StrEnum):
    """What ``pki inspect`` says the file contains, as far as we can tell from its words."""

    CERTIFICATE = "certificate"
    CERTIFICATE_REQUEST = "certificate_request"
    PRIVATE_KEY = "private_key"
    PUBLIC_KEY = "public_key"
    UNKNOWN = "unknown"


class CertificateDetails(_Frozen):
    """The fields of the OpenSSL-style certificate dump that the planner checks."""

    version: int | None
    serial: int
    serial_text: str
    """As printed, e.g. ``11:02:ce:3b:00:06:00:00:00:a7``."""
    signature_algorithm: str | None
    issuer: str
    subject: str
    not_before: AwareDatetime
    not_after: AwareDatetime
    public_key_algorithm: str | None
    key_size: int | None


class PkiInspect(_Frozen):
    """The parsed output of ``pki inspect <file>``."""

    file: str | None
    """The inspected file, when the echoed command line was part of the output."""
    lookups: tuple[PkiLookup, ...]
    contents: str
    """Raw words after ``File contains``, e.g. ``a PEM encoded certificate``."""
    kind: PkiObjectKind
    certificate: CertificateDetails | None
    """Present exactly when ``kind`` is ``certificate``."""


class PkiList(_Frozen):
    """File names seen in ``pki list`` output (its format is not documented)."""

    files: tuple[str, ...]


class BackupSnapshot(_Frozen):
    """``backup snapshot NAME`` answered ``NAME.bak ready for download``."""

    name: str
    file: str


class BackupList(_Frozen):
    """``.bak`` file names seen in ``backup list`` output (its format is not documented)."""

    files: tuple[str, ...]
