"""Which clusters a change touches: ``reconcile clusters [--changed-since GITREF]``.

A pull-request or merge job plans only the clusters whose desired state changed, one matrix
job each, and gives each job only the secrets it names. A cluster's desired state is, for this
purpose, what git can see of it:

- its YAML, ``clusters/<name>.yaml``;
- every certificate file it names: the five paths under ``certs:`` and every path under a
  node's ``certs:`` override. The private keys, which ``key_passphrase_env`` decrypts, are
  among them. A file that is a symlink in git counts with every link it goes through;
- its pinned host keys, in the file ``ssh.known_hosts`` names. That file is usually shared
  by every cluster, so a change there counts only for the clusters whose pins changed: the
  pins are compared with the parser and host matching the transport uses
  (``reconciler.mmp.known_hosts``), and a changed pin counts for a cluster when one of its
  nodes' ``[ssh_host]:ssh_port`` (or ``ssh_host`` on port 22) matches the line, a changed
  ``@revoked`` line when one of its nodes has that key pinned. Only when that cannot be told
  reliably does the change count for every cluster using the file: the file was created,
  deleted or is a symlink, or either version has a line the parser refuses (the transport
  then refuses the whole file, for every cluster). Comments and the comment field of a pin
  are not pins: changing them changes nothing.

"Changed since" is the tree diff between ``GITREF`` and ``HEAD``: committed changes only, as a
CI job on a clean checkout sees them. Uncommitted changes do not count (they are not what the
job will plan, and the workflows run on clean checkouts); a note on stderr says when there are
some. A renamed file counts under both names. Desired state is read from ``HEAD`` then, so
that the list and the diff describe the same commit; without ``--changed-since`` every
cluster of the working tree is listed, as every other command reads it.

A cluster file that does not load (bad YAML, a structural error) is always listed, changed or
not, with whatever it names unknown: its plan job then fails loudly instead of being skipped.
A cluster file deleted (or renamed away) since ``GITREF`` is not listed, as there is nothing to
plan; a note on stderr says so.
"""

from __future__ import annotations

import posixpath
import re
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import git

from reconciler.ci.github import ZERO_SHA
from reconciler.desired.loader import NO_CLUSTERS_HINT, load_spec
from reconciler.desired.models import ClusterSpec
from reconciler.desired.source import (
    CLUSTER_SUFFIX,
    CLUSTERS_DIR,
    DesiredSource,
    GitRefSource,
    WorkingTreeSource,
    cluster_file,
    open_source,
)
from reconciler.desired.trust import ClusterAccess, SecretSlot, secret_slots
from reconciler.desired.trusted_source import read_access
from reconciler.errors import ConfigError
from reconciler.mmp.known_hosts import HostKeyLine, Marker, host_key_name, parse_known_hosts
from reconciler.mmp.models import CertRole

_CLUSTER_FILE = re.compile(rf"{CLUSTERS_DIR}/([^/]+){re.escape(CLUSTER_SUFFIX)}")
_SYMLINK_MODE = 0o120000
_MAX_SYMLINKS = 8


# --- the pure core -----------------------------------------------------------------------


@dataclass(frozen=True)
class ClusterInputs:
    """What one cluster's plan depends on, as far as git can see, and the secrets it needs."""

    name: str
    file: str
    env: tuple[str, ...]
    """Environment variables its plan job must provide, in the order the YAML names them."""
    paths: frozenset[str]
    """Repo-relative files: any change to one of them changes the cluster."""
    known_hosts: str | None = None
    """The pins file, compared pin by pin for ``host_names`` (None: not compared)."""
    host_names: tuple[str, ...] = ()
    """Each node as known_hosts names it: ``host`` on port 22, else ``[host]:port``."""
    loaded: bool = True
    """False when the YAML does not load: nothing above is known, and it always counts."""
    secrets: tuple[SecretSlot, ...] = ()
    """The fixed secret names of CI that feed ``env`` (``desired.trust.secret_slots``)."""
    problem: str | None = None
    """Why ``secrets`` could not be made (too many passphrase variables), for the listing."""


@dataclass(frozen=True)
class PinFileVersions:
    """The text of one known_hosts file before and after (None: it did not exist)."""

    old: str | None
    new: str | None


@dataclass(frozen=True)
class ChangeSet:
    """Changed paths (both names of a rename) and, for pins files among them, both texts."""

    paths: frozenset[str]
    pin_files: Mapping[str, PinFileVersions] = field(default_factory=dict)


def required_env(spec: ClusterSpec) -> tuple[str, ...]:
    """``ssh.password_env``, ``ssh.key_file_env``, then every ``key_passphrase_env``, once each."""
    names = [spec.ssh.password_env, spec.ssh.key_file_env, spec.certs.key_passphrase_env]
    names += [node.certs.key_passphrase_env for node in spec.nodes if node.certs is not None]
    return tuple(dict.fromkeys(name for name in names if name is not None))


def cluster_inputs(name: str, spec: ClusterSpec | None) -> ClusterInputs:
    """The inputs of the cluster file ``name``; ``spec`` None when it does not load."""
    file = cluster_file(name)
    if spec is None:
        return ClusterInputs(name=name, file=file, env=(), paths=frozenset({file}), loaded=False)
    paths = {file, *(spec.certs.file(role).path for role in CertRole)}
    for node in spec.nodes:
        if node.certs is not None:
            paths.update(cert.path for role in CertRole if (cert := node.certs.file(role)))
    try:
        secrets, problem = secret_slots(spec), None
    except ConfigError as error:
        secrets, problem = (), str(error)
    return ClusterInputs(
        name=name,
        file=file,
        env=required_env(spec),
        secrets=secrets,
        problem=problem,
        paths=frozenset(paths),
        known_hosts=spec.ssh.known_hosts,
        host_names=tuple(
            host_key_name(node.effective_ssh_host, spec.ssh_port_of(node)) for node in spec.nodes
        ),
    )


def cluster_changed(cluster: ClusterInputs, changes: ChangeSet) -> bool:
    """Whether ``changes`` touch what ``cluster`` depends on (see the module docstring)."""
    if not cluster.loaded or cluster.paths & changes.paths:
        return True
    if cluster.known_hosts is None or cluster.known_hosts not in changes.paths:
        return False
    versions = changes.pin_files.get(cluster.known_hosts)
    return versions is None or pins_changed(versions, cluster.host_names)


def changed_clusters(clusters: Sequence[ClusterInputs], changes: ChangeSet) -> list[ClusterInputs]:
    """The clusters that ``changes`` touch, in the given order."""
    return [cluster for cluster in clusters if cluster_changed(cluster, changes)]


def pins_changed(versions: PinFileVersions, host_names: Iterable[str]) -> bool:
    """Whether the pins that matter to nodes named ``host_names`` differ between the versions.

    True whenever it cannot be told: a version missing, or a line either version refuses.
    """
    if versions.old is None or versions.new is None:
        return True
    old, new = parse_known_hosts(versions.old), parse_known_hosts(versions.new)
    if old.problems or new.problems:
        return True
    names = tuple(host_names)
    pinned = {pin.blob for name in names for pin in (*old.pins(name), *new.pins(name))}
    for line in _changed_lines(old.lines, new.lines):
        if line.marker is Marker.REVOKED:
            if line.blob in pinned:
                return True
        elif any(line.matches(name) for name in names):
            return True
    return False


def _changed_lines(old: Sequence[HostKeyLine], new: Sequence[HostKeyLine]) -> list[HostKeyLine]:
    """Lines added or removed, ignoring order, line numbers and comments."""

    def identity(line: HostKeyLine) -> tuple[Any, ...]:
        return (line.marker, line.hosts, line.key_type, line.blob)

    before = Counter(identity(line) for line in old)
    after = Counter(identity(line) for line in new)
    changed = (before - after) + (after - before)
    return [line for line in (*old, *new) if changed[identity(line)]]


# --- the git shell -----------------------------------------------------------------------


@dataclass(frozen=True)
class ClusterListing:
    """The clusters to plan, what they were compared with, and notes for stderr."""

    clusters: tuple[ClusterInputs, ...]
    where: str
    since: str | None = None
    notes: tuple[str, ...] = ()
    removed: tuple[str, ...] = ()
    """Clusters whose file was deleted (or renamed away) since ``since``."""
    last_change: Mapping[str, str] = field(default_factory=dict)
    """For each listed cluster, the newest commit since ``since`` that changed it."""
    access: Mapping[str, ClusterAccess] | None = None
    """With ``--trusted-ref``: each cluster's access there (its ``env`` and secrets)."""


def list_clusters(
    repo: Path,
    changed_since: str | None = None,
    *,
    ref: str | None = None,
    trusted_ref: str | None = None,
) -> ClusterListing:
    """Every cluster of the working tree (or of ``ref``), or those changed between
    ``changed_since`` and ``ref`` (HEAD by default); with ``trusted_ref``, the variables each
    needs are the ones its cluster file names at that commit (``desired.trust``).

    Raises ``ConfigError`` for a ref that names no commit (or GitHub's all-zero SHA), a
    directory outside git, or a repository without a commit.
    """
    if changed_since is None:
        with open_source(repo, ref) as source:
            inputs = tuple(_inputs(source, name) for name in source.cluster_names())
            listing = ClusterListing(clusters=inputs, where=source.describe())
    else:
        _check_ref_text(changed_since)
        if not repo.is_dir():
            raise ConfigError(f"repository directory {repo} does not exist")
        try:
            repository = git.Repo(repo, search_parent_directories=True)
        except (git.InvalidGitRepositoryError, git.NoSuchPathError):
            raise ConfigError(
                f"--changed-since needs a git repository, and {repo} is not in one"
            ) from None
        try:
            listing = _changed_since(repository, repo, changed_since, ref)
        finally:
            repository.close()
    if trusted_ref is None:
        return listing
    return replace(listing, access=_trusted_access(repo, listing, ref, trusted_ref))


def _trusted_access(
    repo: Path, listing: ClusterListing, ref: str | None, trusted_ref: str
) -> dict[str, ClusterAccess]:
    with open_source(repo, ref) as source, open_source(repo, trusted_ref) as trusted:
        return {
            cluster.name: read_access(
                cluster.name, load_spec(source, cluster.name).spec, source, trusted
            )
            for cluster in listing.clusters
        }


def select(listing: ClusterListing, names: Sequence[str]) -> ClusterListing:
    """Only the named clusters (all when none is named); a name with no cluster file is an
    error, so that a typo in a workflow input fails instead of applying nothing."""
    if not names:
        return listing
    with_file = {cluster.name for cluster in listing.clusters}
    unknown = [name for name in names if name not in with_file]
    if unknown and listing.since is None:
        raise ConfigError(
            f"no cluster file for {', '.join(unknown)} in {listing.where} "
            + (
                f"(clusters: {', '.join(sorted(with_file))})"
                if with_file
                else f"(clusters: none): {NO_CLUSTERS_HINT}"
            )
        )
    wanted = set(names)
    return replace(listing, clusters=tuple(c for c in listing.clusters if c.name in wanted))


def _check_ref_text(ref: str) -> None:
    if not ref.strip():
        raise ConfigError(
            "--changed-since is empty (an unset github.event.before?): give a commit, or omit "
            "--changed-since to list every cluster"
        )
    if ZERO_SHA.fullmatch(ref.strip()):
        raise ConfigError(
            f"--changed-since {ref} is the all-zero SHA, which GitHub gives as "
            "github.event.before when a push creates a branch (there is no commit before it): "
            "omit --changed-since to list every cluster"
        )


def _inputs(source: DesiredSource, name: str) -> ClusterInputs:
    return cluster_inputs(name, load_spec(source, name).spec)


@dataclass(frozen=True)
class _Diff:
    """A tree diff, paths relative to the ``--repo`` directory."""

    paths: frozenset[str]
    gone: tuple[tuple[str, str | None], ...]
    """(old path, new path or None) of every deleted or renamed file."""


def _commit(repository: git.Repo, root: Path, ref: str, option: str) -> Any:
    try:
        return repository.commit(ref)
    except Exception:  # gitdb BadName/BadObject, ValueError: all mean "no such commit"
        shallow = (Path(repository.git_dir) / "shallow").exists()
        hint = (
            "this clone is shallow: fetch it first (actions/checkout with fetch-depth: 0)"
            if shallow
            else "if it is a branch of a remote, fetch it first (git fetch origin main)"
        )
        raise ConfigError(f"{option} {ref!r} does not name a commit in {root}; {hint}") from None


def _changed_since(
    repository: git.Repo, root: Path, since_ref: str, head_ref: str | None
) -> ClusterListing:
    if head_ref is None:
        try:
            head: Any = repository.head.commit
        except ValueError:
            raise ConfigError(
                f"the repository of {root} has no commit yet; --changed-since compares commits"
            ) from None
    else:
        head = _commit(repository, root, head_ref, "--ref")
    base: Any = _commit(repository, root, since_ref, "--changed-since")
    prefix = _prefix(repository, root)
    diff = _tree_diff(repository, base.hexsha, head.hexsha, prefix)
    names, changed = _changed_at(repository, root, prefix, base, head, diff)
    since = f"{since_ref} ({base.hexsha[:12]})"
    notes = [*_gone_notes(diff, set(names), since_ref)]
    if head_ref is None:
        notes += _uncommitted_note(root)
    return ClusterListing(
        clusters=tuple(changed),
        where=f"commit {head.hexsha[:12]} ({head_ref or 'HEAD'})",
        since=since,
        notes=tuple(notes),
        removed=_removed(diff, set(names)),
        last_change={
            cluster.name: _last_change(repository, root, prefix, base, head, cluster.name)
            for cluster in changed
        },
    )


def _changed_at(
    repository: git.Repo, root: Path, prefix: str, base: Any, head: Any, diff: _Diff
) -> tuple[list[str], list[ClusterInputs]]:
    """The cluster names at ``head``, and those of them that ``diff`` (base..head) changes."""
    with GitRefSource(root, head.hexsha) as at_head:
        names = at_head.cluster_names()
        clusters = [_with_symlinks(_inputs(at_head, name), head.tree, prefix) for name in names]
    pin_files = {
        path: PinFileVersions(_text(base.tree, prefix, path), _text(head.tree, prefix, path))
        for path in {c.known_hosts for c in clusters if c.known_hosts} & diff.paths
    }
    return names, changed_clusters(clusters, ChangeSet(diff.paths, pin_files))


def _last_change(
    repository: git.Repo, root: Path, prefix: str, base: Any, head: Any, name: str
) -> str:
    """The newest commit on the first-parent line from ``base`` (excluded) to ``head`` whose
    own change (against its first parent) changes cluster ``name``: for apply, "superseded
    by" that commit when it is not the one being applied."""
    listed = str(repository.git.rev_list("--first-parent", f"{base.hexsha}..{head.hexsha}"))
    for sha in listed.split():
        commit: Any = repository.commit(sha)
        parent = commit.parents[0] if commit.parents else None
        if parent is None:
            return str(commit.hexsha)
        diff = _tree_diff(repository, parent.hexsha, commit.hexsha, prefix)
        _, changed = _changed_at(repository, root, prefix, parent, commit, diff)
        if any(cluster.name == name for cluster in changed):
            return str(commit.hexsha)
    return str(head.hexsha)


def _prefix(repository: git.Repo, root: Path) -> str:
    """``root`` relative to the top of the git working tree ('' at the top)."""
    top = repository.working_tree_dir
    if top is None:
        return ""
    relative = root.resolve().relative_to(Path(top).resolve()).as_posix()
    return "" if relative == "." else relative


def _full(prefix: str, path: str) -> str:
    return posixpath.normpath(posixpath.join(prefix, path)) if prefix else path


def _relative(prefix: str, full: str) -> str:
    """``full`` (from the top of git) relative to ``prefix``; ``../`` for paths outside it."""
    if not prefix:
        return full
    if full.startswith(f"{prefix}/"):
        return full[len(prefix) + 1 :]
    # Not posixpath.relpath: it consults the process's current directory.
    above = prefix.split("/")
    shared = 0
    for ours, theirs in zip(above, full.split("/"), strict=False):
        if ours != theirs:
            break
        shared += 1
    return "/".join([".."] * (len(above) - shared) + full.split("/")[shared:])


def _tree_diff(repository: git.Repo, base: str, head: str, prefix: str) -> _Diff:
    """``git diff-tree`` (plumbing: no user diff settings apply), renames detected."""
    output = str(repository.git.diff_tree("-r", "-z", "--name-status", "-M", base, head))
    fields = output.split("\0")
    paths: set[str] = set()
    gone: list[tuple[str, str | None]] = []
    index = 0
    while index < len(fields):
        status = fields[index].strip()
        if not status:
            index += 1
            continue
        if status[0] in "RC":
            old, new = fields[index + 1], fields[index + 2]
            index += 3
        else:
            old = new = fields[index + 1]
            index += 2
        paths.update((_relative(prefix, old), _relative(prefix, new)))
        if status[0] == "D":
            gone.append((_relative(prefix, old), None))
        elif status[0] == "R":
            gone.append((_relative(prefix, old), _relative(prefix, new)))
    return _Diff(frozenset(paths), tuple(gone))


def _with_symlinks(inputs: ClusterInputs, tree: Any, prefix: str) -> ClusterInputs:
    """Add the files symlinks lead to; a symlinked pins file is no longer compared by pin."""
    if not inputs.loaded:
        return inputs
    paths = set(inputs.paths)
    for path in inputs.paths:
        paths.update(_link_targets(tree, prefix, path))
    known_hosts = inputs.known_hosts
    if known_hosts is not None and (targets := _link_targets(tree, prefix, known_hosts)):
        paths.update((known_hosts, *targets))
        known_hosts = None
    return replace(inputs, paths=frozenset(paths), known_hosts=known_hosts)


def _link_targets(tree: Any, prefix: str, path: str) -> list[str]:
    """The paths that the symlink ``path`` leads through, in order; [] for a plain file."""
    full = _full(prefix, path)
    targets: list[str] = []
    for _ in range(_MAX_SYMLINKS):
        try:
            item = tree / full
        except KeyError:
            break
        if item.type != "blob" or item.mode != _SYMLINK_MODE:
            break
        link = bytes(item.data_stream.read()).decode("utf-8", "replace")
        if posixpath.isabs(link):
            break
        full = posixpath.normpath(posixpath.join(posixpath.dirname(full), link))
        if full == ".." or full.startswith("../"):
            break
        targets.append(_relative(prefix, full))
    return targets


def _text(tree: Any, prefix: str, path: str) -> str | None:
    """A file's text in ``tree`` (decoded as the access check does); None if not a file."""
    try:
        item = tree / _full(prefix, path)
    except KeyError:
        return None
    if item.type != "blob":
        return None
    return bytes(item.data_stream.read()).decode("utf-8", "replace")


def _gone_notes(diff: _Diff, names: set[str], ref: str) -> list[str]:
    notes: list[str] = []
    for old, new in diff.gone:
        match = _CLUSTER_FILE.fullmatch(old)
        if match is None or match.group(1) in names:
            continue
        how = "deleted" if new is None else f"renamed to {new}"
        notes.append(
            f"{old} was {how} since {ref}: cluster {match.group(1)} is not listed "
            "(nothing to plan; its nodes are left as they are)"
        )
    return notes


def _removed(diff: _Diff, names: set[str]) -> tuple[str, ...]:
    removed = []
    for old, _new in diff.gone:
        match = _CLUSTER_FILE.fullmatch(old)
        if match is not None and match.group(1) not in names:
            removed.append(match.group(1))
    return tuple(sorted(set(removed)))


def _uncommitted_note(root: Path) -> list[str]:
    dirty = WorkingTreeSource(root).dirty_paths
    if not dirty:
        return []
    return [
        f"{len(dirty)} uncommitted change(s) in {root} are not counted: --changed-since "
        "compares commits (commit them to include them)"
    ]


# --- output ------------------------------------------------------------------------------


def listing_json(listing: ClusterListing) -> dict[str, Any]:
    """``{"clusters": [{"name", "file", "env", "secrets"}]}``: a GitHub Actions matrix via
    fromJSON. With ``--changed-since``, each cluster's ``last_change`` and the ``removed``
    clusters; with ``--trusted-ref``, ``env`` and ``secrets`` from there, ``trusted`` and
    ``access_changes``."""
    clusters = []
    for cluster in listing.clusters:
        env, secrets = cluster.env, cluster.secrets
        entry: dict[str, Any] = {"name": cluster.name, "file": cluster.file}
        access = listing.access.get(cluster.name) if listing.access is not None else None
        if listing.access is not None:
            trusted = access.spec if access is not None else None
            env = required_env(trusted) if trusted is not None else ()
            secrets = secret_slots(trusted) if trusted is not None else ()
        entry["env"] = list(env)
        entry["secrets"] = [
            {"secret": slot.secret, "env": slot.env, "file": slot.file} for slot in secrets
        ]
        if listing.access is not None:
            entry["trusted"] = access is not None and access.contacted
            entry["access_changes"] = (
                [change.describe() for change in access.changes] if access is not None else []
            )
        if listing.since is not None:
            entry["last_change"] = listing.last_change.get(cluster.name)
        clusters.append(entry)
    result: dict[str, Any] = {"clusters": clusters}
    if listing.since is not None:
        result["removed"] = list(listing.removed)
    return result


def listing_text(listing: ClusterListing) -> str:
    """One line per cluster: name, file, the variables its plan needs."""
    if not listing.clusters:
        if listing.since is not None:
            return f"no cluster changed since {listing.since}"
        return f"no {CLUSTERS_DIR}/*{CLUSTER_SUFFIX} in {listing.where}: {NO_CLUSTERS_HINT}"
    name_width = max(len(cluster.name) for cluster in listing.clusters)
    file_width = max(len(cluster.file) for cluster in listing.clusters)
    lines = []
    for cluster in listing.clusters:
        access = listing.access.get(cluster.name) if listing.access is not None else None
        if access is not None and access.spec is None:
            needs = f"not contacted: {access.problem}"
        elif access is not None and access.spec is not None:
            env = required_env(access.spec)
            needs = (
                f"needs {', '.join(env)} (as named at the trusted ref)" if env else "needs nothing"
            )
        elif not cluster.loaded:
            needs = f"does not load (reconcile validate --cluster {cluster.name} says why)"
        elif cluster.problem is not None:
            needs = cluster.problem
        else:
            needs = f"needs {', '.join(cluster.env)}" if cluster.env else "needs nothing"
        lines.append(f"{cluster.name:<{name_width}}  {cluster.file:<{file_width}}  {needs}")
        if access is not None and access.changes:
            lines.append("  changes access (takes effect once merged):")
            lines += [f"    {change.describe()}" for change in access.changes]
    return "\n".join(lines)
