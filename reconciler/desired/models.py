"""Pydantic models of ``clusters/<name>.yaml`` (SPEC §3).

These models check structure and the syntax of each value; rules that relate several values
(unique addresses, ``master`` is a node, ``name`` equals the file stem) live in
``topology.py`` so that each violation gets its own key path. Unknown keys are errors
everywhere (``extra="forbid"``): a misspelt key must not be silently ignored.
"""

from __future__ import annotations

import ipaddress
import math
import posixpath
import re
import zoneinfo
from datetime import timedelta
from typing import Annotated, Any, Literal

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    PlainSerializer,
    WithJsonSchema,
)

from reconciler.durations import duration_text, parse_duration
from reconciler.mmp.models import CertRole

ENV_NAME_PATTERN = r"^[A-Za-z_][A-Za-z0-9_]*$"
REMOTE_NAME_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9._-]*$"
REMOTE_NAME_MAX = 128
NAME_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9_-]*$"
NODE_NAME_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9._-]*$"
DURATION_PATTERN = r"^\s*(\d+(\.\d+)?|(\d+(\.\d+)?(ms|w|d|h|m|s))+)\s*$"


# --- value types -------------------------------------------------------------------------


def remote_name_problem(name: str) -> str | None:
    """Why ``name`` cannot be a file name on the MMP, or None when it can.

    The MMP keeps uploaded files in one flat SFTP root and names them on its command line, so
    only a conservative alphabet is accepted (letters, digits, ``.``, ``_``, ``-``).
    """
    if not name:
        return "is empty"
    if "/" in name or "\\" in name:
        return "contains a path separator; the MMP keeps files in one flat directory"
    if any(ord(char) < 32 or ord(char) == 127 for char in name):
        return "contains a control character"
    if any(char.isspace() for char in name):
        return "contains whitespace, which the MMP command line would split"
    if len(name) > REMOTE_NAME_MAX:
        return f"is longer than {REMOTE_NAME_MAX} characters"
    if not re.fullmatch(REMOTE_NAME_PATTERN, name):
        return "may use only letters, digits, '.', '_' and '-', starting with a letter or digit"
    return None


def _remote_name(value: str) -> str:
    problem = remote_name_problem(value)
    if problem:
        raise ValueError(f"remote file name {value!r} {problem}")
    return value


def _env_name(value: str) -> str:
    if not re.fullmatch(ENV_NAME_PATTERN, value):
        # Never echo the value: someone may have pasted the secret itself here.
        raise ValueError(
            "must be the NAME of an environment variable (letters, digits and '_', not "
            "starting with a digit), not the secret itself; secrets never live in YAML"
        )
    return value


def _repo_path(value: str) -> str:
    text = value.strip()
    if not text:
        raise ValueError("is empty; give a path relative to the repository root")
    if "\\" in text:
        raise ValueError(f"{value!r} uses '\\'; write repository paths with '/'")
    if any(ord(char) < 32 or ord(char) == 127 for char in text):
        # A NUL cannot be opened at all, and a newline would split every message naming it.
        raise ValueError(f"{value!r} contains a control character; rename the file")
    if text.startswith("/") or re.match(r"^[A-Za-z]:", text):
        raise ValueError(
            f"{value!r} is absolute; give a path relative to the repository root "
            "(e.g. certs/lab/CAVD.cer)"
        )
    parts = [part for part in text.split("/") if part not in ("", ".")]
    if ".." in parts:
        raise ValueError(f"{value!r} leaves the repository ('..'); files must be inside it")
    if not parts:
        raise ValueError(f"{value!r} names no file")
    return "/".join(parts)


def _printable(value: str) -> str:
    """No control characters: the value is sent to the device and quoted in one-line errors."""
    if any(ord(char) < 32 or ord(char) == 127 for char in value):
        raise ValueError(f"{value!r} contains a control character")
    return value


def _ip_address(value: str) -> str:
    try:
        return str(ipaddress.ip_address(value.strip()))
    except ValueError:
        raise ValueError(
            f"{value!r} is not an IPv4 or IPv6 address; `database cluster join` takes the "
            "master's IP address, so give each node's database-cluster IP (e.g. 10.0.0.5)"
        ) from None


_HOST_LABEL = re.compile(r"^(?!-)[A-Za-z0-9-]{1,63}(?<!-)$")


def _host(value: str) -> str:
    """An IP address or an RFC 1123 host name, nothing else: a value such as
    ``-oProxyCommand=...`` must never reach anything that might read it as an option."""
    text = value.strip()
    try:
        ipaddress.ip_address(text)
    except ValueError:
        labels = text.rstrip(".").split(".")
        if len(text) > 253 or not all(_HOST_LABEL.match(label) for label in labels):
            raise ValueError(
                f"{value!r} is not a host name or IP address (letters, digits, '-' and '.' "
                "only, no label starting or ending with '-')"
            ) from None
    return text


MAX_DURATION = timedelta(days=36500)
"""Longest duration accepted (a century): longer ones are mistakes, and overflow date
arithmetic; a renew_before of years is legitimate (it makes every certificate due)."""


def _duration(value: object) -> object:
    if isinstance(value, bool):
        raise ValueError("expected a duration such as '30d' or '300s', got a boolean")
    if isinstance(value, timedelta):
        delta = value
    elif isinstance(value, int | float | str):
        try:
            if isinstance(value, str):
                delta = parse_duration(value)
            elif not math.isfinite(value):
                raise ValueError(f"{value!r} is not a number of seconds")
            else:
                delta = timedelta(seconds=value)
        except OverflowError:
            delta = MAX_DURATION * 2  # refused just below, in the same words
    else:
        raise ValueError(f"expected a duration such as '30d' or '300s', got {type(value).__name__}")
    if abs(delta) > MAX_DURATION:
        raise ValueError(f"{value!r} is too long a duration; at most {MAX_DURATION.days}d")
    return delta


def _not_negative(delta: timedelta) -> timedelta:
    if delta < timedelta(0):
        raise ValueError("must not be negative")
    return delta


def _positive(delta: timedelta) -> timedelta:
    if delta <= timedelta(0):
        raise ValueError("must be longer than zero")
    return delta


def _pattern(regex: str, what: str) -> AfterValidator:
    def check(value: str) -> str:
        if not re.fullmatch(regex, value):
            raise ValueError(f"{value!r} is not a valid {what}")
        return value

    return AfterValidator(check)


_DURATION_SCHEMA: dict[str, Any] = {
    "anyOf": [
        {"type": "string", "pattern": DURATION_PATTERN},
        {"type": "number", "minimum": 0},
    ],
    "description": "A duration: '30d', '300s', '1h30m' (w, d, h, m, s); a bare number is seconds.",
}

Duration = Annotated[
    timedelta,
    BeforeValidator(_duration),
    PlainSerializer(duration_text, return_type=str, when_used="json"),
    WithJsonSchema(_DURATION_SCHEMA),
]
NonNegativeDuration = Annotated[Duration, AfterValidator(_not_negative)]
PositiveDuration = Annotated[Duration, AfterValidator(_positive)]
EnvName = Annotated[
    str,
    AfterValidator(_env_name),
    Field(
        json_schema_extra={"pattern": ENV_NAME_PATTERN},
        description="Name of an environment variable (never the secret itself).",
    ),
]
RepoPath = Annotated[
    str,
    AfterValidator(_repo_path),
    Field(description="Path relative to the repository root, with '/'.", min_length=1),
]
RemoteName = Annotated[
    str,
    AfterValidator(_remote_name),
    Field(
        json_schema_extra={"pattern": REMOTE_NAME_PATTERN, "maxLength": REMOTE_NAME_MAX},
        description="File name on the MMP (flat SFTP root): letters, digits, '.', '_', '-'.",
    ),
]
IPAddressText = Annotated[
    str,
    AfterValidator(_ip_address),
    Field(
        json_schema_extra={"anyOf": [{"format": "ipv4"}, {"format": "ipv6"}]},
        description="IPv4 or IPv6 address (no host names: `database cluster join` takes an IP).",
    ),
]
HostText = Annotated[str, AfterValidator(_host), Field(min_length=1)]
Port = Annotated[int, Field(ge=1, le=65535)]
NonEmptyText = Annotated[str, Field(min_length=1)]


class StrictModel(BaseModel):
    """Base: unknown keys are errors, instances are immutable."""

    model_config = ConfigDict(extra="forbid", frozen=True)


# --- certificates ------------------------------------------------------------------------


class CertFileSpec(StrictModel):
    """A file in git and the name it gets on the MMP (default: its basename)."""

    path: RepoPath
    remote_name: RemoteName | None = Field(
        default=None, description="Name on the MMP; default: the basename of path."
    )

    @property
    def effective_remote_name(self) -> str:
        return self.remote_name or posixpath.basename(self.path)


def _path_shorthand(value: object) -> object:
    return {"path": value} if isinstance(value, str) else value


CertRef = Annotated[
    CertFileSpec,
    BeforeValidator(_path_shorthand, json_schema_input_type=str | CertFileSpec),
]


class CertBundleSpec(StrictModel):
    """The five files of ``database cluster certs`` and the passphrase of the keys in git.

    Keys in git are encrypted PKCS#8 PEM; they are decrypted in memory and uploaded
    unencrypted, because that is what the MMP expects.
    """

    server_key: CertRef
    server_cert: CertRef
    client_key: CertRef
    client_cert: CertRef
    ca_cert: CertRef
    key_passphrase_env: EnvName

    def file(self, role: CertRole) -> CertFileSpec:
        value: CertFileSpec = getattr(self, role.value)
        return value


class CertOverrideSpec(StrictModel):
    """Per-node replacement of some bundle files (typically a node's own server certificate)."""

    server_key: CertRef | None = None
    server_cert: CertRef | None = None
    client_key: CertRef | None = None
    client_cert: CertRef | None = None
    ca_cert: CertRef | None = None
    key_passphrase_env: EnvName | None = None

    def file(self, role: CertRole) -> CertFileSpec | None:
        value: CertFileSpec | None = getattr(self, role.value)
        return value


# --- nodes, ssh, cluster -----------------------------------------------------------------


class SSHSpec(StrictModel):
    """How to log in to the MMP of every node (credentials come from the environment)."""

    username: Annotated[NonEmptyText, AfterValidator(_printable)]
    password_env: EnvName | None = None
    key_file_env: EnvName | None = Field(
        default=None, description="Environment variable holding the path of an SSH private key."
    )
    port: Port = 22
    known_hosts: RepoPath = Field(
        default="clusters/known_hosts",
        description="Pinned host keys (OpenSSH format); unknown or changed keys are refused.",
    )


class NodeSpec(StrictModel):
    """One database-cluster node."""

    name: Annotated[NonEmptyText, _pattern(NODE_NAME_PATTERN, "node name (MMP hostname)")] = Field(
        description="MMP hostname, as in the prompt 'cms1>'."
    )
    address: IPAddressText
    ssh_host: HostText | None = Field(default=None, description="Default: address.")
    ssh_port: Port | None = Field(default=None, description="Default: ssh.port.")
    certs: CertOverrideSpec | None = Field(
        default=None, description="Files that differ on this node (e.g. its own server cert)."
    )

    @property
    def effective_ssh_host(self) -> str:
        return self.ssh_host or self.address


class ConnectedSpec(StrictModel):
    """A call bridge attached with ``database cluster connect`` (no local database).

    It holds the cluster's client key, client certificate and CA, and reaches the master at
    ``master``; it is reached over SSH like a node (``ssh_host``/``ssh_port``, ``ssh``).
    """

    name: Annotated[
        NonEmptyText, _pattern(NODE_NAME_PATTERN, "call bridge name (MMP hostname)")
    ] = Field(description="MMP hostname, as in the prompt 'cb1>'.")
    address: IPAddressText
    ssh_host: HostText | None = Field(default=None, description="Default: address.")
    ssh_port: Port | None = Field(default=None, description="Default: ssh.port.")

    @property
    def effective_ssh_host(self) -> str:
        return self.ssh_host or self.address


class Timeouts(StrictModel):
    """How long reaching a node, and each asynchronous cluster operation, may take."""

    connect: PositiveDuration = Field(
        default=timedelta(seconds=15),
        description="Each of TCP connect, SSH handshake and login to a node (default 15s).",
    )
    remove: PositiveDuration = timedelta(seconds=300)
    initialize: PositiveDuration = timedelta(seconds=300)
    join: PositiveDuration = timedelta(seconds=600)


# --- maintenance windows (issue 26) ------------------------------------------------------

WEEKDAYS: tuple[str, ...] = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
"""Day names of ``maintenance.windows[].days``, in ``date.weekday()`` order (Monday is 0)."""
START_PATTERN = r"^([01][0-9]|2[0-3]):[0-5][0-9]$"
MAX_WINDOW = timedelta(days=7)
"""Longest window: windows recur weekly, so a longer one would overlap its own next week."""
_HOST_ZONES = ("localtime", "posixrules")


def _weekday(value: object) -> object:
    if isinstance(value, str) and value in WEEKDAYS:
        return value
    raise ValueError(f"unknown day {value!r}: use mon, tue, wed, thu, fri, sat or sun (lower case)")


def _distinct_days(days: list[str] | None) -> list[str] | None:
    if days is None:
        return None
    if not days:
        raise ValueError("lists no day; omit days to mean every day")
    for day in days:
        if days.count(day) > 1:
            raise ValueError(f"lists {day!r} twice; name each day once")
    return days


def _start(value: object) -> object:
    if isinstance(value, int) and not isinstance(value, bool) and 0 <= value < 24 * 60:
        # PyYAML reads an unquoted 23:00 as a base-60 integer (1380).
        hours, minutes = divmod(value, 60)
        raise ValueError(
            f"is the number {value}: YAML reads an unquoted {hours}:{minutes:02d} as a "
            f'base-60 number; quote the time, e.g. start: "{hours:02d}:{minutes:02d}"'
        )
    if not isinstance(value, str):
        raise ValueError('expected a time of day in quotes, e.g. start: "02:00"')
    if not re.fullmatch(START_PATTERN, value):
        raise ValueError(
            f"{value!r} is not a time of day: write HH:MM on a 24-hour clock, "
            "00:00 to 23:59 (e.g. '02:00')"
        )
    return value


def _at_most_a_week(delta: timedelta) -> timedelta:
    if delta > MAX_WINDOW:
        raise ValueError(
            f"{duration_text(delta)} is longer than 7d; windows recur every week, "
            "so 7d already means always open"
        )
    return delta


def _timezone(value: str) -> str:
    if value == "UTC":
        return value  # needs no time zone database
    if value in _HOST_ZONES:
        raise ValueError(
            f"time zone {value!r} depends on the host; use an IANA name such as "
            "Europe/Berlin or UTC"
        )
    try:
        zoneinfo.ZoneInfo(value)
    except (KeyError, ValueError, OSError):
        if not zoneinfo.available_timezones():
            raise ValueError(
                f"cannot check time zone {value!r}: this system has no time zone database; "
                "install the tzdata package (pip install tzdata), or use UTC"
            ) from None
        raise ValueError(
            f"unknown time zone {value!r}: use an IANA name such as Europe/Berlin or UTC"
        ) from None
    return value


def _some_window(windows: list[MaintenanceWindow]) -> list[MaintenanceWindow]:
    if not windows:
        raise ValueError(
            "lists no window; give at least one, or remove the maintenance key to apply at any time"
        )
    return windows


Weekday = Annotated[
    Literal["mon", "tue", "wed", "thu", "fri", "sat", "sun"], BeforeValidator(_weekday)
]


class MaintenanceWindow(StrictModel):
    """A weekly period in which a plan that takes a node out of service may run.

    A window belongs to the day it starts on (``days: [sat]``, ``start: "23:00"``,
    ``duration: 4h`` is open early on Sunday); ``duration`` is elapsed time, also across
    a daylight-saving change.
    """

    days: Annotated[list[Weekday] | None, AfterValidator(_distinct_days)] = Field(
        default=None,
        description="Days the window starts on (mon, tue, wed, thu, fri, sat, sun); "
        "omitted: every day.",
        json_schema_extra={"minItems": 1, "uniqueItems": True},
    )
    start: Annotated[str, BeforeValidator(_start)] = Field(
        description='Local start time, "HH:MM" on a 24-hour clock (quote it in YAML). '
        "A time skipped by a daylight-saving change starts at the end of the gap; one "
        "that occurs twice starts at its first occurrence.",
        json_schema_extra={"pattern": START_PATTERN},
    )
    duration: Annotated[PositiveDuration, AfterValidator(_at_most_a_week)] = Field(
        description="How long the window stays open (elapsed time), e.g. '4h'; at most 7d."
    )


class MaintenanceSpec(StrictModel):
    """When a plan that takes a serving node out of service may be applied.

    Without this key a cluster is applied at any time.
    """

    timezone: Annotated[str, AfterValidator(_timezone)] = Field(
        default="UTC",
        description="IANA time zone of the windows' days and start times, e.g. "
        "'Europe/Berlin' (default UTC).",
    )
    windows: Annotated[list[MaintenanceWindow], AfterValidator(_some_window)] = Field(
        description="The weekly windows; overlapping or adjacent ones form one window.",
        json_schema_extra={"minItems": 1},
    )
    outside: Literal["refuse", "allow"] = Field(
        default="refuse",
        description="Outside every window: 'refuse' defers the apply (exit 3) until the "
        "next window; 'allow' applies anyway and only reports it.",
    )


class ClusterSpec(StrictModel):
    """Desired state of one CMS database cluster (``clusters/<name>.yaml``)."""

    name: Annotated[NonEmptyText, _pattern(NAME_PATTERN, "cluster name")] = Field(
        description="Must equal the file's stem."
    )
    master: NonEmptyText = Field(
        description="Address of the node whose database is authoritative; it runs initialize."
    )
    interface: Annotated[str, _pattern(r"^[a-z]$", "MMP interface letter")] | None = Field(
        default=None,
        description="MMP interface of the cluster, e.g. 'a': set with 'database cluster "
        "localnode' on a node that shows none before it initializes or joins; a node on "
        "another interface blocks the plan.",
    )
    nodes: list[NodeSpec] = Field(min_length=1)
    connected: list[ConnectedSpec] = Field(
        default_factory=list,
        description=(
            "Call bridges attached with `database cluster connect` (no local database): "
            "when a rotation changes the CA or the client certificate, or re-forms the "
            "cluster, each gets the cluster's client files and connects again."
        ),
    )
    ssh: SSHSpec
    certs: CertBundleSpec
    renew_before: NonNegativeDuration = timedelta(days=30)
    timeouts: Timeouts = Timeouts()
    maintenance: MaintenanceSpec | None = Field(
        default=None,
        description="Maintenance windows: when a plan that takes a node out of service may "
        "run. Omitted: at any time.",
    )

    def node_certs(self, node: NodeSpec) -> CertBundleSpec:
        """The node's effective bundle: cluster ``certs`` with the node's overrides applied."""
        if node.certs is None:
            return self.certs
        overrides = node.certs.model_dump(exclude_none=True, exclude_unset=True)
        return self.certs.model_copy(update={key: getattr(node.certs, key) for key in overrides})

    def machines(self) -> list[NodeSpec | ConnectedSpec]:
        """Every host of the cluster file: its database nodes, then its connected bridges."""
        return [*self.nodes, *self.connected]

    def ssh_port_of(self, node: NodeSpec | ConnectedSpec) -> int:
        return node.ssh_port if node.ssh_port is not None else self.ssh.port

    def master_node(self) -> NodeSpec | None:
        """The node whose address is ``master`` (None if the spec is inconsistent)."""
        try:
            wanted = str(ipaddress.ip_address(self.master.strip()))
        except ValueError:
            return None
        return next((node for node in self.nodes if node.address == wanted), None)
