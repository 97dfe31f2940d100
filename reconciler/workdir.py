"""The tool's own state: ``.reconcile/`` (journal, backups, locks, simulator), or elsewhere.

A CMS backup holds the node's configuration and private keys, so everything here is
owner-only (folders 0700, files 0600) whatever the umask, and the folder ignores itself in
git (``.reconcile/.gitignore`` holding ``*``) so that ``git add -A`` never commits a backup
and the tool's own files never make the working tree dirty.

``--state-dir DIR`` or ``RECONCILE_STATE_DIR`` puts it anywhere else: on a CI runner, in a
folder of its own that no checkout cleans and no other job's workspace contains.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from typing import IO

from reconciler.errors import ConfigError

WORKDIR_NAME = ".reconcile"
PRIVATE_DIR_MODE = 0o700
PRIVATE_FILE_MODE = 0o600
_SELF_IGNORE = "# cms-reconciler state (backups hold private keys): never commit it\n*\n"


STATE_DIR_ENV = "RECONCILE_STATE_DIR"


def state_location(
    repo: Path, state_dir: Path | None = None, env: Mapping[str, str] | None = None
) -> Path:
    """``--state-dir``, else ``$RECONCILE_STATE_DIR`` (empty counts as unset), else
    ``repo/.reconcile``."""
    if state_dir is not None:
        return state_dir
    value = (os.environ if env is None else env).get(STATE_DIR_ENV, "")
    return Path(value) if value else repo / WORKDIR_NAME


def workdir(
    repo: Path, state_dir: Path | None = None, env: Mapping[str, str] | None = None
) -> Path:
    """The state folder (``state_location``), created owner-only and self-ignored in git."""
    root = state_location(repo, state_dir, env)
    if root.is_symlink():
        raise ConfigError(
            f"{root} is a symbolic link; cms-reconciler keeps backups with private keys there "
            "and makes it owner-only, so it must be a real folder: remove the link"
        )
    if root.is_dir() and root.stat().st_uid != os.getuid():
        raise ConfigError(
            f"{root} belongs to another user; cms-reconciler keeps backups with private keys "
            "there, so it must be a folder of the user that runs it (set "
            f"{STATE_DIR_ENV} or --state-dir to one)"
        )
    if root.parent != root and not root.parent.exists():
        private_dir(root.parent)
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
