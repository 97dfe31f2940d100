"""``reconcile probe``: a read-only first contact with a real cluster, before its first apply.

Per node it logs in, reads ``database cluster status``, ``pki inspect`` of each file the
status names, ``backup list``, and over SFTP the file area's listing and the size of each of
those files; then asks the parsers which lines they did not recognise
(``reconciler.mmp.parsers.recognise``). Nothing else is ever sent: ``PROBE_COMMANDS`` is the
whole vocabulary. What the nodes said is written, redacted (the cluster's secrets and any
private key block), to a transcript bundle a user can attach to a bug report, and that tests
can replay (``load_bundle``, ``bundle_findings``). With ``anonymise`` the nodes' names and
addresses (and every address the statuses list) are replaced, consistently, in the bundle.

Exit 0: every line of every node is one the parsers know; 2: some line is not (the plan may
still work: the report names each); 1: a node could not be read.
"""

from __future__ import annotations

import contextlib
import ipaddress
import re
from collections.abc import Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Protocol

from reconciler.connect import SessionPool
from reconciler.desired.loader import readable_spec
from reconciler.desired.source import open_source
from reconciler.errors import ReconcileError, StatusParseError
from reconciler.mmp.parsers.recognise import (
    BACKUP_LIST,
    PKI_INSPECT,
    STATUS,
    Unrecognised,
    unrecognised_lines,
)
from reconciler.mmp.parsers.status import parse_cluster_status
from reconciler.mmp.session import CommandResult, Redactor
from reconciler.parallelism import DEFAULT_PARALLELISM
from reconciler.workdir import open_private, private_dir, workdir

PROBE_COMMANDS = (STATUS, PKI_INSPECT, BACKUP_LIST)
"""Every command the probe sends starts with one of these (all read-only)."""
SFTP_LIST = "sftp list"
SFTP_STAT = "sftp stat"
BUNDLE_HEADER = "# cms-reconciler probe bundle v1"
EXIT_KNOWN, EXIT_UNREACHABLE, EXIT_UNKNOWN = 0, 1, 2


class ProbeSession(Protocol):
    """What the probe uses of a session: commands, a file's size, and a listing."""

    def run(self, command: str, timeout: float | None = None) -> CommandResult: ...

    def file_size(self, name: str) -> int | None: ...

    def list_files(self) -> list[str] | None: ...


@dataclass(frozen=True)
class Exchange:
    """One request (a command, ``sftp list`` or ``sftp stat NAME``) and what came back."""

    request: str
    output: str


@dataclass
class NodeProbe:
    name: str
    address: str
    exchanges: list[Exchange] = field(default_factory=list)
    findings: list[Unrecognised] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    error: str | None = None  # set when the node could not be read (exit 1)

    @property
    def matches(self) -> bool:
        return self.error is None and not self.findings


@dataclass
class ProbeReport:
    cluster: str
    time: datetime
    nodes: list[NodeProbe]
    bundle: Path | None = None

    @property
    def exit_code(self) -> int:
        if any(node.error is not None for node in self.nodes):
            return EXIT_UNREACHABLE
        if any(node.findings for node in self.nodes):
            return EXIT_UNKNOWN
        return EXIT_KNOWN


def _guarded(command: str) -> str:
    if not any(command.split()[: len(known.split())] == known.split() for known in PROBE_COMMANDS):
        raise AssertionError(f"the probe never sends {command!r}")  # pragma: no cover
    return command


def classify(exchanges: Sequence[Exchange]) -> list[Unrecognised]:
    """The lines of the commands' outputs the parsers do not recognise (SFTP answers are the
    tool's own words, not the device's, and are not classified)."""
    found: list[Unrecognised] = []
    for exchange in exchanges:
        if not exchange.request.startswith("sftp "):
            found += unrecognised_lines(exchange.request, exchange.output)
    return found


def configured_files(status_output: str) -> list[str]:
    """The file names the status's Certificates block shows (none when it cannot be read)."""
    try:
        status = parse_cluster_status(status_output)
    except StatusParseError:
        return []
    names: list[str] = []
    for role in ("server_key", "server_cert", "client_key", "client_cert", "ca_cert"):
        ref = getattr(status.certificates, role)
        if ref is not None and ref.file not in names:
            names.append(ref.file)
    return names


def probe_node(name: str, address: str, session: ProbeSession) -> NodeProbe:
    """Read one node with the probe's commands; a failure to read becomes ``error``."""
    node = NodeProbe(name, address)
    try:
        status = session.run(_guarded(STATUS)).output
        node.exchanges.append(Exchange(STATUS, status))
        files = configured_files(status)
        for file in files:
            command = _guarded(f"{PKI_INSPECT} {file}")
            node.exchanges.append(Exchange(command, session.run(command).output))
        node.exchanges.append(Exchange(BACKUP_LIST, session.run(_guarded(BACKUP_LIST)).output))
        listing = session.list_files()
        if listing is not None:
            node.exchanges.append(Exchange(SFTP_LIST, "".join(f"{n}\n" for n in listing)))
        for file in files:
            size = session.file_size(file)
            answer = "not found" if size is None else f"{size} bytes"
            node.exchanges.append(Exchange(f"{SFTP_STAT} {file}", f"{answer}\n"))
            if size is None:
                node.notes.append(f"{file} is configured but SFTP does not find it")
    except ReconcileError as error:
        node.error = str(error)
        return node
    node.findings = classify(node.exchanges)
    return node


def probe_cluster(
    repo: Path,
    cluster: str,
    env: Mapping[str, str],
    *,
    state_dir: Path | None = None,
    anonymise: bool = False,
    now: datetime | None = None,
) -> ProbeReport:
    """Probe every node and connected call bridge of ``cluster`` in parallel and write the
    bundle."""
    when = (now or datetime.now(UTC)).astimezone(UTC)
    with open_source(repo) as source:
        spec = readable_spec(source, cluster)
        with SessionPool(spec, source, env) as pool:
            # The connected call bridges too: what their status prints is published nowhere
            # (reference §1.7), which is what a probe is for.
            targets = [
                (machine.name, machine.address, pool.session(machine))
                for machine in spec.machines()
            ]
            with ThreadPoolExecutor(max_workers=DEFAULT_PARALLELISM) as executor:
                nodes = list(executor.map(lambda target: probe_node(*target), targets))
            redactor = pool.redactor
    report = ProbeReport(cluster, when, nodes)
    known = [(machine.name, machine.address) for machine in spec.machines()]
    text = render_bundle(report, redactor, anonymiser(known, nodes) if anonymise else None)
    folder = private_dir(workdir(repo, state_dir) / "probe")
    stem = f"{cluster}-{when.strftime('%Y%m%dT%H%M%SZ')}"
    path = folder / f"{stem}.txt"
    for number in range(2, 1000):  # a second probe within the same second keeps the first
        if not path.exists():
            break
        path = folder / f"{stem}-{number}.txt"
    with open_private(path, "w") as stream:
        stream.write(text)
    report.bundle = path
    return report


# --- anonymising ---------------------------------------------------------------------------
@dataclass(frozen=True)
class Anonymiser:
    """Replaces each known name and address by its stand-in, in one pass."""

    replacements: dict[str, str]

    def apply(self, text: str) -> str:
        if not self.replacements:
            return text
        keys = sorted(self.replacements, key=len, reverse=True)
        pattern = re.compile(
            r"(?<![\w.:-])(?:" + "|".join(re.escape(key) for key in keys) + r")(?![\w:]|\.\w)"
        )
        return pattern.sub(lambda match: self.replacements[match.group(0)], text)


def anonymiser(known: Sequence[tuple[str, str]], nodes: Sequence[NodeProbe]) -> Anonymiser:
    """Stand-ins for the nodes' names (``node1``...) and addresses (RFC 5737 / RFC 3849
    documentation addresses), and for every other address the statuses list."""
    replacements: dict[str, str] = {}
    addresses: list[str] = [address for _, address in known]
    for node in nodes:
        for exchange in node.exchanges:
            if exchange.request == STATUS:
                try:
                    members = parse_cluster_status(exchange.output).members
                except StatusParseError:
                    continue
                addresses += [member.address for member in members]
    for number, (name, _) in enumerate(known, start=1):
        replacements.setdefault(name, f"node{number}")
    count = 0
    for address in addresses:
        if address in replacements:
            continue
        count += 1
        version: int = 0
        with contextlib.suppress(ValueError):
            version = ipaddress.ip_address(address.split("%")[0]).version
        replacements[address] = (
            f"2001:db8::{count:x}"
            if version == 6
            else (f"192.0.2.{count}" if version == 4 else f"host{count}.example")
        )
    return Anonymiser(replacements)


# --- the bundle ----------------------------------------------------------------------------
def render_bundle(
    report: ProbeReport, redactor: Redactor, anonymise: Anonymiser | None = None
) -> str:
    """The transcript bundle: a commented summary, then each node's exchanges, every output
    line behind ``| `` (so no output can pass for a header), redacted, maybe anonymised."""

    def clean(text: str) -> str:
        text = redactor.redact(text)
        return anonymise.apply(text) if anonymise is not None else text

    lines = [
        BUNDLE_HEADER,
        f"# cluster: {report.cluster}",
        f"# time: {report.time.strftime('%Y-%m-%dT%H:%M:%SZ')}",
        f"# anonymised: {'yes' if anonymise is not None else 'no'}",
        "# secrets (passwords, passphrases, private key blocks) are redacted",
        "",
    ]
    for node in report.nodes:
        exchanges = [Exchange(e.request, clean(e.output)) for e in node.exchanges]
        lines.append(f"== node {clean(node.name)} {clean(node.address)}")
        if node.error is not None:
            lines.append(f"# not read: {clean(node.error)}")
        for finding in classify(exchanges):
            lines.append(f"# not recognised: {finding.describe()}")
        if node.error is None and not node.findings:
            lines.append("# every line recognised")
        for exchange in exchanges:
            lines.append(f"-- {clean(exchange.request)}")
            body = exchange.output.replace("\r\n", "\n").replace("\r", "\n")
            lines += [f"| {text}".rstrip(" ") for text in body.removesuffix("\n").split("\n")]
        lines.append("")
    return "\n".join(lines)


@dataclass(frozen=True)
class BundleNode:
    name: str
    address: str
    exchanges: tuple[Exchange, ...]

    def outputs(self, request: str) -> list[str]:
        return [e.output for e in self.exchanges if e.request == request]


@dataclass(frozen=True)
class Bundle:
    cluster: str
    anonymised: bool
    nodes: tuple[BundleNode, ...]

    def node(self, name: str) -> BundleNode:
        return next(node for node in self.nodes if node.name == name)


def load_bundle(text: str) -> Bundle:
    """A bundle back into per-node, per-command outputs (for tests and bug reports).

    Raises:
        ValueError: not a probe bundle, or a line outside any node or command.
    """
    lines = text.split("\n")
    if lines[0] != BUNDLE_HEADER:
        raise ValueError("not a cms-reconciler probe bundle (first line)")
    reader = _BundleReader()
    for number, line in enumerate(lines[1:], start=2):
        if not reader.read(line):
            raise ValueError(f"probe bundle line {number} not understood: {line!r}")
    reader.close_node()
    return Bundle(reader.cluster, reader.anonymised, tuple(reader.nodes))


class _BundleReader:
    def __init__(self) -> None:
        self.cluster = ""
        self.anonymised = False
        self.nodes: list[BundleNode] = []
        self.current: tuple[str, str] | None = None
        self.exchanges: list[Exchange] = []
        self.request: str | None = None
        self.body: list[str] = []

    def read(self, line: str) -> bool:
        """File one line; False when it fits nowhere."""
        if line.startswith("#"):
            self._comment(line)
        elif line.startswith("== node "):
            self.close_node()
            name, _, address = line.removeprefix("== node ").partition(" ")
            self.current = (name, address)
        elif line.startswith("-- ") and self.current is not None:
            self.close_exchange()
            self.request = line.removeprefix("-- ")
        elif self.request is not None and (line == "|" or line.startswith("| ")):
            self.body.append(line[2:])
        elif not line:
            self.close_exchange()
        else:
            return False
        return True

    def _comment(self, line: str) -> None:
        if line.startswith("# cluster: "):
            self.cluster = line.removeprefix("# cluster: ")
        elif line.startswith("# anonymised: "):
            self.anonymised = line.removeprefix("# anonymised: ") == "yes"

    def close_exchange(self) -> None:
        if self.request is not None:
            output = "".join(f"{line}\n" for line in self.body)
            self.exchanges.append(Exchange(self.request, output))
        self.request, self.body = None, []

    def close_node(self) -> None:
        self.close_exchange()
        if self.current is not None:
            self.nodes.append(BundleNode(*self.current, tuple(self.exchanges)))
        self.current, self.exchanges = None, []


def bundle_findings(bundle: Bundle) -> dict[str, list[Unrecognised]]:
    """Replay a bundle through the parsers: each node's unrecognised lines."""
    return {node.name: classify(node.exchanges) for node in bundle.nodes}


# --- output ----------------------------------------------------------------------------
def report_lines(report: ProbeReport) -> list[str]:
    """The text report: per node, "every line recognised" or each line not recognised."""
    lines = [f"probe of cluster {report.cluster} (read-only)"]
    for node in report.nodes:
        where = f"{node.name} ({node.address})"
        if node.error is not None:
            lines.append(f"  {where}: not read: {node.error}")
            continue
        if not node.findings:
            lines.append(f"  {where}: every line recognised")
        else:
            lines.append(f"  {where}: {len(node.findings)} line(s) not recognised")
            lines += [f"    {finding.describe()}" for finding in node.findings]
        lines += [f"    note: {note}" for note in node.notes]
    if report.bundle is not None:
        lines.append(f"transcript bundle (redacted; attach it to a bug report): {report.bundle}")
    verdicts = {
        EXIT_KNOWN: "every line is one cms-reconciler knows",
        EXIT_UNKNOWN: "some lines are not known: the plan may still work, but read them "
        "(and please report them, with the bundle) before the first apply",
        EXIT_UNREACHABLE: "a node could not be read",
    }
    lines.append(verdicts[report.exit_code])
    return lines


def report_json(report: ProbeReport) -> dict[str, Any]:
    return {
        "cluster": report.cluster,
        "time": report.time.strftime("%Y-%m-%dT%H:%M:%SZ"),
        "exit_code": report.exit_code,
        "bundle": str(report.bundle) if report.bundle is not None else None,
        "nodes": [
            {
                "name": node.name,
                "address": node.address,
                "read": node.error is None,
                "error": node.error,
                "recognised": node.matches,
                "unrecognised": [
                    {
                        "command": finding.command,
                        "line_number": finding.line.number if finding.line else None,
                        "line": finding.line.text if finding.line else None,
                        "reason": finding.reason,
                    }
                    for finding in node.findings
                ],
                "notes": node.notes,
                "commands": [exchange.request for exchange in node.exchanges],
            }
            for node in report.nodes
        ],
    }
