"""Where desired-state bytes come from: the working tree, or a git commit without checkout.

Both sources answer the same questions (read a repo-relative file, list the clusters, which
commit, dirty or not) so that everything above them is the same for ``--ref`` and without.
Paths may not leave the repository, not even through a symlink.
"""

from __future__ import annotations

import posixpath
from abc import ABC, abstractmethod
from collections.abc import Mapping
from pathlib import Path
from types import TracebackType
from typing import Any

import git

from reconciler.errors import ConfigError, SourceReadError
from reconciler.workdir import WORKDIR_NAME

CLUSTERS_DIR = "clusters"
CLUSTER_SUFFIX = ".yaml"
_MAX_SYMLINKS = 8
MAX_FILE_BYTES = 1_048_576
"""Largest desired-state file read (cluster file, certificate, key, known_hosts): 1 MiB.
Real ones are kilobytes; a pull request must not make CI read gigabytes."""


def _too_big(path: str, size: int) -> SourceReadError | None:
    if size <= MAX_FILE_BYTES:
        return None
    return SourceReadError(
        f"{path} is {size:,} bytes, over the {MAX_FILE_BYTES:,}-byte (1 MiB) limit for a "
        "desired-state file"
    )


class DesiredSource(ABC):
    """Read-only view of the GitOps repository at one point in time."""

    commit: str | None
    dirty: bool
    dirty_paths: list[str]

    @abstractmethod
    def read_bytes(self, path: str) -> bytes:
        """Bytes of a repo-relative file; FileNotFoundError or SourceReadError."""

    @abstractmethod
    def cluster_names(self) -> list[str]:
        """Stems of ``clusters/*.yaml``, sorted."""

    @abstractmethod
    def describe(self) -> str:
        """Where files were read from, for messages (``commit 1a2b3c4``)."""

    def exists(self, path: str) -> bool:
        try:
            self.read_bytes(path)
        except (FileNotFoundError, SourceReadError):
            return False
        return True

    @abstractmethod
    def close(self) -> None:
        """Release resources (git processes); the source is unusable afterwards."""

    def __enter__(self) -> DesiredSource:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.close()


def cluster_file(name: str) -> str:
    return f"{CLUSTERS_DIR}/{name}{CLUSTER_SUFFIX}"


def open_source(repo: Path, ref: str | None = None) -> DesiredSource:
    """The working tree of ``repo``, or the commit ``ref`` of the git repository at ``repo``."""
    if not repo.is_dir():
        raise ConfigError(f"repository directory {repo} does not exist")
    if ref is None:
        return WorkingTreeSource(repo)
    return GitRefSource(repo, ref)


def _open_repo(root: Path) -> git.Repo | None:
    try:
        return git.Repo(root, search_parent_directories=True)
    except (git.InvalidGitRepositoryError, git.NoSuchPathError):
        return None


def _prefix(repo: git.Repo, root: Path) -> str:
    """``root`` relative to the git working tree (empty when it is the top)."""
    top = repo.working_tree_dir
    if top is None:
        return ""
    relative = root.resolve().relative_to(Path(top).resolve()).as_posix()
    return "" if relative == "." else relative


def _changed_paths(repo: git.Repo, prefix: str) -> list[str]:
    """Uncommitted paths under ``prefix`` (untracked included), the tool's own ``.reconcile/``
    excepted: its journal, backups and locks are never desired state, ignored or not."""
    own = posixpath.join(prefix, WORKDIR_NAME) if prefix else WORKDIR_NAME
    output = repo.git.status(
        "--porcelain=v1",
        "-z",
        "--untracked-files=all",
        "--",
        f":(top){prefix}",
        f":(top,exclude){own}",
    )
    entries = [entry for entry in str(output).split("\0") if entry]
    paths: list[str] = []
    skip_next = False
    for entry in entries:
        if skip_next:  # the original name of a rename
            skip_next = False
            continue
        code, path = entry[:2], entry[3:]
        skip_next = "R" in code or "C" in code
        paths.append(path)
    return sorted(paths)


class WorkingTreeSource(DesiredSource):
    """Files as they are on disk; commit is HEAD (None outside git), dirty per ``git status``.

    Untracked files count as dirty: a new certificate not yet committed is not desired state.
    """

    def __init__(self, root: Path) -> None:
        self.root = root.resolve()
        self.commit = None
        self.dirty = False
        self.dirty_paths: list[str] = []
        repo = _open_repo(self.root)
        if repo is None:
            return
        try:
            prefix = _prefix(repo, self.root)
            try:
                self.commit = repo.head.commit.hexsha
            except ValueError:  # no commit yet
                self.commit = None
            self.dirty_paths = _changed_paths(repo, prefix)
            self.dirty = self.commit is None or bool(self.dirty_paths)
        finally:
            repo.close()

    def read_bytes(self, path: str) -> bytes:
        try:
            target = (self.root / path).resolve()
        except (ValueError, OSError) as error:  # a NUL byte; a symlink loop
            raise SourceReadError(f"{path!r} cannot be opened: {error}") from None
        if not target.is_relative_to(self.root):
            raise SourceReadError(f"{path} resolves outside the repository (symlink?)")
        if not target.exists():
            raise FileNotFoundError(path)
        if not target.is_file():
            raise SourceReadError(f"{path} is not a regular file")
        too_big = _too_big(path, target.stat().st_size)
        if too_big is not None:
            raise too_big
        try:
            return target.read_bytes()
        except OSError as error:
            raise SourceReadError(f"{path} cannot be read: {error.strerror}") from None

    def cluster_names(self) -> list[str]:
        folder = self.root / CLUSTERS_DIR
        if not folder.is_dir():
            return []
        return sorted(
            entry.name[: -len(CLUSTER_SUFFIX)]
            for entry in folder.iterdir()
            if entry.name.endswith(CLUSTER_SUFFIX) and entry.is_file()
        )

    def describe(self) -> str:
        return f"the working tree {self.root}"

    def close(self) -> None:
        """Nothing to release: the git repository was closed after reading HEAD."""


class GitRefSource(DesiredSource):
    """Files of one commit, read as git blobs (no checkout); never dirty."""

    def __init__(self, root: Path, ref: str) -> None:
        self.root = root.resolve()
        repo = _open_repo(self.root)
        if repo is None:
            raise ConfigError(f"--ref {ref} needs a git repository, and {root} is not in one")
        self._repo = repo
        try:
            self._commit: Any = repo.commit(ref)
        except Exception:  # gitdb BadName/BadObject, ValueError: all mean "no such commit"
            repo.close()
            raise ConfigError(f"git ref {ref!r} does not name a commit in {root}") from None
        self._prefix = _prefix(repo, self.root)
        self.ref = ref
        self.sha = str(self._commit.hexsha)
        self.commit = self.sha
        self.dirty = False
        self.dirty_paths = []

    def _full(self, path: str) -> str:
        return posixpath.join(self._prefix, path) if self._prefix else path

    def read_bytes(self, path: str) -> bytes:
        full = self._full(path)
        for _ in range(_MAX_SYMLINKS):
            try:
                item = self._commit.tree / full
            except KeyError:
                raise FileNotFoundError(path) from None
            if item.type != "blob":
                raise SourceReadError(f"{path} is not a file in commit {self.sha[:12]}")
            too_big = _too_big(path, int(item.size))
            if too_big is not None:
                raise too_big
            data = bytes(item.data_stream.read())
            if item.mode != 0o120000:  # not a symlink
                return data
            target = posixpath.normpath(posixpath.join(posixpath.dirname(full), data.decode()))
            if target.startswith("../") or target == ".." or target.startswith("/"):
                raise SourceReadError(f"{path} is a symlink out of the repository")
            full = target
        raise SourceReadError(f"{path}: too many levels of symlinks")

    def cluster_names(self) -> list[str]:
        try:
            folder = self._commit.tree / self._full(CLUSTERS_DIR)
        except KeyError:
            return []
        return sorted(
            blob.name[: -len(CLUSTER_SUFFIX)]
            for blob in folder.blobs
            if blob.name.endswith(CLUSTER_SUFFIX)
        )

    def describe(self) -> str:
        return f"commit {self.sha[:12]} ({self.ref})"

    def close(self) -> None:
        self._repo.close()


class OverlaySource(DesiredSource):
    """Another source with some files replaced (or added) by bytes held in memory: what the
    loader would read once they are written (``certs issue``, ``import``). The bytes meet the
    same size limit as a file on disk."""

    def __init__(self, base: DesiredSource, files: Mapping[str, bytes], what: str) -> None:
        self.base = base
        self.files = dict(files)
        self.what = what
        self.commit = base.commit
        self.dirty = True
        self.dirty_paths = sorted(set(base.dirty_paths) | set(files))

    def read_bytes(self, path: str) -> bytes:
        if path in self.files:
            too_big = _too_big(path, len(self.files[path]))
            if too_big is not None:
                raise too_big
            return self.files[path]
        return self.base.read_bytes(path)

    def cluster_names(self) -> list[str]:
        added = [
            path[len(CLUSTERS_DIR) + 1 : -len(CLUSTER_SUFFIX)]
            for path in self.files
            if path.startswith(f"{CLUSTERS_DIR}/")
            and path.endswith(CLUSTER_SUFFIX)
            and "/" not in path[len(CLUSTERS_DIR) + 1 :]
        ]
        return sorted(set(self.base.cluster_names()) | set(added))

    def describe(self) -> str:
        return f"{self.what} over {self.base.describe()}"

    def close(self) -> None:
        """The base source is closed by whoever opened it."""


def brief(source: DesiredSource) -> str:
    """``describe()``, without the ref in brackets when it is the commit's own sha."""
    if isinstance(source, GitRefSource) and source.sha.startswith(source.ref.lower()):
        return f"commit {source.sha[:12]}"
    return source.describe()
