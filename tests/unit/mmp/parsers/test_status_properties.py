"""Property: any status block we can render in the reference's styles parses back exactly.

Generates members (IPv4 and IPv6, both wordings, every member state, optional
``(me)``), every Status form, certificate names with markers, optional Last
command, and renders them with random padding (none, single space, the S1 and
S2 alignments, arbitrary columns), indentation, blank lines, echoed command and
prompt lines, and LF or CRLF.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from reconciler.mmp.models import (
    CertFileRef,
    Certificates,
    ClusterStatus,
    LastCommand,
    Member,
    MemberRole,
    Wording,
)
from reconciler.mmp.parsers import parse_cluster_status

ROLE_WORDS = {
    Wording.MASTER_SLAVE: {MemberRole.MASTER: "Master", MemberRole.REPLICA: "Slave"},
    Wording.PRIMARY_REPLICA: {MemberRole.MASTER: "Primary", MemberRole.REPLICA: "Replica"},
}
CERT_LABELS = {
    "server_key": "Server Key",
    "server_cert": "Server Certificate",
    "client_key": "Client Key",
    "client_cert": "Client Certificate",
    "ca_cert": "CA Certificate",
}

addresses = st.ip_addresses().map(str)
file_names = st.from_regex(r"[A-Za-z0-9_-]{1,12}\.(cer|key|pem|crt)", fullmatch=True)


@dataclass(frozen=True)
class Style:
    """How one rendering lays out ``label : value`` lines."""

    padding: str  # "none" | "single" | "column"
    column: int
    node_indent: int
    cert_indent: int

    def line(self, indent: int, label: str, value: str) -> str:
        head = " " * indent + label
        if self.padding == "none":
            return f"{head}: {value}"
        if self.padding == "single":
            return f"{head} : {value}"
        return (
            f"{head.ljust(self.column)} : {value}"
            if len(head) < self.column
            else f"{head}: {value}"
        )


styles = st.builds(
    Style,
    padding=st.sampled_from(["none", "single", "column"]),
    # 21/22 and 24/25: the S1 and S2 colon columns (ljust width before " : ").
    column=st.one_of(st.sampled_from([21, 22, 24, 25]), st.integers(0, 40)),
    node_indent=st.sampled_from([0, 2, 4]),
    cert_indent=st.sampled_from([0, 2]),
)


@st.composite
def members(draw: st.DrawFn, wording: Wording) -> list[tuple[Member, str]]:
    addrs = draw(st.lists(addresses, unique=True, max_size=5))
    me_index = draw(st.one_of(st.none(), st.integers(0, max(len(addrs) - 1, 0))))
    master_index = draw(st.one_of(st.none(), st.integers(0, max(len(addrs) - 1, 0))))
    out = []
    for i, address in enumerate(addrs):
        if i == master_index:
            kind = "master"
        else:
            kind = draw(st.sampled_from(["replica_sync", "replica", "disconnected"]))
        if kind == "disconnected":
            state, role, in_sync = "Disconnected", None, None
        elif kind == "master":
            state, role, in_sync = (
                f"Connected {ROLE_WORDS[wording][MemberRole.MASTER]}",
                MemberRole.MASTER,
                None,
            )
        else:
            state = f"Connected {ROLE_WORDS[wording][MemberRole.REPLICA]}"
            in_sync = kind == "replica_sync"
            if in_sync:
                state += " ( In Sync )"
            role = MemberRole.REPLICA
        member = Member(
            address=address,
            me=i == me_index,
            state=state,
            connected=role is not None,
            role=role,
            in_sync=in_sync,
        )
        out.append((member, address + (" (me)" if member.me else "")))
    return out


@st.composite
def status_blocks(draw: st.DrawFn) -> tuple[str, ClusterStatus]:
    style = draw(styles)
    wording = draw(st.sampled_from(list(Wording)))
    nodes = draw(members(wording))
    error = draw(st.one_of(st.none(), st.sampled_from(["Couldn't upgrade the schema", "Oops"])))
    lines = [style.line(0, "ERROR", error)] if error is not None else []
    seconds = draw(st.integers(0, 100_000))
    status_text = draw(
        st.one_of(
            st.none(),
            st.sampled_from(["Enabled", "Disabled", "Error"]),
            st.sampled_from(["Disabling", "Enabling", "Initializing", "Joining"]).map(
                lambda w: f"{w} (Started {seconds} seconds ago)"
            ),
        )
    )
    nodes_heading = bool(nodes) or status_text is None or draw(st.booleans())
    lines += _value_lines(draw, style, "Status", status_text)
    if nodes_heading:
        lines.append("Nodes:")
        lines.extend(style.line(style.node_indent, left, m.state) for m, left in nodes)
    node_in_use = draw(st.one_of(st.none(), addresses))
    shown = "None" if draw(st.booleans()) and node_in_use is None else node_in_use
    lines += _value_lines(draw, style, "Node in use", shown)
    interface = draw(st.one_of(st.none(), st.sampled_from(["a", "b", "c", "d"])))
    lines += _value_lines(draw, style, "Interface", interface)
    refs = _certificate_lines(draw, style, lines)
    last = _last_command_line(draw, style, lines)
    expected = ClusterStatus(
        **_expected_state(status_text, seconds),
        error=error,
        members=tuple(m for m, _ in nodes),
        node_in_use=node_in_use,
        interface=interface,
        certificates=Certificates(**refs),
        last_command=last,
        wording=wording if any(m.connected for m, _ in nodes) else None,
    )
    return _framed(draw, lines), expected


def _value_lines(draw: st.DrawFn, style: Style, label: str, value: str | None) -> list[str]:
    """``label : value`` (when there is a value), maybe followed by a blank line."""
    if value is None:
        return []
    return [style.line(0, label, value)] + [""] * draw(st.booleans())


def _certificate_lines(
    draw: st.DrawFn, style: Style, lines: list[str]
) -> dict[str, CertFileRef | None]:
    """Maybe a Certificates section, each role absent, empty or a file with markers."""
    refs: dict[str, CertFileRef | None] = {}
    if not draw(st.booleans()):
        return refs
    lines.append("Certificates")
    for key, label in CERT_LABELS.items():
        choice = draw(st.sampled_from(["absent", "empty", "file"]))
        if choice == "empty":
            lines.append(style.line(style.cert_indent, label, ""))
        elif choice == "file":
            ref = CertFileRef(
                file=draw(file_names),
                expired=draw(st.booleans()),
                not_yet_valid=draw(st.booleans()),
            )
            markers = " (expired)" * ref.expired + " (not yet valid)" * ref.not_yet_valid
            lines.append(style.line(style.cert_indent, label, ref.file + markers))
            refs[key] = ref
    lines.extend([""] * draw(st.booleans()))
    return refs


def _last_command_line(draw: st.DrawFn, style: Style, lines: list[str]) -> LastCommand | None:
    if not draw(st.booleans()):
        return None
    command = draw(
        st.sampled_from(
            [
                "database cluster remove",
                "database cluster initialize",
                "database cluster upgrade_schema",
            ]
        )
        | addresses.map(lambda a: f"database cluster join {a}")
    )
    last = LastCommand(command=command, result=draw(st.sampled_from(["Success", "Failed"])))
    lines.append(style.line(0, "Last command", f"'{last.command}' ({last.result})"))
    return last


def _framed(draw: st.DrawFn, lines: list[str]) -> str:
    """The block as a session shows it: blank and prompt lines around it, maybe the echoed
    command, LF or CRLF, maybe a trailing prompt."""
    prompt = draw(st.sampled_from(["cms1>", "cms2>", "CMS>", "cms-a.lab>"]))
    head = [""] * draw(st.integers(0, 2)) + [prompt] * draw(st.integers(0, 2))
    if draw(st.booleans()):
        head.append(f"{prompt} database cluster status")
    tail = [""] * draw(st.integers(0, 2)) + [prompt] * draw(st.integers(0, 2))
    newline = draw(st.sampled_from(["\n", "\r\n"]))
    text = newline.join(head + lines + tail) + newline
    if draw(st.booleans()):
        text += prompt + " "
    return text


def _expected_state(status_text: str | None, seconds: int) -> dict[str, Any]:
    """What the Status line says: its word, whether it is an operation, since when."""
    if status_text is None:
        return {
            "state": None,
            "status_text": None,
            "transitional": False,
            "started_seconds_ago": None,
        }
    state = status_text.split()[0]
    transitional = state.endswith("ing")
    return {
        "state": state,
        "status_text": status_text,
        "transitional": transitional,
        "started_seconds_ago": seconds if transitional else None,
    }


@settings(max_examples=200, deadline=None)
@given(status_blocks())
def test_rendered_status_parses_back(block: tuple[str, ClusterStatus]) -> None:
    text, expected = block
    assert parse_cluster_status(text) == expected


@settings(max_examples=100, deadline=None)
@given(status_blocks())
def test_parse_round_trips_through_json(block: tuple[str, ClusterStatus]) -> None:
    status = parse_cluster_status(block[0])
    assert ClusterStatus.model_validate_json(status.model_dump_json()) == status
