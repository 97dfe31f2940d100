"""Live state for people (one block per node) and for machines (SPEC §4 "Status JSON").

The text is laid out for 80 columns whatever the console's width, so a terminal, a pipe
and a CI log show the same lines: one labelled field per line, long values wrapped between
words under their label. Addresses and file names contain no spaces, so they are never
split, and nothing is ever cut short: a value too long for the line runs past column 80
rather than lose characters.
"""

from __future__ import annotations

import textwrap
from collections.abc import Iterable, Sequence
from datetime import UTC, datetime
from typing import Any

from rich.console import Console
from rich.text import Text

from reconciler.addresses import same_address
from reconciler.durations import duration_text
from reconciler.live.caveats import caveat_notes
from reconciler.live.health import CertificateHealth, CertificateState, ClusterReport, Problem
from reconciler.live.models import LiveNode
from reconciler.live.replication import ReplicationKind
from reconciler.mmp.models import CertRole

LINE_WIDTH = 80
INDENT = "  "
LABEL_WIDTH = len("last command") + 2
GAP = "  "

ROLE_LABELS: dict[CertRole, str] = {
    CertRole.SERVER_KEY: "server key",
    CertRole.SERVER_CERT: "server cert",
    CertRole.CLIENT_KEY: "client key",
    CertRole.CLIENT_CERT: "client cert",
    CertRole.CA_CERT: "CA cert",
}
STATE_STYLES: dict[CertificateState, str] = {
    "expired": "bold red",
    "due": "yellow",
    "ok": "green",
    "unknown": "yellow",
}
STATE_WIDTH = max(len(state) for state in STATE_STYLES)


# --- JSON ---------------------------------------------------------------------------------


def node_json(node: LiveNode, judged: dict[CertRole, CertificateHealth]) -> dict[str, Any]:
    """One node of the Status JSON; key hashes stay internal (only certificates get sha256)."""
    status = node.status
    data: dict[str, Any] = {
        "name": node.name,
        "address": node.address,
        "reachable": node.reachable,
        "error": node.error,
        "status": None,
        "status_text": None,
        "role": None,
        "in_sync": None,
        "node_in_use": None,
        "interface": None,
        "members": [],
        "certificates": {},
        "last_command": None,
    }
    if status is None:
        return data
    certificates: dict[str, Any] = {}
    for role in CertRole:
        ref = getattr(status.certificates, role.value)
        if ref is None:
            continue
        entry: dict[str, Any] = {"file": ref.file, "expired": ref.expired}
        live_file = node.files.get(ref.file)
        if not role.is_key and live_file is not None:
            entry["sha256"] = live_file.sha256
            entry["present"] = live_file.present
        if role in judged:
            health = judged[role]
            entry["not_after"] = _iso(health.not_after)
            entry["days_left"] = health.days_left
        certificates[role.value] = entry
    data.update(
        status=status.state,
        status_text=status.status_text,
        role=status.role,
        in_sync=status.in_sync,
        node_in_use=status.node_in_use,
        interface=status.interface,
        members=[
            {"address": member.address, "me": member.me, "state": member.state}
            for member in status.members
        ],
        certificates=certificates,
        last_command=status.last_command.model_dump() if status.last_command else None,
    )
    return data


def status_json(reports: Sequence[ClusterReport]) -> dict[str, Any]:
    return {
        "clusters": [
            {
                "name": report.live.name,
                "read_at": report.live.read_at.isoformat(),
                "master": report.master,
                "maintenance_window": report.window,
                "nodes": [node_json(node, report.certificates(node)) for node in report.live.nodes],
                "bridges": [
                    node_json(bridge, report.certificates(bridge)) for bridge in report.live.bridges
                ],
                "problems": [problem.model_dump() for problem in report.problems()],
                "caveats": [caveat.model_dump() for caveat in report.caveats()],
            }
            for report in reports
        ]
    }


def _iso(moment: datetime | None) -> str | None:
    return None if moment is None else moment.astimezone(UTC).isoformat(timespec="seconds")


# --- text ---------------------------------------------------------------------------------


def print_status(reports: Sequence[ClusterReport], console: Console) -> None:
    """Every cluster: a heading, one block per node, and a one-line verdict."""
    for line in status_lines(reports):
        # soft_wrap: rich neither re-wraps nor crops; the lines are already laid out.
        console.print(line, soft_wrap=True)


def status_lines(reports: Sequence[ClusterReport]) -> list[Text]:
    lines: list[Text] = []
    for number, report in enumerate(reports):
        if number:
            lines.append(Text())
        live = report.live
        read_at = live.read_at.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S UTC")
        lines += _wrapped(
            f"cluster {live.name}: read {read_at}, "
            f"renew_before {duration_text(report.renew_before)}",
            style="bold",
        )
        if report.window is not None:
            lines += _wrapped(f"maintenance window: {report.window}", style="dim")
        column = _file_column(report)
        for node in live.nodes:
            lines.append(Text())
            lines += _node_lines(report, node, column)
        for bridge in live.bridges:
            lines.append(Text())
            lines += _bridge_lines(report, bridge, column)
        lines.append(Text())
        lines += _verdict(report)
    # Once, however many clusters are healthy, after them: what that verdict could not see.
    for note in caveat_notes(caveat for report in reports for caveat in report.caveats()):
        lines.append(Text())
        lines += _wrapped(note, style="dim")
    return lines


def _node_lines(report: ClusterReport, node: LiveNode, column: int) -> list[Text]:
    lines = [Text.assemble((node.name, "bold"), GAP, node.address)]
    status = node.status
    if status is None:
        # A node that answered but refused (host key, login) is reachable: not "unreachable".
        state = "unreachable" if not node.reachable else "not read"
        return lines + _field(state, node.error or "", style="red")
    state_style = {"Enabled": "green", "Disabled": "yellow", "Error": "bold red"}.get(
        status.state or "", "cyan"
    )
    summary = [status.status_text or "no Status line"]
    if status.role != "none":
        summary.append(status.role)
    if status.in_sync is not None:
        summary.append("in sync" if status.in_sync else "NOT in sync")
    lines += _field("status", ", ".join(summary), style=state_style)
    if status.error:
        lines += _field("error", status.error, style="bold red")
    lines += _field("node in use", status.node_in_use or "None")
    if status.last_command is not None:
        last = status.last_command
        failed = last.result == "Failed"
        lines += _field(
            "last command", f"{last.command} ({last.result})", style="bold red" if failed else ""
        )
    for problem in report.replication(node):
        if problem.kind != "command_failed":  # the line above says it
            lines += _field("problem", problem.detail, style="bold red")
    lines += _certificate_lines(report, node, column)
    if node.error:
        lines += _field("not read", node.error, style="red")
    return lines


def _bridge_lines(report: ClusterReport, bridge: LiveNode, column: int) -> list[Text]:
    """A connected call bridge: which database it uses, and its client files."""
    lines = [Text.assemble((bridge.name, "bold"), GAP, bridge.address, "  (connected call bridge)")]
    status = bridge.status
    if status is None:
        state = "unreachable" if not bridge.reachable else "not read"
        return lines + _field(state, bridge.error or "", style="red")
    problems = report.bridge_problems(bridge)
    lines += _field(
        "status", status.status_text or "no Status line", style="red" if problems else "green"
    )
    lines += _field("node in use", status.node_in_use or "None")
    for problem in problems:
        lines += _field("problem", problem.detail, style="bold red")
    lines += _certificate_lines(report, bridge, column)
    if bridge.error:
        lines += _field("not read", bridge.error, style="red")
    return lines


def _certificate_lines(report: ClusterReport, node: LiveNode, column: int) -> list[Text]:
    assert node.status is not None
    judged = report.certificates(node)
    lines: list[Text] = []
    for role in CertRole:
        ref = getattr(node.status.certificates, role.value)
        if ref is None:
            continue
        prefix = INDENT + ROLE_LABELS[role].ljust(LABEL_WIDTH)
        if role not in judged:
            lines.append(Text(prefix + ref.file))
            continue
        state = _state_text(judged[role], node, report.live.read_at)
        if len(ref.file) <= column:
            lines.append(Text.assemble(prefix, ref.file.ljust(column), GAP, state))
        else:  # a file name wider than its column: the state goes under the column
            lines.append(Text(prefix + ref.file))
            lines.append(Text.assemble(" " * (len(prefix) + column), GAP, state))
    if not lines:
        lines += _field("certificates", "none configured")
    return lines


def _state_text(health: CertificateHealth, node: LiveNode, now: datetime) -> Text:
    style = STATE_STYLES[health.state]
    return Text.assemble((health.state.ljust(STATE_WIDTH), style), GAP, _when(health, node, now))


def _when(health: CertificateHealth, node: LiveNode, now: datetime) -> str:
    """The expiry date and how far it is from ``now``, or why it is not known."""
    if health.not_after is None:
        live_file = node.file(health.file)
        if live_file is None:
            return "(expiry not read)"
        if not live_file.present:
            return "(file not on the node)"
        return "(no certificate in the file)"
    return expiry_text(health.not_after, now)


def expiry_text(not_after: datetime, now: datetime) -> str:
    """``2027-12-01 (in 364 days)`` or ``2017-03-09 (3555 days ago)``: status and certs
    check say a certificate's expiry the same way."""
    date = not_after.astimezone(UTC).strftime("%Y-%m-%d")
    if now > not_after:
        ago = (now - not_after).days
        return f"{date} ({_days(ago)} ago)" if ago else f"{date} (less than a day ago)"
    left = (not_after - now).days
    return f"{date} (in {_days(left)})" if left else f"{date} (in less than a day)"


def _days(count: int) -> str:
    return "1 day" if count == 1 else f"{count} days"


def _file_column(report: ClusterReport) -> int:
    """Width of the file column: the longest file name, if the state still fits beside it."""
    files: list[int] = []
    states: list[int] = []
    for node in (*report.live.nodes, *report.live.bridges):
        for health in report.certificates(node).values():
            files.append(len(health.file))
            states.append(len(_state_text(health, node, report.live.read_at)))
    if not files:
        return 0
    room = LINE_WIDTH - len(INDENT) - LABEL_WIDTH - len(GAP) - max(states)
    return max(0, min(max(files), room))


def _verdict(report: ClusterReport) -> list[Text]:
    """One line a CI log can be searched for: what makes the exit code what it is."""
    not_read = sum(not node.readable for node in (*report.live.nodes, *report.live.bridges))
    replication = _replication_parts(report) + _bridge_parts(report)
    renewals = report.renewals()
    expired = sum(health.state == "expired" for _, health in renewals)
    due = len(renewals) - expired
    parts = []
    if not_read:
        parts.append(f"{not_read} {'node' if not_read == 1 else 'nodes'} not read")
    if expired:
        parts.append(f"{expired} {'certificate' if expired == 1 else 'certificates'} expired")
    if due:
        parts.append(
            f"{due} {'certificate' if due == 1 else 'certificates'} due for renewal "
            f"(within {duration_text(report.renew_before)})"
        )
    parts += replication
    name = report.live.name
    if not parts:
        master = next(
            (node.name for node in report.live.nodes if same_address(node.address, report.master)),
            report.master,
        )
        bridges = f", every call bridge using {master}" if report.live.bridges else ""
        return _wrapped(
            f"{name}: healthy: every node read, every replica in sync with {master}{bridges}, "
            "no certificate expired or due for renewal",
            style="bold green",
        )
    style = "bold red" if not_read or expired or replication else "bold yellow"
    return _wrapped(f"{name}: " + ", ".join(parts), style=style)


# How the verdict says each kind of replication problem, of the nodes it names.
REPLICATION_PHRASES: dict[ReplicationKind, str] = {
    "busy": "{nodes} busy (an operation is running)",
    "error": "{nodes} in Error",
    "unknown_state": "{nodes} in a status not understood",
    "not_clustered": "{nodes} not clustered (Disabled)",
    "no_master": "{nodes} following no master",
    "other_master": "{nodes} following another master than the cluster file's",
    "not_in_sync": "{nodes} not in sync",
    "command_failed": "last cluster command failed on {nodes}",
}


def _replication_parts(report: ClusterReport) -> list[str]:
    """``cms2 and cms3 not in sync``, ``last cluster command failed on cms2``: what, where."""
    named = _named(report.replication(node) for node in report.live.nodes)
    return [
        phrase.format(nodes=_names(named[kind]))
        for kind, phrase in REPLICATION_PHRASES.items()
        if kind in named
    ]


BRIDGE_PHRASES: dict[str, str] = {
    "bridge_not_connected": "{bridges} not connected",
    "bridge_no_database": "{bridges} using no database",
    "bridge_other_master": "{bridges} using another node than the master",
}


def _bridge_parts(report: ClusterReport) -> list[str]:
    """``call bridge cb1 using no database``: each kind, with the bridges it names."""
    named = _named(report.bridge_problems(bridge) for bridge in report.live.bridges)
    return [
        phrase.format(
            bridges=("call bridge " if len(named[kind]) == 1 else "call bridges ")
            + _names(named[kind])
        )
        for kind, phrase in BRIDGE_PHRASES.items()
        if kind in named
    ]


def _named(problems: Iterable[list[Problem]]) -> dict[str, list[str]]:
    """The names of the nodes with each kind of problem, in the order they came."""
    named: dict[str, list[str]] = {}
    for found in problems:
        for problem in found:
            named.setdefault(problem.kind, []).append(problem.node)
    return named


def _names(names: list[str]) -> str:
    """``cms2``, ``cms2 and cms3``, ``cms1, cms2 and cms3``."""
    return names[0] if len(names) == 1 else f"{', '.join(names[:-1])} and {names[-1]}"


def _field(label: str, value: str, *, style: str = "") -> list[Text]:
    """``  label         value``, the value wrapped between words under itself."""
    prefix = INDENT + label.ljust(LABEL_WIDTH)
    chunks = _wrap(value, LINE_WIDTH - len(prefix))
    return [
        Text.assemble(prefix if number == 0 else " " * len(prefix), (chunk, style))
        for number, chunk in enumerate(chunks)
    ]


def _wrapped(value: str, *, style: str = "") -> list[Text]:
    return [Text(chunk, style=style) for chunk in _wrap(value, LINE_WIDTH)]


def _wrap(value: str, width: int) -> list[str]:
    """Wrap between words only: a word longer than ``width`` stays whole on its own line."""
    chunks: list[str] = []
    for paragraph in value.splitlines() or [""]:
        chunks += textwrap.wrap(
            paragraph, width, break_long_words=False, break_on_hyphens=False
        ) or [""]
    return chunks
