"""Check a new bundle exactly as ``validate`` would, then write it: all of it, or nothing.

The new files are laid over the working tree in memory and the cluster is loaded from that
view with the same loader ``validate``, plan and apply use; any error refuses the bundle
before a file is touched. Writing puts every file beside its target under a temporary name
first and only then renames them into place, so a failure half way leaves the old files.
``create_files`` (``certs sign``) makes new files only: it never replaces one.
"""

from __future__ import annotations

import contextlib
import os
import tempfile
from collections.abc import Mapping
from datetime import datetime
from pathlib import Path

from reconciler.certs.target import BundleTarget, repo_file
from reconciler.desired.findings import SpecFinding, describe_errors
from reconciler.desired.loader import load_cluster
from reconciler.desired.pem import pem_blocks
from reconciler.desired.source import DesiredSource, open_source
from reconciler.errors import ConfigError, MaterialError

KEY_MODE = 0o600
FILE_MODE = 0o644


class _Overlay(DesiredSource):
    """The working tree, with some files replaced by bytes held in memory."""

    def __init__(self, base: DesiredSource, files: Mapping[str, bytes]) -> None:
        self.base = base
        self.files = dict(files)
        self.commit = base.commit
        self.dirty = True
        self.dirty_paths = sorted(set(base.dirty_paths) | set(files))

    def read_bytes(self, path: str) -> bytes:
        if path in self.files:
            return self.files[path]
        return self.base.read_bytes(path)

    def cluster_names(self) -> list[str]:
        return self.base.cluster_names()

    def describe(self) -> str:
        return f"the new bundle over {self.base.describe()}"

    def close(self) -> None:
        """The base source is closed by whoever opened it."""


def check_new_bundle(
    target: BundleTarget, files: Mapping[str, bytes], env: Mapping[str, str], now: datetime
) -> list[SpecFinding]:
    """The warnings ``validate`` would print with ``files`` in place; ``ConfigError`` listing
    the errors when it would fail."""
    with open_source(target.repo) as source:
        result = load_cluster(_Overlay(source, files), target.name, env, now)
    if not result.ok:
        raise ConfigError(
            f"the new bundle for cluster {target.name} would not pass `reconcile validate`; "
            "nothing was written:\n  " + describe_errors(result.findings)
        )
    return [finding for finding in result.findings if not finding.is_error]


def write_files(repo: Path, files: Mapping[str, bytes]) -> list[str]:
    """Write every file (repo-relative path -> bytes) or none; returns the paths written.

    Refuses bytes holding an unencrypted private key: those must never reach a disk.
    """
    targets = {path: repo_file(repo, path) for path in files}
    for path, data in files.items():
        _refuse_clear_key(path, data)
    staged: list[tuple[Path, Path]] = []
    try:
        for path, data in files.items():
            target = targets[path]
            target.parent.mkdir(parents=True, exist_ok=True)
            staged.append((_stage(target, data, _mode(data)), target))
        for temporary, target in staged:
            os.replace(temporary, target)
    finally:
        for temporary, _ in staged:
            with contextlib.suppress(FileNotFoundError):
                temporary.unlink()
    return list(files)


def create_files(folder: Path, files: Mapping[str, bytes]) -> list[Path]:
    """Create every file (name -> bytes) in ``folder``, or none; never replace one.

    Each is staged under a temporary name and hard-linked to its name, which fails if that
    name exists (even one made meanwhile); any failure removes what was made, folders too.
    """
    targets = {name: folder / name for name in files}
    taken = [str(path) for path in targets.values() if os.path.lexists(path)]
    if taken:
        raise ConfigError(
            f"{', '.join(taken)} already exist{'s' if len(taken) == 1 else ''}: refusing to "
            "replace a file; move it away or write elsewhere; nothing was written"
        )
    for name, data in files.items():
        _refuse_clear_key(name, data)
    made: list[Path] = [parent for parent in (folder, *folder.parents) if not parent.exists()]
    created: list[Path] = []
    staged: list[Path] = []
    current = folder
    try:
        folder.mkdir(parents=True, exist_ok=True)
        for name, data in files.items():
            current = targets[name]
            staged.append(_stage(current, data, _mode(data)))
        for temporary, target in zip(staged, targets.values(), strict=True):
            current = target
            os.link(temporary, target)
            created.append(target)
    except OSError as error:
        _undo(staged, created, made)
        if isinstance(error, FileExistsError) and current in targets.values():
            raise ConfigError(
                f"{current} appeared while writing: refusing to replace it; nothing was written"
            ) from None
        raise ConfigError(
            f"cannot write {current}: {error.strerror or error}; nothing was written"
        ) from None
    except BaseException:
        _undo(staged, created, made)
        raise
    for temporary in staged:
        temporary.unlink(missing_ok=True)
    return list(targets.values())


def _undo(staged: list[Path], created: list[Path], folders: list[Path]) -> None:
    """Remove the files just made, then the folders made for them (deepest first)."""
    for path in (*staged, *created):
        with contextlib.suppress(OSError):
            path.unlink()
    for folder in folders:
        with contextlib.suppress(OSError):
            folder.rmdir()


def write_atomically(path: Path, data: bytes, mode: int = FILE_MODE) -> None:
    """One file, through a temporary file beside it and a rename: a reader (node_exporter's
    textfile collector) sees the old file or the new one, never half of one."""
    temporary = _stage(path, data, mode)
    try:
        os.replace(temporary, path)
    finally:
        with contextlib.suppress(FileNotFoundError):
            temporary.unlink()


def _stage(target: Path, data: bytes, mode: int) -> Path:
    descriptor, name = tempfile.mkstemp(prefix=f".{target.name}.", dir=target.parent)
    temporary = Path(name)
    try:
        with os.fdopen(descriptor, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        temporary.chmod(mode)
    except BaseException:
        temporary.unlink(missing_ok=True)
        raise
    return temporary


def _mode(data: bytes) -> int:
    return KEY_MODE if b"PRIVATE KEY-----" in data else FILE_MODE


def _refuse_clear_key(path: str, data: bytes) -> None:
    if b"PRIVATE KEY-----" not in data:
        return
    try:
        labels = {block.label for block in pem_blocks(data, kind="private key", path=path)}
    except MaterialError:
        labels = {"unreadable PRIVATE KEY"}
    if any("PRIVATE KEY" in label and label != "ENCRYPTED PRIVATE KEY" for label in labels):
        raise ConfigError(f"refusing to write {path}: it holds an unencrypted private key (a bug)")
