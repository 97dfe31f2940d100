"""Property: any status block we can render in the reference's styles parses back exactly.

Generates members (IPv4 and IPv6, both wordings, every member state, optional
``(me)``), every Status form, certificate names with markers, optional Last
command, and renders them with random padding (none, single space, the S1 and
S2 alignments, arbitrary columns), indentation, blank lines, echoed command and
prompt lines, and LF or CRLF.
"""

from __future__ import annotations

from dataclasses import dataclass

from hypothesis import given, settings
from hypothesis import strategies as st

from reconciler.mmp.models import (
    CertFileRef,
    Certificates,
    ClusterStatus,
    LastCommand,
    Member,
    Role,
    Wording,
)
from reconciler.mmp.parsers import parse_cluster_status

ROLE_WORDS = {
    Wording.MASTER_SLAVE: {Role.MASTER: "Master", Role.REPLICA: "Slave"},
    Wording.PRIMARY_REPLICA: {Role.MASTER: "Primary", Role.REPLICA: "Replica"},
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
                f"Connected {ROLE_WORDS[wording][Role.MASTER]}",
                Role.MASTER,
                None,
            )
        else:
            state = f"Connected {ROLE_WORDS[wording][Role.REPLICA]}"
            in_sync = kind == "replica_sync"
            if in_sync:
                state += " ( In Sync )"
            role = Role.REPLICA
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
    blank = st.booleans()
    lines: list[str] = []

    error = draw(st.one_of(st.none(), st.sampled_from(["Couldn't upgrade the schema", "Oops"])))
    if error is not None:
        lines.append(style.line(0, "ERROR", error))

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
    if status_text is not None:
        lines.append(style.line(0, "Status", status_text))
        if draw(blank):
            lines.append("")
    if nodes_heading:
        lines.append("Nodes:")
        lines.extend(style.line(style.node_indent, left, m.state) for m, left in nodes)

    node_in_use = draw(st.one_of(st.none(), addresses))
    if draw(st.booleans()) or node_in_use is not None:
        lines.append(style.line(0, "Node in use", node_in_use or "None"))
        if draw(blank):
            lines.append("")
    interface = draw(st.one_of(st.none(), st.sampled_from(["a", "b", "c", "d"])))
    if interface is not None:
        lines.append(style.line(0, "Interface", interface))
        if draw(blank):
            lines.append("")

    refs: dict[str, CertFileRef | None] = {}
    if draw(st.booleans()):
        lines.append("Certificates")
        for key, label in CERT_LABELS.items():
            choice = draw(st.sampled_from(["absent", "empty", "file"]))
            if choice == "empty":
                lines.append(style.line(style.cert_indent, label, ""))
            elif choice == "file":
                ref = CertFileRef(
                    file=draw(file_names), expired=draw(blank), not_yet_valid=draw(blank)
                )
                markers = " (expired)" * ref.expired + " (not yet valid)" * ref.not_yet_valid
                lines.append(style.line(style.cert_indent, label, ref.file + markers))
                refs[key] = ref
        if draw(blank):
            lines.append("")

    last: LastCommand | None = None
    if draw(st.booleans()):
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

    prompt = draw(st.sampled_from(["cms1>", "cms2>", "CMS>", "cms-a.lab>"]))
    head = [""] * draw(st.integers(0, 2)) + [prompt] * draw(st.integers(0, 2))
    if draw(st.booleans()):
        head.append(f"{prompt} database cluster status")
    tail = [""] * draw(st.integers(0, 2)) + [prompt] * draw(st.integers(0, 2))
    newline = draw(st.sampled_from(["\n", "\r\n"]))
    text = newline.join(head + lines + tail) + newline
    if draw(st.booleans()):
        text += prompt + " "

    state, transitional, started = None, False, None
    if status_text is not None:
        state = status_text.split()[0]
        transitional = state.endswith("ing")
        started = seconds if transitional else None
    roles = {m.role for m, _ in nodes if m.connected}
    expected = ClusterStatus(
        state=state,
        status_text=status_text,
        transitional=transitional,
        started_seconds_ago=started,
        error=error,
        members=tuple(m for m, _ in nodes),
        node_in_use=node_in_use,
        interface=interface,
        certificates=Certificates(**refs),
        last_command=last,
        wording=wording if roles else None,
    )
    return text, expected


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
