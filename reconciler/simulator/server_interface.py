"""paramiko's per-connection server callbacks for one simulated node.

paramiko asks a ``ServerInterface`` whether to accept each login and each channel request;
here the answers come from the node's `NodeBackend`, and an accepted shell or exec starts a
session thread (run by the node server) only after paramiko has replied to the request.
Kept apart from ``ssh_server.py`` so that what is *allowed* is read in one place and how
sessions are *served* in another.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable

import paramiko
from paramiko.common import (
    AUTH_FAILED,
    AUTH_SUCCESSFUL,
    OPEN_FAILED_ADMINISTRATIVELY_PROHIBITED,
    OPEN_SUCCEEDED,
)

from reconciler.simulator.backend import NodeBackend
from reconciler.simulator.transport import Connection, SimTransport

__all__ = ["NodeServerInterface", "SessionRunner"]

log = logging.getLogger(__name__)

SessionRunner = Callable[[Connection, paramiko.Channel, bool, str | None], None]
"""Serves one shell (command None) or exec channel: connection, channel, pty?, command."""


class NodeServerInterface(paramiko.ServerInterface):
    """paramiko's per-connection callbacks; called on the transport thread, so never blocks."""

    def __init__(
        self, backend: NodeBackend, conn: Connection, run_session: SessionRunner, port: int
    ) -> None:
        self._conn = conn
        self._handler = backend
        self._run_session = run_session
        self._port = port
        self._pty: set[int] = set()
        self._started: set[int] = set()
        self._lock = threading.Lock()

    def get_allowed_auths(self, username: str) -> str:
        return "password,publickey"

    def check_auth_password(self, username: str, password: str) -> int:
        try:
            ok = self._handler.authenticate_password(username, password)
        except Exception:
            log.exception("handler.authenticate_password failed")
            ok = False
        return AUTH_SUCCESSFUL if ok else AUTH_FAILED

    def check_auth_publickey(self, username: str, key: paramiko.PKey) -> int:
        try:
            ok = self._handler.authenticate_key(username, key)
        except Exception:
            log.exception("handler.authenticate_key failed")
            ok = False
        return AUTH_SUCCESSFUL if ok else AUTH_FAILED

    def check_channel_request(self, kind: str, chanid: int) -> int:
        if kind != "session":
            return OPEN_FAILED_ADMINISTRATIVELY_PROHIBITED
        # Channels only open after auth: log the login before any command runs.
        self._conn.announce(self._handler)
        return OPEN_SUCCEEDED

    def check_channel_pty_request(
        self,
        channel: paramiko.Channel,
        term: bytes,
        width: int,
        height: int,
        pixelwidth: int,
        pixelheight: int,
        modes: bytes,
    ) -> bool:
        with self._lock:
            self._pty.add(channel.get_id())
        return True

    def check_channel_window_change_request(
        self, channel: paramiko.Channel, width: int, height: int, pixelwidth: int, pixelheight: int
    ) -> bool:
        return True

    def check_channel_env_request(
        self, channel: paramiko.Channel, name: bytes, value: bytes
    ) -> bool:
        # Accepted and ignored; refusing makes paramiko's update_environment() raise.
        return True

    def check_channel_shell_request(self, channel: paramiko.Channel) -> bool:
        return self._start(channel, None)

    def check_channel_exec_request(self, channel: paramiko.Channel, command: bytes) -> bool:
        return self._start(channel, command.decode("utf-8", errors="replace"))

    def check_channel_subsystem_request(self, channel: paramiko.Channel, name: str) -> bool:
        if name != "sftp" or not self._claim(channel):
            return False
        return super().check_channel_subsystem_request(channel, name)

    def _claim(self, channel: paramiko.Channel) -> bool:
        """One shell, exec or subsystem per channel, as in OpenSSH."""
        with self._lock:
            if channel.get_id() in self._started:
                return False
            self._started.add(channel.get_id())
            return True

    def _start(self, channel: paramiko.Channel, command: str | None) -> bool:
        if not self._claim(channel):
            return False
        with self._lock:
            pty = channel.get_id() in self._pty
        kind = "shell" if command is None else "exec"
        thread = threading.Thread(
            target=self._run_session,
            args=(self._conn, channel, pty, command),
            name=f"sim-{self._port}-{kind}-{self._conn.peer[1]}-{channel.get_id()}",
            daemon=True,
        )
        self._conn.add_session(thread)
        transport = channel.get_transport()
        if isinstance(transport, SimTransport):
            transport.after_request(channel.get_id(), thread.start)
        else:
            thread.start()
        return True
