"""SFTP subsystem of a simulated CMS node: one flat file area, nothing else.

The MMP exposes a single directory over SFTP (uploads and downloads both live in
its root, see reference §3.4), so every path is reduced to a bare file name and
anything that would leave that directory is refused rather than resolved.

Installed per transport with::

    transport.set_subsystem_handler(
        "sftp", paramiko.SFTPServer, FlatSFTPInterface, backend, username_getter
    )
"""

from __future__ import annotations

import logging
import os
import posixpath
import stat
from collections.abc import Callable
from pathlib import Path
from typing import IO, Protocol

import paramiko
from paramiko.sftp import (
    SFTP_FAILURE,
    SFTP_NO_SUCH_FILE,
    SFTP_OK,
    SFTP_PERMISSION_DENIED,
)

__all__ = ["ROOT", "FlatSFTPHandle", "FlatSFTPInterface", "SFTPBackend", "flat_name"]

log = logging.getLogger(__name__)

ROOT = "/"
"""Name passed to `SFTPBackend.on_sftp` for operations on the file area itself."""

_WRITE_FLAGS = os.O_WRONLY | os.O_RDWR | os.O_APPEND | os.O_CREAT | os.O_TRUNC


class SFTPBackend(Protocol):
    """The part of a node handler the SFTP subsystem needs (a `NodeBackend` fits)."""

    def sftp_root(self) -> Path: ...

    def on_sftp(self, operation: str, path: str, username: str) -> None: ...

    def sftp_refused(self, operation: str, path: str) -> bool: ...


def flat_name(path: str) -> str | None:
    """Map a client path to a file name in the flat area.

    Returns ``ROOT`` for the area itself (``/``, ``.``, ``""``), the bare name for
    ``name``, ``/name`` or ``./name``, and ``None`` for anything else (a further
    directory, ``..``, NUL or backslash), so callers refuse instead of resolving.
    """
    if "\x00" in path or "\\" in path:
        return None
    parts = [p for p in path.split("/") if p not in ("", ".")]
    if not parts:
        return ROOT
    if len(parts) != 1 or parts[0] == "..":
        return None
    return parts[0]


class FlatSFTPHandle(paramiko.SFTPHandle):
    """An open file in the flat area; reports a finished upload when closed."""

    def __init__(
        self,
        file: IO[bytes],
        flags: int,
        name: str,
        on_upload: Callable[[str], None] | None,
    ) -> None:
        super().__init__(flags)
        # paramiko's default read()/write()/close() look for these attributes.
        self.readfile: IO[bytes] = file
        self.writefile: IO[bytes] = file
        self._name = name
        self._on_upload = on_upload
        self._closed = False

    def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        super().close()
        # Fire after the data is on disk so the device sees the complete file.
        if self._on_upload is not None:
            self._on_upload(self._name)

    def stat(self) -> paramiko.SFTPAttributes | int:
        try:
            return paramiko.SFTPAttributes.from_stat(os.fstat(self.readfile.fileno()), self._name)
        except OSError as exc:
            return paramiko.SFTPServer.convert_errno(exc.errno or 0)

    def chattr(self, attr: paramiko.SFTPAttributes) -> int:
        # The MMP file area has no meaningful modes; accept and ignore.
        return SFTP_OK


class FlatSFTPInterface(paramiko.SFTPServerInterface):
    """`paramiko.SFTPServerInterface` over `SFTPBackend.sftp_root()`.

    ``backend.on_sftp(op, name, username)`` is called once per operation that
    took effect, with ``op`` one of "put", "get", "remove", "rename", "listdir",
    "stat"; "put" fires when the uploaded file is closed, and "rename" passes
    ``"old -> new"``. Exceptions from the hook are logged and do not fail the
    operation.
    """

    def __init__(
        self,
        server: paramiko.ServerInterface,
        backend: SFTPBackend,
        username: Callable[[], str] | str = "",
    ) -> None:
        super().__init__(server)
        self._backend = backend
        self._username = username

    # -- helpers ---------------------------------------------------------------

    @property
    def username(self) -> str:
        """The authenticated user (resolved lazily: SFTP starts after auth)."""
        return self._username() if callable(self._username) else self._username

    def _root(self) -> Path:
        return self._backend.sftp_root()

    def _notify(self, operation: str, name: str) -> None:
        try:
            self._backend.on_sftp(operation, name, self.username)
        except Exception:
            log.exception("on_sftp(%r, %r) hook failed", operation, name)

    def _file(self, path: str) -> tuple[str, Path] | None:
        """Name and location of a file in the area, or None if ``path`` is not one."""
        name = flat_name(path)
        if name is None or name == ROOT:
            return None
        return name, self._root() / name

    # -- SFTPServerInterface ---------------------------------------------------

    def canonicalize(self, path: str) -> str:
        name = flat_name(path)
        if name == ROOT:
            return ROOT
        if name is not None:
            return ROOT + name
        # Only a display string for the client; nothing is ever opened through it.
        return posixpath.normpath(posixpath.join(ROOT, path))

    def open(
        self, path: str, flags: int, attr: paramiko.SFTPAttributes
    ) -> paramiko.SFTPHandle | int:
        writing = bool(flags & _WRITE_FLAGS)
        found = self._file(path)
        if found is None:
            return SFTP_PERMISSION_DENIED if writing else SFTP_NO_SUCH_FILE
        name, target = found
        if target.is_dir() or target.is_symlink():
            return SFTP_PERMISSION_DENIED
        if self._backend.sftp_refused("put" if writing else "get", name):
            return paramiko.sftp.SFTP_FAILURE
        if flags & os.O_WRONLY:
            mode = "ab" if flags & os.O_APPEND else "wb"
        elif flags & os.O_RDWR:
            mode = "a+b" if flags & os.O_APPEND else "r+b"
        else:
            mode = "rb"
        try:
            fd = os.open(target, flags | getattr(os, "O_NOFOLLOW", 0), 0o644)
        except OSError as exc:
            return paramiko.SFTPServer.convert_errno(exc.errno or 0)
        try:
            file: IO[bytes] = os.fdopen(fd, mode)
        except OSError as exc:
            os.close(fd)
            return paramiko.SFTPServer.convert_errno(exc.errno or 0)
        if writing:
            return FlatSFTPHandle(file, flags, name, lambda n: self._notify("put", n))
        self._notify("get", name)
        return FlatSFTPHandle(file, flags, name, None)

    def list_folder(self, path: str) -> list[paramiko.SFTPAttributes] | int:
        name = flat_name(path)
        if name is None:
            return SFTP_PERMISSION_DENIED
        if name != ROOT:
            return SFTP_NO_SUCH_FILE
        entries: list[paramiko.SFTPAttributes] = []
        try:
            for entry in sorted(os.scandir(self._root()), key=lambda e: e.name):
                if entry.is_file(follow_symlinks=False):
                    st = entry.stat(follow_symlinks=False)
                    entries.append(paramiko.SFTPAttributes.from_stat(st, entry.name))
        except OSError as exc:
            return paramiko.SFTPServer.convert_errno(exc.errno or 0)
        self._notify("listdir", ROOT)
        return entries

    def stat(self, path: str) -> paramiko.SFTPAttributes | int:
        name = flat_name(path)
        if name is None:
            return SFTP_NO_SUCH_FILE
        target = self._root() if name == ROOT else self._root() / name
        try:
            st = os.stat(target, follow_symlinks=False)
        except OSError as exc:
            return paramiko.SFTPServer.convert_errno(exc.errno or 0)
        if name != ROOT and not stat.S_ISREG(st.st_mode):
            return SFTP_NO_SUCH_FILE
        self._notify("stat", name)
        return paramiko.SFTPAttributes.from_stat(st, name)

    def lstat(self, path: str) -> paramiko.SFTPAttributes | int:
        return self.stat(path)

    def remove(self, path: str) -> int:
        found = self._file(path)
        if found is None:
            return SFTP_PERMISSION_DENIED
        name, target = found
        if target.is_dir() and not target.is_symlink():
            return SFTP_PERMISSION_DENIED
        try:
            os.remove(target)
        except OSError as exc:
            return paramiko.SFTPServer.convert_errno(exc.errno or 0)
        self._notify("remove", name)
        return SFTP_OK

    def rename(self, oldpath: str, newpath: str) -> int:
        # Plain SFTP rename overwrites too: clients re-upload certs under a
        # temporary name and move them into place, like posix-rename.
        return self.posix_rename(oldpath, newpath)

    def posix_rename(self, oldpath: str, newpath: str) -> int:
        old, new = self._file(oldpath), self._file(newpath)
        if old is None or new is None:
            return SFTP_PERMISSION_DENIED
        (old_name, old_target), (new_name, new_target) = old, new
        if not old_target.is_file() or new_target.is_dir():
            return SFTP_NO_SUCH_FILE if not old_target.exists() else SFTP_FAILURE
        try:
            os.replace(old_target, new_target)
        except OSError as exc:
            return paramiko.SFTPServer.convert_errno(exc.errno or 0)
        self._notify("rename", f"{old_name} -> {new_name}")
        return SFTP_OK

    def mkdir(self, path: str, attr: paramiko.SFTPAttributes) -> int:
        return SFTP_PERMISSION_DENIED

    def rmdir(self, path: str) -> int:
        return SFTP_PERMISSION_DENIED

    def chattr(self, path: str, attr: paramiko.SFTPAttributes) -> int:
        name = flat_name(path)
        if name is None:
            return SFTP_PERMISSION_DENIED
        if name != ROOT and not (self._root() / name).is_file():
            return SFTP_NO_SUCH_FILE
        return SFTP_OK

    def symlink(self, target_path: str, path: str) -> int:
        return SFTP_PERMISSION_DENIED
