"""Real SSH (paramiko server API) carrying one simulated CMS node's MMP.

This module listens, accepts, and serves each session channel. Everything else has its own
module: what a login or command *means* belongs to the `NodeBackend` (``backend.py``;
``service.py`` implements it and hands commands to the interpreter in ``commands.py``), the
shell loop to ``session.py`` and the terminal line discipline to ``terminal.py`` (both shared
with the sshd relay), paramiko's accept/refuse callbacks to ``server_interface.py``, one
connection's transport and threads to ``transport.py``, and SFTP to ``sftp_server.py``.

Threads: one accept thread per `NodeServer`, one thread per SSH connection,
paramiko's own transport thread, and one thread per shell/exec channel.
Backends are called from all of them and do their own locking.
"""

from __future__ import annotations

import contextlib
import io
import logging
import socket
import threading
import time
from types import TracebackType

import paramiko
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from reconciler.simulator.backend import Disconnect, NodeBackend
from reconciler.simulator.server_interface import NodeServerInterface
from reconciler.simulator.session import serve_exec, serve_shell
from reconciler.simulator.sftp_server import FlatSFTPInterface
from reconciler.simulator.terminal import TerminalIO
from reconciler.simulator.transport import Connection, SimTransport

__all__ = ["NodeServer", "generate_ed25519_key"]

log = logging.getLogger(__name__)

_POLL = 0.2
"""Longest a blocking wait goes without re-checking for shutdown."""
_JOIN_TIMEOUT = 2.0

_PARAMIKO_LOG = f"{__name__}.paramiko"


class _DemoteToDebug(logging.Filter):
    """Server-side paramiko noise is debug information here.

    paramiko logs a client that drops mid-handshake (or a bare TCP probe) at
    ERROR with a traceback; in a simulator that is expected, so records from
    the server transports' log channel are lowered to DEBUG (and thus never
    reach Python's last-resort stderr handler).
    """

    def filter(self, record: logging.LogRecord) -> bool:
        record.levelno = logging.DEBUG
        record.levelname = logging.getLevelName(logging.DEBUG)
        # The logger admitted the record at its original level; re-check at DEBUG.
        return logging.getLogger(record.name).isEnabledFor(logging.DEBUG)


logging.getLogger(_PARAMIKO_LOG).addFilter(_DemoteToDebug())


def generate_ed25519_key() -> paramiko.PKey:
    """A fresh Ed25519 key (host keys for simulated nodes, client keys in tests)."""
    pem = (
        Ed25519PrivateKey.generate()
        .private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.OpenSSH,
            serialization.NoEncryption(),
        )
        .decode("ascii")
    )
    return paramiko.Ed25519Key(file_obj=io.StringIO(pem))


class NodeServer:
    """Listens on ``host:port`` and serves SSH + SFTP for one `NodeBackend`."""

    def __init__(self, handler: NodeBackend, host: str, port: int, host_key: paramiko.PKey) -> None:
        self.handler = handler
        self._host = host
        self._port = port
        self._host_key = host_key
        self._lock = threading.Lock()
        self._listener: socket.socket | None = None
        self._accept_thread: threading.Thread | None = None
        self._accept_stop = threading.Event()
        self._connections: set[Connection] = set()

    # -- public API ------------------------------------------------------------

    @property
    def port(self) -> int:
        """The bound port (the real one after `start` when 0 was requested)."""
        return self._port

    @property
    def address(self) -> tuple[str, int]:
        return (self._host, self._port)

    @property
    def listening(self) -> bool:
        return self._listener is not None

    def start(self) -> None:
        """Bind, listen and accept in a daemon thread. No-op if already listening."""
        with self._lock:
            if self._listener is None:
                self._listen()

    def stop(self) -> None:
        """Close the listener and every client connection; join threads (bounded)."""
        self._close_listener()
        self._drop_all()

    def set_down(self, down: bool) -> None:
        """Down: refuse connections (ECONNREFUSED) and cut live ones. Up: listen again."""
        if down:
            self.stop()
        else:
            self.start()

    def __enter__(self) -> NodeServer:
        self.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    # -- listener --------------------------------------------------------------

    def _listen(self) -> None:
        family, _, _, _, sockaddr = socket.getaddrinfo(
            self._host, self._port, type=socket.SOCK_STREAM
        )[0]
        sock = socket.socket(family, socket.SOCK_STREAM)
        try:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            sock.bind(sockaddr)
            sock.listen(64)
            sock.settimeout(_POLL)
        except OSError:
            sock.close()
            raise
        self._port = sock.getsockname()[1]
        self._listener = sock
        self._accept_stop = threading.Event()
        self._accept_thread = threading.Thread(
            target=self._accept_loop,
            args=(sock, self._accept_stop),
            name=f"sim-{self._port}-accept",
            daemon=True,
        )
        self._accept_thread.start()

    def _close_listener(self) -> None:
        with self._lock:
            sock, thread, stop = self._listener, self._accept_thread, self._accept_stop
            self._listener = self._accept_thread = None
        if sock is None:
            return
        stop.set()
        # shutdown() wakes a blocked accept() on Linux; join before close() so
        # the accept thread never touches a closed (possibly reused) fd.
        with contextlib.suppress(OSError):
            sock.shutdown(socket.SHUT_RDWR)
        if thread is not None and thread is not threading.current_thread():
            thread.join(_JOIN_TIMEOUT)
        sock.close()

    def _accept_loop(self, listener: socket.socket, stop: threading.Event) -> None:
        while not stop.is_set():
            try:
                client, addr = listener.accept()
            except TimeoutError:
                continue
            except OSError as exc:
                if not stop.is_set():
                    log.debug("listener on port %s failed: %s", self._port, exc)
                return
            if stop.is_set():
                client.close()
                return
            if not self._handler_accepting():
                # A node that is "down" in the handler's model: TCP connects,
                # then the box hangs up before the SSH banner.
                client.close()
                continue
            client.settimeout(None)
            # Interactive traffic: prompts and echoes are tiny writes (as OpenSSH does).
            with contextlib.suppress(OSError):
                client.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            conn = Connection(client, (str(addr[0]), int(addr[1])))
            conn.thread = threading.Thread(
                target=self._serve,
                args=(conn,),
                name=f"sim-{self._port}-conn-{addr[1]}",
                daemon=True,
            )
            with self._lock:
                self._connections.add(conn)
            conn.thread.start()

    def _handler_accepting(self) -> bool:
        try:
            return self.handler.accepting()
        except Exception:
            log.exception("handler.accepting failed; accepting the connection")
            return True

    def _drop_all(self) -> None:
        with self._lock:
            conns = list(self._connections)
        for conn in conns:
            conn.drop()
        deadline = time.monotonic() + _JOIN_TIMEOUT
        for conn in conns:
            conn.join(deadline)

    # -- per connection --------------------------------------------------------

    def _serve(self, conn: Connection) -> None:
        try:
            transport = SimTransport(conn.sock)
            transport.set_log_channel(_PARAMIKO_LOG)
            if not conn.attach(transport):
                return
            transport.add_server_key(self._host_key)
            transport.set_subsystem_handler(
                "sftp", paramiko.SFTPServer, FlatSFTPInterface, self.handler, conn.username
            )
            transport.start_server(
                server=NodeServerInterface(self.handler, conn, self._run_session, self.port)
            )
            while transport.is_active() and not conn.dropped.is_set():
                # Channels are served from the request callbacks; this only
                # drains paramiko's accept queue and notices logins that open
                # no channel.
                channel = transport.accept(timeout=_POLL)
                if channel is not None:
                    conn.keep(channel)
                conn.announce(self.handler)
        except (paramiko.SSHException, EOFError, OSError) as exc:
            log.debug("connection from %s ended: %s", conn.peer, exc)
        except Exception:
            log.exception("connection from %s failed", conn.peer)
        finally:
            conn.drop()
            with self._lock:
                self._connections.discard(conn)

    def _run_session(
        self, conn: Connection, channel: paramiko.Channel, pty: bool, command: str | None
    ) -> None:
        chan_io = TerminalIO(channel, pty)
        try:
            if command is None:
                serve_shell(self.handler, chan_io, conn.username())
            else:
                serve_exec(self.handler, chan_io, command, conn.username())
        except Disconnect:
            log.debug("handler dropped connection from %s", conn.peer)
            conn.drop()
            return
        except Exception:
            # I/O errors never get here (TerminalIO turns them into EOF): a handler bug.
            log.exception("session on channel %s failed", channel.get_id())
        if not conn.dropped.is_set():
            try:
                channel.send_exit_status(0)
                channel.close()
            except Exception as exc:
                log.debug("closing channel %s: %s", channel.get_id(), exc)
