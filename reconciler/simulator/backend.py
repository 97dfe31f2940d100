"""The contract between the simulator's SSH front ends and a node's device side.

Two front ends serve a simulated node: the paramiko server (``ssh_server.py``) and the Unix
socket behind a real sshd (``relay_server.py``). Both only move bytes; what a login, a
command or a file transfer *means* is the `NodeBackend`'s business (``service.py`` implements
it over the cluster model). Keeping the contract here lets each side change without the other.
"""

from __future__ import annotations

from pathlib import Path
from typing import Protocol

import paramiko

__all__ = ["Disconnect", "NodeBackend", "PasswordAging", "SessionIO"]


class SessionIO(Protocol):
    """What a backend sees of one SSH session channel."""

    def write(self, text: str) -> None:
        """Send ``text`` ("\\n" newlines; turned into "\\r\\n" under a pty). Never raises."""
        ...

    def read_line(self, timeout: float | None = None) -> str | None:
        """Next input line without its EOL; None on EOF; TimeoutError on timeout."""
        ...


class Disconnect(Exception):
    """Raised by a backend to drop the whole SSH connection at once (fault injection)."""


class PasswordAging(Protocol):
    """Optional part of a backend: accounts whose MMP password has expired (a backend
    without these methods has none)."""

    def password_expired(self, username: str) -> bool: ...

    def change_password(self, username: str, password: str) -> None: ...


class NodeBackend(Protocol):
    """Device side of one simulated node (implemented by ``service.ClusterNodeBackend``)."""

    def prompt(self) -> str: ...

    def authenticate_password(self, username: str, password: str) -> bool: ...

    def authenticate_key(self, username: str, key: paramiko.PKey) -> bool: ...

    def on_connect(self, username: str, peer: tuple[str, int]) -> None: ...

    def run_command(self, line: str, io: SessionIO, username: str) -> None: ...

    def sftp_root(self) -> Path: ...

    def on_sftp(self, operation: str, path: str, username: str) -> None: ...

    def sftp_refused(self, operation: str, path: str) -> bool: ...

    def accepting(self) -> bool: ...
