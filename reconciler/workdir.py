"""The tool's own state in a repository: ``.reconcile/`` (journal, backups, locks, simulator).

A CMS backup holds the node's configuration and private keys, so everything here is
owner-only (folders 0700, files 0600) whatever the umask, and the folder ignores itself in
git (``.reconcile/.gitignore`` holding ``*``) so that ``git add -A`` never commits a backup
and the tool's own files never make the working tree dirty.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import IO

from reconciler.errors import ConfigError

WORKDIR_NAME = ".reconcile"
PRIVATE_DIR_MODE = 0o700
PRIVATE_FILE_MODE = 0o600
_SELF_IGNORE = "# cms-reconciler state (backups hold private keys): never commit it\n*\n"


def workdir(repo: Path) -> Path:
    """``repo/.reconcile``, created owner-only and self-ignored in git."""
    root = repo / WORKDIR_NAME
    if root.is_symlink():
        raise ConfigError(
            f"{root} is a symbolic link; cms-reconciler keeps backups with private keys there "
            "and makes it owner-only, so it must be a real folder: remove the link"
        )
    _private_mkdir(root)
    ignore = root / ".gitignore"
    if not ignore.exists():
        with open_private(ignore, "w") as stream:
            stream.write(_SELF_IGNORE)
    return root


def private_dir(path: Path) -> Path:
    """Create ``path`` and any missing parents owner-only (parents that exist are left as
    they are: only what this tool creates is its to restrict)."""
    missing: list[Path] = []
    current = path
    while not current.exists():
        missing.append(current)
        current = current.parent
    for folder in reversed(missing):
        _private_mkdir(folder)
    if not missing:
        _private_mkdir(path)
    return path


def _private_mkdir(path: Path) -> None:
    try:
        path.mkdir(mode=PRIVATE_DIR_MODE)
    except FileExistsError:
        if not path.is_dir():
            raise
    os.chmod(path, PRIVATE_DIR_MODE)  # mkdir's mode is masked by the umask; chmod is not


def open_private(path: Path, mode: str) -> IO[str]:
    """Open a text file for writing (``w`` or ``a``), created 0600 and kept 0600."""
    flags = os.O_WRONLY | os.O_CREAT | (os.O_APPEND if mode == "a" else os.O_TRUNC)
    descriptor = os.open(path, flags | getattr(os, "O_NOFOLLOW", 0), PRIVATE_FILE_MODE)
    os.fchmod(descriptor, PRIVATE_FILE_MODE)
    return os.fdopen(descriptor, mode, encoding="utf-8")


def open_private_binary(path: Path) -> IO[bytes]:
    """A new or truncated binary file, created 0600 (backups as they are downloaded)."""
    flags = os.O_WRONLY | os.O_CREAT | os.O_TRUNC | getattr(os, "O_NOFOLLOW", 0)
    descriptor = os.open(path, flags, PRIVATE_FILE_MODE)
    os.fchmod(descriptor, PRIVATE_FILE_MODE)
    return os.fdopen(descriptor, "wb")
