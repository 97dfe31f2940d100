"""The simulated nodes' state: plain data, no behaviour beyond small helpers."""

from __future__ import annotations

import enum
import fnmatch
import threading
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

CERT_ROLES: tuple[str, ...] = ("server_key", "server_cert", "client_key", "client_cert", "ca_cert")
CLIENT_ROLES: tuple[str, ...] = ("client_key", "client_cert", "ca_cert")


class Wording(enum.StrEnum):
    """Published transcripts use both vocabularies; each simulated cluster picks one."""

    MASTER_SLAVE = "master_slave"
    PRIMARY_REPLICA = "primary_replica"

    @property
    def master(self) -> str:
        return "Master" if self is Wording.MASTER_SLAVE else "Primary"

    @property
    def replica(self) -> str:
        return "Slave" if self is Wording.MASTER_SLAVE else "Replica"


class SimClock:
    """Wall-clock time plus an offset that tests move forward (for expiry and async ops)."""

    def __init__(self, start: datetime | None = None) -> None:
        self._lock = threading.Lock()
        self._offset = timedelta(0) if start is None else start - datetime.now(UTC)

    def now(self) -> datetime:
        with self._lock:
            return datetime.now(UTC) + self._offset

    def advance(self, seconds: float) -> None:
        with self._lock:
            self._offset += timedelta(seconds=seconds)


@dataclass
class Durations:
    """How long asynchronous operations take (seconds for the demo, fractions in tests)."""

    remove: float = 3.0
    initialize: float = 3.0
    join: float = 4.0
    upgrade_schema: float = 2.0

    def of(self, kind: str) -> float:
        value: float = getattr(self, kind)
        return value


@dataclass
class CertConfig:
    """What ``database cluster certs`` configured: names as given, contents copied then."""

    files: dict[str, str]
    contents: dict[str, bytes]


@dataclass
class Operation:
    """An asynchronous cluster operation in progress on one node."""

    kind: str  # remove | initialize | join | upgrade_schema
    command: str
    started: datetime
    finishes: datetime
    target: str | None = None


@dataclass
class Faults:
    """Faults a test injects into one node."""

    down: bool = False
    fail_operations: set[str] = field(default_factory=set)
    disconnect_on: dict[str, str] = field(default_factory=dict)  # command prefix -> before|after
    delay: float = 0.0
    sftp_refuse: set[tuple[str, str]] = field(default_factory=set)  # (get|put, name glob)
    corrupt_uploads: str | None = None  # name glob: such files written over SFTP land damaged
    hang_operations: set[str] = field(default_factory=set)  # never finish while set
    operation_seconds: dict[str, float] = field(default_factory=dict)  # per-node durations
    # Words the reference never shows, injected by tests (``say-*`` faults, issue 24):
    # "certs" -> an extra line certs prints; "status:OP"/"member:OP" -> texts while OP runs.
    says: dict[str, str] = field(default_factory=dict)
    # MMP accounts whose password has expired on this node ("*": every account): the login
    # is accepted, then the shell asks for a new password instead of showing the prompt.
    expired_passwords: set[str] = field(default_factory=set)

    def password_expired(self, username: str) -> bool:
        """Whether ``username`` must change its password before it gets a prompt."""
        return username in self.expired_passwords or "*" in self.expired_passwords

    def refuses(self, operation: str, name: str) -> bool:
        """An SFTP ``get`` or ``put`` of ``name`` fails (a ``refuse-get``/``-put`` fault)."""
        return any(
            operation == refused and fnmatch.fnmatchcase(name, pattern)
            for refused, pattern in self.sftp_refuse
        )

    def as_uploaded(self, name: str, data: bytes) -> bytes:
        """What lands on the node when ``data`` is written to ``name`` (``corrupt-put``)."""
        pattern = self.corrupt_uploads
        if not data or pattern is None or not fnmatch.fnmatchcase(name, pattern):
            return data
        damaged = bytearray(data)
        damaged[len(damaged) // 2] ^= 0xFF
        return bytes(damaged)


@dataclass(frozen=True)
class LogEntry:
    time: datetime
    user: str
    kind: str  # connect | command | sftp
    detail: str


@dataclass
class Group:
    """A database cluster as its members know it."""

    id: int
    members: list[str]
    master: str | None


@dataclass
class SimNode:
    """One simulated CMS node."""

    name: str
    address: str
    port: int
    files: Path
    content_id: str
    status: str = "Disabled"  # Disabled | Enabled | Error
    group: Group | None = None
    interface: str | None = "a"
    certs: CertConfig | None = None
    last_command: tuple[str, str] | None = None
    error: str | None = None
    operation: Operation | None = None
    last_seen_master: str | None = None
    # A call bridge attached with ``database cluster connect <address>`` (no local
    # database): the address it was given; None on a database node.
    connected_to: str | None = None
    # What its database client uses: the client files ``certs`` had loaded at ``connect``
    # (choice ``rule.connected_bridge``: new files take effect at the next connect).
    connected_with: CertConfig | None = None
    data_generation: int = 0
    faults: Faults = field(default_factory=Faults)
    log: list[LogEntry] = field(default_factory=list)
    backups: list[str] = field(default_factory=list)

    def file_path(self, name: str) -> Path:
        return self.files / name
