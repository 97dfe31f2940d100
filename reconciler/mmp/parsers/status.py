"""``database cluster status``: the text every plan decision rests on.

The layout differs between releases and published copies (column padding,
indentation, Master/Slave vs Primary/Replica), so padding is tolerated
everywhere; but every non-blank line must be one we understand, and every
value must have a form we have seen or been told to expect. Anything else
raises ``StatusParseError`` quoting the line: a guessed status can lead to a
plan that overwrites the master's database.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from reconciler.mmp.models import (
    CertFileRef,
    Certificates,
    ClusterStatus,
    LastCommand,
    Member,
    MemberRole,
    Wording,
)
from reconciler.mmp.parsers.common import Line, is_ip_address, match_label, output_lines

COMMAND = "database cluster status"
_WHAT = "database cluster status"

_TOP_LABELS = {
    "error": "ERROR",
    "status": "Status",
    "node_in_use": "Node in use",
    "interface": "Interface",
    "last_command": "Last command",
}
_CERT_LABELS = {
    "server_key": "Server Key",
    "server_cert": "Server Certificate",
    "client_key": "Client Key",
    "client_cert": "Client Certificate",
    "ca_cert": "CA Certificate",
}
_NODES_RE = re.compile(r"^\s*Nodes\s*:$")
_CERTIFICATES_RE = re.compile(r"^\s*Certificates\s*:?$")

# Status value: one word, optionally one parenthesised detail.
_STATUS_RE = re.compile(r"^(?P<word>[A-Za-z]+)(?:\s*\((?P<detail>[^()]*)\))?$")
_STARTED_RE = re.compile(
    r"^\s*Started\s+(?P<n>\d+)\s+(?P<unit>second|minute|hour)s?\s+ago\s*$", re.IGNORECASE
)
_UNIT_SECONDS = {"second": 1, "minute": 60, "hour": 3600}

# Member line: the separator is the last colon followed by whitespace; states
# contain no colon, IPv6 addresses may end in one (``2001:db8::  : Disconnected``).
_MEMBER_RE = re.compile(r"^\s*(?P<left>.+?)\s*:\s+(?P<state>[^:]+)$")
_MEMBER_LEFT_RE = re.compile(r"^(?P<address>[^\s()]+)(?P<me>\s*\(me\))?$")
_MEMBER_STATE_RE = re.compile(
    r"^(?:(?P<disconnected>Disconnected)"
    r"|Connected\s+(?P<role>Master|Slave|Primary|Replica)"
    r"(?P<sync>\s*\(\s*In\s+Sync\s*\))?)$"
)
_ROLE_WORDS: dict[str, tuple[MemberRole, Wording]] = {
    "Master": (MemberRole.MASTER, Wording.MASTER_SLAVE),
    "Slave": (MemberRole.REPLICA, Wording.MASTER_SLAVE),
    "Primary": (MemberRole.MASTER, Wording.PRIMARY_REPLICA),
    "Replica": (MemberRole.REPLICA, Wording.PRIMARY_REPLICA),
}

_CERT_VALUE_RE = re.compile(r"^(?P<file>[^\s()]+)(?P<markers>(?:\s*\([^()]*\))*)$")
_MARKER_RE = re.compile(r"\(([^()]*)\)")
_LAST_COMMAND_RE = re.compile(r"^'(?P<command>[^']+)'\s*\((?P<result>[^()]*)\)$")


@dataclass
class _Seen:
    """Lines collected in one pass, before interpretation."""

    top: dict[str, tuple[Line, str]] = field(default_factory=dict)
    certs: dict[str, tuple[Line, str]] = field(default_factory=dict)
    members: list[Member] = field(default_factory=list)
    member_lines: list[Line] = field(default_factory=list)
    nodes_heading: Line | None = None
    certificates_heading: Line | None = None


def parse_cluster_status(text: str) -> ClusterStatus:
    """Parse the output of ``database cluster status`` (with or without echo and prompts).

    Raises:
        StatusParseError: the output is empty, contains a line or value not
            understood, or is inconsistent (duplicated field, two ``(me)``,
            two masters, mixed Master/Slave and Primary/Replica wording).
    """
    lines = output_lines(text, command=COMMAND, what=_WHAT)
    seen = _collect(lines)
    if "status" not in seen.top and seen.nodes_heading is None:
        first = next(line for line in lines if not line.blank)
        raise first.error(f"{_WHAT}: neither a Status line nor a Nodes section")
    state = status_text = None
    transitional = False
    started: int | None = None
    if "status" in seen.top:
        line, status_text = seen.top["status"]
        state, transitional, started = _parse_state(line, status_text)
    error = _error(seen)
    node_in_use = _node_in_use(seen)
    interface = _interface(seen)
    last_command = (
        _parse_last_command(*seen.top["last_command"]) if "last_command" in seen.top else None
    )
    certificates = Certificates(
        **{key: _parse_cert_value(line, value) for key, (line, value) in seen.certs.items()}
    )
    return ClusterStatus(
        state=state,
        status_text=status_text,
        transitional=transitional,
        started_seconds_ago=started,
        error=error,
        members=tuple(seen.members),
        node_in_use=node_in_use,
        interface=interface,
        certificates=certificates,
        last_command=last_command,
        wording=_check_members(seen),
    )


def _error(seen: _Seen) -> str | None:
    if "error" not in seen.top:
        return None
    line, error = seen.top["error"]
    if not error:
        raise line.error(f"{_WHAT}: ERROR line without text")
    return error


def _node_in_use(seen: _Seen) -> str | None:
    """An address, or None for the word ``None`` (and for no such line)."""
    if "node_in_use" not in seen.top:
        return None
    line, value = seen.top["node_in_use"]
    if value.lower() == "none":  # S1 prints None; N1's other status blocks print none
        return None
    if not is_ip_address(value):
        raise line.error(f"{_WHAT}: Node in use is neither None nor an address")
    return value


def _interface(seen: _Seen) -> str | None:
    if "interface" not in seen.top:
        return None
    line, value = seen.top["interface"]
    if value and not re.fullmatch(r"\S+", value):
        raise line.error(f"{_WHAT}: Interface is not a single word")
    # Not set (a never-clustered node, U5): an empty value, or the word none, as other MMP
    # status blocks print an unset field; no interface is called "none".
    return None if not value or value.lower() == "none" else value


def _collect(lines: list[Line]) -> _Seen:
    """One pass over the lines: sort each into its field, refuse unknown or repeated ones."""
    seen = _Seen()
    section: str | None = None
    for line in lines:
        if not line.blank:
            section = _sort_line(seen, section, line)
    return seen


def _sort_line(seen: _Seen, section: str | None, line: Line) -> str | None:
    """File one line of ``section`` into ``seen``; returns the section the next line is in."""
    top = match_label(line.text, _TOP_LABELS)
    if top is not None:
        key, value = top
        _once(seen.top, key, line, value, _TOP_LABELS[key])
        return None
    heading = _open_section(seen, line)
    if heading is not None:
        return heading
    if section == "certs" and (cert := match_label(line.text, _CERT_LABELS)) is not None:
        key, value = cert
        _once(seen.certs, key, line, value, _CERT_LABELS[key])
    elif section == "nodes":
        seen.members.append(_parse_member(line))
        seen.member_lines.append(line)
    elif match_label(line.text, _CERT_LABELS) is not None:
        raise line.error(f"{_WHAT}: certificate line outside the Certificates section")
    else:
        raise line.error(f"{_WHAT}: line not understood")
    return section


def _open_section(seen: _Seen, line: Line) -> str | None:
    """The section a heading line opens (each at most once); None for any other line."""
    if _NODES_RE.match(line.text):
        if seen.nodes_heading is not None:
            raise line.error(f"{_WHAT}: second Nodes section")
        seen.nodes_heading = line
        return "nodes"
    if _CERTIFICATES_RE.match(line.text):
        if seen.certificates_heading is not None:
            raise line.error(f"{_WHAT}: second Certificates section")
        seen.certificates_heading = line
        return "certs"
    return None


def _once(into: dict[str, tuple[Line, str]], key: str, line: Line, value: str, label: str) -> None:
    if key in into:
        first = into[key][0]
        raise line.error(f"{_WHAT}: second {label!r} line (first on line {first.number})")
    into[key] = (line, value)


def _parse_state(line: Line, value: str) -> tuple[str, bool, int | None]:
    """``Enabled`` / ``Disabling (Started 19 seconds ago)`` -> (word, transitional, seconds)."""
    match = _STATUS_RE.match(value)
    if match is None:
        raise line.error(f"{_WHAT}: Status value not understood")
    word = match.group("word").capitalize()
    ing = word.endswith("ing")
    detail = match.group("detail")
    if detail is None:
        return word, ing, None
    started = _STARTED_RE.match(detail)
    if started is not None:
        seconds = int(started.group("n")) * _UNIT_SECONDS[started.group("unit").lower()]
        return word, True, seconds
    if ing:
        # The real text of Enabling/Initializing/Joining details is not known; the
        # word alone says an operation is running, which is all the planner needs.
        return word, True, None
    raise line.error(f"{_WHAT}: Status detail not understood")


def _parse_member(line: Line) -> Member:
    match = _MEMBER_RE.match(line.text)
    if match is None:
        raise line.error(f"{_WHAT}: Nodes line is not '<address> : <state>'")
    left = _MEMBER_LEFT_RE.match(match.group("left"))
    if left is None or not is_ip_address(left.group("address")):
        raise line.error(f"{_WHAT}: Nodes line does not start with an address")
    raw_state = match.group("state").strip()
    state = _MEMBER_STATE_RE.match(raw_state)
    if state is None:
        raise line.error(f"{_WHAT}: member state not understood")
    role: MemberRole | None = None
    in_sync: bool | None = None
    if state.group("role") is not None:
        role = _ROLE_WORDS[state.group("role")][0]
        if role is MemberRole.REPLICA:
            in_sync = state.group("sync") is not None
        elif state.group("sync") is not None:
            raise line.error(f"{_WHAT}: In Sync marker on a master")
    return Member(
        address=left.group("address"),
        me=left.group("me") is not None,
        state=raw_state,
        connected=state.group("disconnected") is None,
        role=role,
        in_sync=in_sync,
    )


def _check_members(seen: _Seen) -> Wording | None:
    """Refuse member lists we cannot read unambiguously; return the wording used."""
    wording: Wording | None = None
    me: Line | None = None
    master: Line | None = None
    addresses: dict[str, Line] = {}
    for member, line in zip(seen.members, seen.member_lines, strict=True):
        if member.address in addresses:
            raise line.error(
                f"{_WHAT}: address listed twice (first on line {addresses[member.address].number})"
            )
        addresses[member.address] = line
        if member.me:
            if me is not None:
                raise line.error(f"{_WHAT}: second (me) member (first on line {me.number})")
            me = line
        if member.role is MemberRole.MASTER:
            if master is not None:
                raise line.error(f"{_WHAT}: second master member (first on line {master.number})")
            master = line
        role_word = member.state.split()[1] if member.connected else None
        if role_word is not None:
            this = _ROLE_WORDS[role_word][1]
            if wording is not None and this is not wording:
                raise line.error(f"{_WHAT}: Master/Slave and Primary/Replica wording mixed")
            wording = this
    return wording


def _parse_cert_value(line: Line, value: str) -> CertFileRef | None:
    """``name.cer (expired)`` -> CertFileRef; empty, ``None`` or ``none`` -> None (nothing
    configured: N1 shows other MMP status blocks print an unset file as lower-case none)."""
    if not value or value.lower() == "none":
        return None
    match = _CERT_VALUE_RE.match(value)
    if match is None:
        raise line.error(f"{_WHAT}: certificate value not understood")
    expired = not_yet_valid = False
    for raw in _MARKER_RE.findall(match.group("markers")):
        marker = " ".join(raw.split()).lower()
        if marker == "expired" and not expired:
            expired = True
        elif marker == "not yet valid" and not not_yet_valid:
            not_yet_valid = True
        else:
            raise line.error(f"{_WHAT}: certificate marker ({raw}) not understood")
    return CertFileRef(file=match.group("file"), expired=expired, not_yet_valid=not_yet_valid)


def _parse_last_command(line: Line, value: str) -> LastCommand:
    match = _LAST_COMMAND_RE.match(value)
    if match is None:
        raise line.error(f"{_WHAT}: Last command value not understood")
    result = match.group("result")
    if result == "Success":
        return LastCommand(command=match.group("command"), result="Success")
    if result == "Failed":
        return LastCommand(command=match.group("command"), result="Failed")
    raise line.error(f"{_WHAT}: Last command result is neither Success nor Failed")
