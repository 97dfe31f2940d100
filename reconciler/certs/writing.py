"""Check a new bundle exactly as ``validate`` would, then write it: all of it, or nothing.

The new files are laid over the working tree in memory and the cluster is loaded from that
view with the same loader ``validate``, plan and apply use; any error refuses the bundle
before a file is touched. Writing puts every file beside its target under a temporary name
first and only then renames them into place, so a failure half way leaves the old files.
``create_files`` (``certs sign``) makes new files only: it never replaces one.

``refuse_uncommitted`` comes first, before anything is made: a file about to be replaced whose
content no commit holds (untracked, changed since HEAD, or no git at all) would be lost for
good, so ``certs issue`` and ``certs install`` stop and name it unless told ``--force``.
"""

from __future__ import annotations

import contextlib
import os
import tempfile
from collections.abc import Mapping, Sequence
from datetime import datetime
from pathlib import Path

from reconciler.certs.target import BundleTarget
from reconciler.desired.findings import SpecFinding, describe_errors
from reconciler.desired.loader import load_cluster
from reconciler.desired.pem import pem_blocks
from reconciler.desired.source import OverlaySource, open_source
from reconciler.errors import ConfigError, MaterialError, SourceReadError
from reconciler.repo_root import repo_file

KEY_MODE = 0o600
FILE_MODE = 0o644


def check_new_bundle(
    target: BundleTarget, files: Mapping[str, bytes], env: Mapping[str, str], now: datetime
) -> list[SpecFinding]:
    """The warnings ``validate`` would print with ``files`` in place; ``ConfigError`` listing
    the errors when it would fail."""
    with open_source(target.repo) as source:
        result = load_cluster(OverlaySource(source, files, "the new bundle"), target.name, env, now)
    if not result.ok:
        raise ConfigError(
            f"the new bundle for cluster {target.name} would not pass `reconcile validate`; "
            "nothing was written:\n  " + describe_errors(result.findings)
        )
    return [finding for finding in result.findings if not finding.is_error]


def uncommitted(repo: Path, paths: Sequence[str]) -> list[tuple[str, str]]:
    """The paths that exist in the working tree with content no commit holds, and why: what
    replacing them would lose for good. A file equal to HEAD's is not listed."""
    present = [path for path in dict.fromkeys(paths) if os.path.lexists(repo_file(repo, path))]
    if not present:
        return []
    try:
        head = open_source(repo, "HEAD")
    except ConfigError:
        return [
            (path, "no git commit holds it (no repository, or no commit yet)") for path in present
        ]
    lost: list[tuple[str, str]] = []
    with head:
        for path in present:
            try:
                committed = head.read_bytes(path)
            except FileNotFoundError:
                lost.append((path, "untracked: not in HEAD"))
                continue
            except SourceReadError:
                lost.append((path, "HEAD's copy cannot be compared"))
                continue
            if not _same_on_disk(repo_file(repo, path), committed):
                lost.append((path, "changed since HEAD"))
    return lost


def _same_on_disk(target: Path, committed: bytes) -> bool:
    try:
        if not target.is_file() or target.stat().st_size != len(committed):
            return False
        return target.read_bytes() == committed
    except OSError:
        return False


def refuse_uncommitted(repo: Path, paths: Sequence[str], command: str) -> None:
    """``ConfigError`` naming every file ``command`` would replace that no commit holds."""
    lost = uncommitted(repo, paths)
    if not lost:
        return
    listing = "\n".join(f"  {path}  ({why})" for path, why in lost)
    names = " ".join(path for path, _ in lost)
    one = len(lost) == 1
    raise ConfigError(
        f"`reconcile {command}` would replace {'a file' if one else f'{len(lost)} files'} "
        f"whose content is in the working tree only (nothing was written):\n{listing}\n"
        f"Keep {'it' if one else 'them'}: commit {'it' if one else 'them'} (git add {names} "
        f"&& git commit), or move {'it' if one else 'them'} out of the way; or run the command "
        "again with --force to replace " + ("it." if one else "them.")
    )


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
