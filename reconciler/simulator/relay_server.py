"""One simulated node's command engine on a Unix socket, for sessions relayed by a real sshd.

The interop tests put OpenSSH's ``sshd`` in front of a node: its ``ForceCommand`` is
``relay.py``, which connects here once per SSH channel. This side runs the same shell loop
(``session.py``) and terminal line discipline (``TerminalIO``) as the paramiko simulator,
over the node's ``NodeBackend``, in the process that owns the simulated cluster, so state is
shared with every other connection and with the test's inspection and fault API.

What sshd does itself (host key, login, SFTP through OpenSSH's ``sftp-server`` in the node's
file directory) is not simulated here; so the SFTP hooks of ``NodeBackend`` (``on_sftp``,
``sftp_refused``) do not apply to a node behind sshd.
"""

from __future__ import annotations

import contextlib
import json
import logging
import socket
import threading
from pathlib import Path
from types import TracebackType
from typing import Any

from reconciler.simulator.backend import Disconnect, NodeBackend
from reconciler.simulator.session import serve_exec, serve_shell
from reconciler.simulator.terminal import TerminalIO

log = logging.getLogger(__name__)

_HEADER_LIMIT = 65536
_POLL = 0.2


class _SocketChannel:
    """The `ByteChannel` of one relayed session."""

    def __init__(self, sock: socket.socket) -> None:
        self._sock = sock

    def settimeout(self, timeout: float | None) -> None:
        self._sock.settimeout(timeout)

    def recv(self, nbytes: int) -> bytes:
        return self._sock.recv(nbytes)

    def sendall(self, data: bytes) -> None:
        self._sock.sendall(data)

    def get_id(self) -> int:
        return self._sock.fileno()


class RelayServer:
    """Accepts ``relay.py`` sessions for one node; ``handler`` may be swapped between tests."""

    def __init__(self, handler: NodeBackend | None, path: Path) -> None:
        self._handler = handler
        self.path = path
        self._listener: socket.socket | None = None
        self._thread: threading.Thread | None = None
        self._stop = threading.Event()
        self._lock = threading.Lock()
        self._sessions: set[socket.socket] = set()
        self._announced: set[str] = set()

    @property
    def handler(self) -> NodeBackend | None:
        return self._handler

    @handler.setter
    def handler(self, handler: NodeBackend | None) -> None:
        """Serve another node (None: serve none); its connections are counted afresh."""
        with self._lock:
            self._handler = handler
            self._announced.clear()

    def start(self) -> RelayServer:
        listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        listener.bind(str(self.path))
        listener.listen(16)
        listener.settimeout(_POLL)
        self._listener = listener
        self._thread = threading.Thread(
            target=self._accept_loop, name=f"relay-{self.path.name}", daemon=True
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(2.0)
        if self._listener is not None:
            self._listener.close()
        with self._lock:
            sessions = list(self._sessions)
        for sock in sessions:
            _end(sock)
        with contextlib.suppress(FileNotFoundError):
            self.path.unlink()

    def __enter__(self) -> RelayServer:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.stop()

    def _accept_loop(self) -> None:
        assert self._listener is not None
        while not self._stop.is_set():
            try:
                sock, _ = self._listener.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            with self._lock:
                self._sessions.add(sock)
            threading.Thread(target=self._serve, args=(sock,), daemon=True).start()

    def _serve(self, sock: socket.socket) -> None:
        try:
            sock.settimeout(10.0)
            header = _read_header(sock)
            handler = self.handler
            if handler is None:
                return
            self._announce(handler, header)
            kind = header.get("kind")
            if kind == "sftp":
                root = str(handler.sftp_root())
                sock.sendall(json.dumps({"sftp_root": root}).encode() + b"\n")
                return
            io = TerminalIO(_SocketChannel(sock), bool(header.get("pty")))
            user = str(header.get("user", ""))
            if kind == "exec":
                serve_exec(handler, io, str(header.get("command") or ""), user)
            else:
                serve_shell(handler, io, user)
        except Disconnect:
            _end(sock)
        except (OSError, ValueError) as error:
            log.debug("relayed session ended: %s", error)
        finally:
            with self._lock:
                self._sessions.discard(sock)
            sock.close()

    def _announce(self, handler: NodeBackend, header: dict[str, Any]) -> None:
        """One ``connect`` per SSH connection (as the paramiko simulator logs), not per
        channel: the shell and SFTP of one connection share ``SSH_CLIENT``."""
        client = str(header.get("client", ""))
        with self._lock:
            if client in self._announced:
                return
            self._announced.add(client)
        fields = client.split()
        peer = (fields[0], int(fields[1])) if len(fields) >= 2 else ("?", 0)
        handler.on_connect(str(header.get("user", "")), peer)


def _read_header(sock: socket.socket) -> dict[str, Any]:
    """The relay's first line; read byte by byte so no session input is consumed with it."""
    line = b""
    while not line.endswith(b"\n"):
        byte = sock.recv(1)
        if not byte or len(line) > _HEADER_LIMIT:
            raise ValueError("no session header from the relay")
        line += byte
    header = json.loads(line)
    if not isinstance(header, dict):
        raise ValueError("the relay's header is not an object")
    return header


def _end(sock: socket.socket) -> None:
    """End a session now, both ways: the relay exits, and sshd closes the channel."""
    with contextlib.suppress(OSError):
        sock.shutdown(socket.SHUT_RDWR)
