"""``reconcile import``: describe a running cluster in git, so that the next plan is empty.

In order, and stopping at the first step that refuses (nothing is written before the end):

1. the command line and the environment: both variables set (every missing one named), the
   cluster file not there yet, the pins file readable;
2. host keys, with no login: every ``--address`` is asked for its key; a changed or revoked
   key refuses, and a key not pinned yet refuses too unless ``--trust-new-host-keys``;
3. login with the keys now pinned (in memory), and read-only reading (``reading.py``);
   Every file is read with a cap, ``validate``'s 1 MiB, asked of SFTP before reading;
4. health (``assess.py``): every reason the cluster cannot be described, at once; then the
   files' content: text outside the PEM blocks of a certificate or key refuses;
5. the draft (``describe.py``), and the files already in the repository: the same content
   is kept, different content refuses;
6. ``validate``'s own checks (``load_cluster``, not a copy) on exactly what would be written,
   laid over the working tree in memory: any error refuses, naming the file and its nodes;
7. writing: certificate files and encrypted keys, the new pins, the schema if missing, and
   the cluster file last.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping, Sequence
from contextlib import ExitStack
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from reconciler.desired.bundle import ROLE_LABEL
from reconciler.desired.findings import SpecFinding
from reconciler.desired.loader import load_cluster
from reconciler.desired.models import ENV_NAME_PATTERN, NAME_PATTERN
from reconciler.desired.schema import SCHEMA_FILE, render_schema
from reconciler.desired.source import OverlaySource, cluster_file, open_source
from reconciler.errors import ConfigError, ImportRefused, KeyProblem
from reconciler.mmp import known_hosts as kh
from reconciler.mmp.session import MMPShell, SSHSession, redactor_for
from reconciler.mmp.transport import (
    Credentials,
    Endpoint,
    KnownHosts,
    SSHTransport,
    TransportTimeouts,
    scan_host_key,
)
from reconciler.onboard.assess import content_refusals, refusals
from reconciler.onboard.describe import Draft, DraftFile, ImportSettings, Note, describe
from reconciler.onboard.hostkeys import (
    NodeHostKey,
    PinState,
    Scanner,
    append_pins,
    load_pins,
    pins_after,
    read_pins_text,
    scan_nodes,
)
from reconciler.onboard.keys import upload_sha256_of_encrypted
from reconciler.onboard.reading import NodeReading, ReadTarget, read_nodes
from reconciler.repo_root import repo_file

EXIT_INCOMPLETE = 2
"""Written, but notes say what to do before the next plan can be empty."""


@dataclass(frozen=True)
class ImportRequest:
    repo: Path
    settings: ImportSettings
    addresses: tuple[str, ...]
    trust_new_host_keys: bool = False


@dataclass(frozen=True)
class Written:
    path: str
    what: str


@dataclass(frozen=True)
class ImportReport:
    request: ImportRequest
    draft: Draft
    written: tuple[Written, ...]
    kept: tuple[str, ...]
    """Files that were already there with the content the cluster file needs."""
    notes: tuple[Note, ...]

    @property
    def complete(self) -> bool:
        return not any(note.blocks_empty_plan for note in self.notes)


def run_import(
    request: ImportRequest,
    env: Mapping[str, str],
    *,
    scan: Scanner = scan_host_key,
    timeouts: TransportTimeouts | None = None,
    now: datetime | None = None,
) -> ImportReport:
    """Read the cluster at ``request.addresses`` and write what git should hold."""
    settings = request.settings
    password, passphrase = _secrets(settings, env)
    _check_request(request)
    timeouts = timeouts or TransportTimeouts()
    pins, pins_text = _pins(request)
    new_pins = _host_keys(request, pins, timeouts, scan)
    if new_pins:
        pins = KnownHosts.parse(
            pins_text
            + ("\n" if pins_text and not pins_text.endswith("\n") else "")
            + "\n".join(new_pins)
            + "\n",
            settings.known_hosts,
        )
    credentials = Credentials(password=password, password_env=settings.password_env)
    readings = _read(request, pins, credentials, timeouts, [password, passphrase])
    return import_readings(request, readings, env, new_pins, now or datetime.now(UTC))


def import_readings(
    request: ImportRequest,
    readings: Sequence[NodeReading],
    env: Mapping[str, str],
    new_pins: Sequence[str],
    moment: datetime,
) -> ImportReport:
    """Steps 4 to 7, from what was read (``env`` holds the passphrase; ``new_pins`` are the
    lines to pin)."""
    settings = request.settings
    passphrase = env[settings.key_passphrase_env]
    unread = [reading.error for reading in readings if reading.error]
    if unread:
        raise ImportRefused(
            f"cannot read every node of cluster {settings.cluster} (nothing was written):\n  - "
            + "\n  - ".join(unread)
        )
    reasons = refusals(readings, moment)
    if reasons:
        raise ImportRefused(
            f"cluster {settings.cluster} cannot be imported: it is not healthy enough to "
            "describe (nothing was written):\n  - " + "\n  - ".join(reasons)
        )
    reasons = content_refusals(readings)
    if reasons:
        raise ImportRefused(
            f"cluster {settings.cluster} cannot be imported: files on its nodes cannot be kept "
            "in git as they are (nothing was written):\n  - " + "\n  - ".join(reasons)
        )
    draft = describe(readings, settings, passphrase, moment)
    to_write, kept, notes = _against_repository(request.repo, draft, passphrase)
    _as_validate_sees_it(request, draft, to_write, new_pins, env, moment)
    written = _write(request, draft, to_write, new_pins)
    return ImportReport(request, draft, tuple(written), tuple(kept), tuple(notes))


# --- 1. request and environment -----------------------------------------------------------


def _secrets(settings: ImportSettings, env: Mapping[str, str]) -> tuple[str, str]:
    named = (
        (settings.password_env, "--password-env", "the SSH password"),
        (settings.key_passphrase_env, "--key-passphrase-env", "the passphrase for the keys"),
    )
    bad = [
        f"{option} {name!r} is not a variable name (give the NAME of the variable, never the "
        "secret itself)"
        for name, option, _ in named
        if not re.fullmatch(ENV_NAME_PATTERN, name)
    ]
    if bad:
        raise ConfigError("; ".join(bad))
    missing = [f"{name} ({option}: {what})" for name, option, what in named if not env.get(name)]
    if missing:
        raise ConfigError(
            "environment variable"
            + (" not set or empty: " if len(missing) == 1 else "s not set or empty: ")
            + ", ".join(missing)
            + "; export "
            + ("it" if len(missing) == 1 else "them")
            + " and run the import again"
        )
    return env[settings.password_env], env[settings.key_passphrase_env]


def _check_request(request: ImportRequest) -> None:
    settings = request.settings
    if not re.fullmatch(NAME_PATTERN, settings.cluster):
        raise ConfigError(
            f"--cluster {settings.cluster!r} is not a cluster name (letters, digits, '_' and "
            "'-', starting with a letter or digit)"
        )
    if not settings.username.strip():
        raise ConfigError("--username is empty; give the MMP user to log in as")
    if not request.addresses:
        raise ConfigError("give every node of the cluster with --address (its SSH address)")
    seen: set[str] = set()
    for address in request.addresses:
        if not address or any(char.isspace() or char in "/[]" for char in address):
            raise ConfigError(f"--address {address!r} is not a host name or address")
        if address in seen:
            raise ConfigError(f"--address {address} is given twice")
        seen.add(address)
    path = cluster_file(settings.cluster)
    if repo_file(request.repo, path).exists():
        raise ImportRefused(
            f"{path} already exists in {request.repo}; the import never overwrites a cluster "
            "file (move it away to import again, or use `reconcile plan` to compare it)"
        )


def _pins(request: ImportRequest) -> tuple[KnownHosts, str]:
    try:
        return load_pins(request.repo, request.settings.known_hosts)
    except ConfigError as error:
        raise ImportRefused(f"the pinned host keys cannot be used: {error}") from error


# --- 2. host keys, before any login -------------------------------------------------------


def _host_keys(
    request: ImportRequest, pins: KnownHosts, timeouts: TransportTimeouts, scan: Scanner
) -> list[str]:
    """The lines to pin; refuses unless every key is pinned or may be trusted."""
    settings = request.settings
    targets = [
        (address, Endpoint(address, address, settings.port, settings.username))
        for address in request.addresses
    ]
    keys = scan_nodes(targets, pins, timeouts, scan)
    unreachable = [key for key in keys if key.verdict is None]
    if unreachable:
        raise ImportRefused(
            "cannot reach every node (nothing was sent, nothing written):\n  - "
            + "\n  - ".join(f"{key.error}" for key in unreachable)
        )
    bad = [key for key in keys if _state(key) in (PinState.CHANGED, PinState.REVOKED)]
    if bad:
        raise ImportRefused(
            "host key refused before logging in (nothing was sent, nothing written):\n  - "
            + "\n  - ".join(
                f"{key.name}: {key.key.key_type if key.key else ''} "
                f"{key.key.fingerprint if key.key else ''} is {_state(key).value}: "
                f"{key.verdict.detail if key.verdict else ''}"
                for key in bad
            )
        )
    new = [key for key in keys if _state(key) is PinState.NOT_PINNED]
    if new and not request.trust_new_host_keys:
        raise ImportRefused(_unpinned_message(new, settings.known_hosts, settings.port))
    return [key.line for key in new if key.line is not None]


def _state(key: NodeHostKey) -> PinState:
    assert key.verdict is not None
    return key.verdict.state


def _unpinned_message(keys: Sequence[NodeHostKey], pins_file: str, port: int) -> str:
    listing = "\n".join(
        f"  {key.name}  {key.key.key_type} {key.key.fingerprint}" for key in keys if key.key
    )
    lines = "\n".join(f"  {key.line}" for key in keys)
    return (
        "host keys not pinned yet; the import stopped before logging in (no password was sent, "
        f"nothing written). Host keys are never trusted silently:\n{listing}\n"
        "Check each fingerprint against one obtained over a path you trust, not over this "
        f"connection: {kh.fingerprint_source(port)}. If they match, run the import again with "
        f"--trust-new-host-keys (it pins them), or add these lines to {pins_file} "
        f"yourself:\n{lines}"
    )


# --- 3. reading ---------------------------------------------------------------------------


def _read(
    request: ImportRequest,
    pins: KnownHosts,
    credentials: Credentials,
    timeouts: TransportTimeouts,
    secrets: list[str],
) -> list[NodeReading]:
    settings = request.settings
    redactor = redactor_for(secrets)
    with ExitStack() as stack:
        targets = []
        for address in request.addresses:
            endpoint = Endpoint(address, address, settings.port, settings.username)
            transport = SSHTransport(endpoint, credentials, pins, timeouts)
            shell = MMPShell(transport, None, command_timeout=timeouts.command, redactor=redactor)
            session = SSHSession(transport, shell)
            stack.callback(session.close)
            targets.append(
                ReadTarget(address, settings.port, session, _hostname_of(shell), transport)
            )
        return read_nodes(targets)


def _hostname_of(shell: MMPShell) -> Callable[[], str | None]:
    return lambda: shell.hostname


# --- 5. what the repository already holds -------------------------------------------------


def _against_repository(
    repo: Path, draft: Draft, passphrase: str
) -> tuple[list[DraftFile], list[str], list[Note]]:
    """Files to write, files already there with the same content, and the notes."""
    to_write: list[DraftFile] = []
    kept: list[str] = []
    notes = list(draft.notes)
    conflicts: list[str] = []
    for file in draft.files:
        target = repo_file(repo, file.path)
        if not target.exists():
            if file.data is not None:
                to_write.append(file)
            continue
        if file.data is None:
            notes.append(
                Note(
                    f"{file.path} is already there; `reconcile validate` checks that it is the "
                    "file the nodes use",
                    blocks_empty_plan=False,
                )
            )
            continue
        if _same_content(target, file, passphrase):
            kept.append(file.path)
        else:
            conflicts.append(
                f"{file.path} already exists with other content than the "
                f"{ROLE_LABEL[file.roles[0]]} {file.remote_name} of "
                f"{', '.join(file.nodes)}"
            )
    if conflicts:
        raise ImportRefused(
            "the import never overwrites a file (nothing was written):\n  - "
            + "\n  - ".join(conflicts)
            + "\n  Move those files away, or import under another --cluster name"
        )
    return to_write, kept, notes


def _same_content(target: Path, file: DraftFile, passphrase: str) -> bool:
    if not target.is_file():
        return False
    data = target.read_bytes()
    if not file.is_key:
        return data == file.data
    try:
        return upload_sha256_of_encrypted(data, passphrase) == file.upload_sha256
    except KeyProblem:
        return False


# --- 6. what validate would say ------------------------------------------------------------


def _as_validate_sees_it(
    request: ImportRequest,
    draft: Draft,
    to_write: Sequence[DraftFile],
    new_pins: Sequence[str],
    env: Mapping[str, str],
    moment: datetime,
) -> None:
    """Load the cluster as ``validate`` does, from the working tree with every file the import
    would write laid over it in memory; refuse on any error. A file the import could not read
    (and so does not write) is missing there: that is a note already, not a refusal."""
    repo, settings = request.repo, request.settings
    files = {file.path: file.data for file in to_write if file.data is not None}
    files[draft.cluster_path] = draft.cluster_yaml.encode()
    addition, appended = pins_after(read_pins_text(repo, settings.known_hosts), new_pins)
    if appended:
        pins = repo_file(repo, settings.known_hosts)
        files[settings.known_hosts] = (pins.read_bytes() if pins.exists() else b"") + (
            addition.encode()
        )
    if not repo_file(repo, SCHEMA_FILE).exists():
        files[SCHEMA_FILE] = render_schema().encode()
    with open_source(repo) as base:
        overlay = OverlaySource(base, files, "the files `reconcile import` would write")
        result = load_cluster(overlay, settings.cluster, env, moment)
        missing = [
            f"{file.path} does not exist in {overlay.describe()}"
            for file in draft.files
            if file.data is None
        ]
    errors = [
        finding
        for finding in result.findings
        if finding.is_error and not any(text in finding.message for text in missing)
    ]
    if errors:
        raise ImportRefused(
            f"what the import would write for cluster {settings.cluster} does not pass "
            "`reconcile validate`, so no plan could use it (nothing was written):\n  - "
            + "\n  - ".join(_finding_text(finding, draft) for finding in errors)
            + "\n  Fix that on the nodes and import again, or write the cluster file by hand "
            "(README: Add a cluster) and let `reconcile plan` show the change"
        )


def _finding_text(finding: SpecFinding, draft: Draft) -> str:
    """The finding, and where its file came from (the nodes and their file name)."""
    text = finding.describe()
    by_length = sorted(draft.files, key=lambda file: -len(file.path))
    file = next((file for file in by_length if file.path in finding.message), None)
    if file is not None:
        return f"{text} (read as {file.remote_name} from {', '.join(file.nodes)})"
    if finding.node is not None:
        names = [node.name for node in draft.spec.nodes if node.address == finding.node]
        return f"{text} (node {', '.join(names) or finding.node})"
    return text


# --- 7. writing ---------------------------------------------------------------------------


def _write(
    request: ImportRequest, draft: Draft, files: Sequence[DraftFile], new_pins: Sequence[str]
) -> list[Written]:
    repo, settings = request.repo, request.settings
    written: list[Written] = []
    for file in files:
        assert file.data is not None
        _create(repo, file.path, file.data)
        labels = " and ".join(ROLE_LABEL[role] for role in file.roles)
        if file.is_key:
            labels += f", encrypted with ${settings.key_passphrase_env}"
        written.append(Written(file.path, f"{labels}; used by {', '.join(file.nodes)}"))
    appended = append_pins(repo, settings.known_hosts, new_pins)
    if appended:
        written.append(
            Written(
                settings.known_hosts,
                f"{len(appended)} host key{'s' if len(appended) != 1 else ''} pinned",
            )
        )
    if not repo_file(repo, SCHEMA_FILE).exists():
        _create(repo, SCHEMA_FILE, render_schema().encode())
        written.append(Written(SCHEMA_FILE, "JSON Schema the cluster file's first line names"))
    _create(repo, draft.cluster_path, draft.cluster_yaml.encode())
    written.insert(0, Written(draft.cluster_path, "the cluster file"))
    return written


def _create(repo: Path, path: str, data: bytes) -> None:
    """Write a new file (never over an existing one) from bytes already in memory."""
    target = repo_file(repo, path)
    target.parent.mkdir(parents=True, exist_ok=True)
    try:
        with target.open("xb") as handle:
            handle.write(data)
    except FileExistsError:
        raise ImportRefused(f"{path} appeared while importing; it was not overwritten") from None


# --- output -------------------------------------------------------------------------------


def render_report(report: ImportReport) -> str:
    """What was written, what to look at, and the next steps."""
    request, spec = report.request, report.draft.spec
    settings = request.settings
    master = spec.master_node()
    out = [
        f"imported cluster {spec.name}: {len(spec.nodes)} nodes, master "
        f"{master.name if master else '?'} ({spec.master})",
        "wrote:",
        *(f"  {item.path}  ({item.what})" for item in report.written),
    ]
    if report.kept:
        out += ["kept (already there, same content):", *(f"  {path}" for path in report.kept)]
    if report.notes:
        out += ["notes:", *(f"  - {note.text}" for note in report.notes)]
    repo = "" if request.repo == Path(".") else f" --repo {request.repo}"
    paths = " ".join(
        dict.fromkeys(
            [report.draft.cluster_path, f"certs/{spec.name}", settings.known_hosts]
            + [item.path for item in report.written if item.path == SCHEMA_FILE]
        )
    )
    out += [
        "next steps:",
        "  1. review the files above (the node names, the master, the certificate files)",
        f"  2. reconcile validate --cluster {spec.name}{repo}   "
        f"(with ${settings.key_passphrase_env} set)",
        f"  3. reconcile plan --cluster {spec.name}{repo}   "
        f"(with ${settings.password_env} and ${settings.key_passphrase_env} set; "
        + (
            "expect no changes, exit 0)"
            if report.complete
            else "not empty until the notes above are dealt with)"
        ),
        f"  4. git add {paths} && git commit",
    ]
    if not report.complete:
        out.append("the import is incomplete: see the notes (exit 2)")
    return "\n".join(out)
