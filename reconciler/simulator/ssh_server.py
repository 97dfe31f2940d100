"""Real SSH (paramiko server API) carrying one simulated CMS node's MMP.

This module only moves bytes: it authenticates, runs a shell loop or an exec
request, echoes like a terminal when a pty was asked for, and serves the SFTP
subsystem. What a command *means* belongs to the `NodeHandler` (service.py, which hands
commands to the interpreter in commands.py).

Threads: one accept thread per `NodeServer`, one thread per SSH connection,
paramiko's own transport thread, and one thread per shell/exec channel.
Handlers are called from all of them and do their own locking.
"""

from __future__ import annotations

import codecs
import contextlib
import io
import logging
import socket
import threading
import time
from collections.abc import Callable
from pathlib import Path
from types import TracebackType
from typing import Protocol

import paramiko
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from paramiko.common import (
    AUTH_FAILED,
    AUTH_SUCCESSFUL,
    MSG_CHANNEL_REQUEST,
    OPEN_FAILED_ADMINISTRATIVELY_PROHIBITED,
    OPEN_SUCCEEDED,
)
from paramiko.message import Message

from reconciler.simulator.sftp_server import FlatSFTPInterface

__all__ = [
    "ByteChannel",
    "Disconnect",
    "NodeHandler",
    "NodeServer",
    "ShellIO",
    "generate_ed25519_key",
]

log = logging.getLogger(__name__)

_POLL = 0.2
"""Longest a blocking wait goes without re-checking for shutdown."""
_SEND_TIMEOUT = 30.0
"""A client that stops reading for this long is treated as gone."""
_JOIN_TIMEOUT = 2.0
_EXIT_WORDS = frozenset({"exit", "quit", "logout"})
_BACKSPACE = ("\x7f", "\x08")

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


class ShellIO(Protocol):
    """What a handler sees of one SSH session channel."""

    def write(self, text: str) -> None:
        """Send ``text`` ("\\n" newlines; turned into "\\r\\n" under a pty). Never raises."""
        ...

    def read_line(self, timeout: float | None = None) -> str | None:
        """Next input line without its EOL; None on EOF; TimeoutError on timeout."""
        ...


class ByteChannel(Protocol):
    """The byte stream a `_ChannelIO` runs on: a paramiko channel, or the Unix socket of an
    OpenSSH session relayed by ``relay_server.py``."""

    def settimeout(self, timeout: float | None) -> None: ...

    def recv(self, nbytes: int) -> bytes: ...

    def sendall(self, data: bytes) -> None: ...

    def get_id(self) -> int: ...


class Disconnect(Exception):
    """Raised by a handler to drop the whole SSH connection at once (fault injection)."""


class NodeHandler(Protocol):
    """Device side of one simulated node (implemented by ``service.NodeHandler``)."""

    def prompt(self) -> str: ...

    def authenticate_password(self, username: str, password: str) -> bool: ...

    def authenticate_key(self, username: str, key: paramiko.PKey) -> bool: ...

    def on_connect(self, username: str, peer: tuple[str, int]) -> None: ...

    def run_command(self, line: str, io: ShellIO, username: str) -> None: ...

    def sftp_root(self) -> Path: ...

    def on_sftp(self, operation: str, path: str, username: str) -> None: ...

    def sftp_refused(self, operation: str, path: str) -> bool: ...

    def accepting(self) -> bool: ...


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


class _ChannelIO:
    """`ShellIO` over a paramiko channel, with a minimal terminal line discipline.

    Under a pty, typed characters are echoed as they are consumed (so a client
    that types ahead sees each echo after the prompt it belongs to), backspace
    erases, and output newlines become CRLF. Input lines end on CR, LF or CRLF.
    """

    def __init__(self, channel: ByteChannel, pty: bool) -> None:
        self._chan = channel
        self._pty = pty
        self._decoder = codecs.getincrementaldecoder("utf-8")(errors="replace")
        self._pending = ""
        self._line: list[str] = []
        self._skip_lf = False
        self._eof = False
        self._dead = False

    def write(self, text: str) -> None:
        if self._pty:
            text = text.replace("\r\n", "\n").replace("\n", "\r\n")
        self._send(text)

    def _send(self, text: str) -> None:
        # Never raise into the handler: a vanished client must not look like a
        # device error; the next read_line() reports EOF instead.
        if self._dead or not text:
            return
        try:
            self._chan.settimeout(_SEND_TIMEOUT)
            self._chan.sendall(text.encode("utf-8"))
        except (OSError, EOFError, paramiko.SSHException) as exc:
            self._dead = True
            log.debug("channel %s: write failed, client gone: %s", self._chan.get_id(), exc)

    def read_line(self, timeout: float | None = None) -> str | None:
        deadline = None if timeout is None else time.monotonic() + timeout
        while True:
            line = self._take_line()
            if line is not None:
                return line
            if self._eof:
                if self._line:  # an unterminated last line still counts
                    line = "".join(self._line)
                    self._line.clear()
                    return line
                return None
            wait = _POLL if deadline is None else max(0.0, min(_POLL, deadline - time.monotonic()))
            try:
                self._chan.settimeout(wait)
                data = self._chan.recv(4096)
            except TimeoutError:
                if deadline is not None and time.monotonic() >= deadline:
                    raise TimeoutError(f"no input line within {timeout} s") from None
                continue
            except (OSError, EOFError, paramiko.SSHException) as exc:
                log.debug("channel %s: read failed: %s", self._chan.get_id(), exc)
                data = b""
            if data:
                self._pending += self._decoder.decode(data)
            else:
                self._eof = True
                self._pending += self._decoder.decode(b"", final=True)

    def _take_line(self) -> str | None:
        """Consume pending input up to one line end; echo what was consumed."""
        echo: list[str] = []
        result: str | None = None
        pending, i = self._pending, 0
        while result is None and i < len(pending):
            ch = pending[i]
            i += 1
            if self._skip_lf:
                self._skip_lf = False
                if ch == "\n":
                    continue
            if ch in "\r\n":
                self._skip_lf = ch == "\r"
                echo.append("\r\n")
                result = "".join(self._line)
                self._line.clear()
            elif ch in _BACKSPACE:
                if self._line:
                    self._line.pop()
                    echo.append("\b \b")
            elif ch == "\x03":  # Ctrl-C abandons the line, like a terminal
                self._line.clear()
                echo.append("^C\r\n")
                result = ""
            elif ch >= " " or ch == "\t":
                self._line.append(ch)
                echo.append(ch)
        self._pending = pending[i:]
        if self._pty and echo:
            self._send("".join(echo))
        return result


_ChannelHandler = Callable[[paramiko.Channel, Message], None]
# Private paramiko table (stable since 1.x, absent from the stubs).
_BASE_CHANNEL_TABLE: dict[int, _ChannelHandler] = paramiko.Transport._channel_handler_table  # type: ignore[attr-defined]


def _handle_request_then_start(channel: paramiko.Channel, m: Message) -> None:
    try:
        _BASE_CHANNEL_TABLE[MSG_CHANNEL_REQUEST](channel, m)
    finally:
        transport = channel.get_transport()
        if isinstance(transport, _SimTransport):
            transport.run_after_request(channel.get_id())


class _SimTransport(paramiko.Transport):
    """A server transport that can act *after* it has answered a channel request.

    paramiko replies to a shell/exec request only after the `ServerInterface`
    callback returns; a session thread started inside the callback could send
    its output, exit status and channel close before that reply, and clients
    then report "Channel closed". Deferring the start past the reply fixes it.
    Both the callback and `run_after_request` run on the transport thread.
    """

    _channel_handler_table = {
        **_BASE_CHANNEL_TABLE,
        MSG_CHANNEL_REQUEST: _handle_request_then_start,
    }

    def __init__(self, sock: socket.socket) -> None:
        super().__init__(sock)
        self._after_request: dict[int, Callable[[], None]] = {}

    def after_request(self, chanid: int, action: Callable[[], None]) -> None:
        self._after_request[chanid] = action

    def run_after_request(self, chanid: int) -> None:
        action = self._after_request.pop(chanid, None)
        if action is not None:
            action()


class _Connection:
    """One accepted TCP connection and the SSH transport running on it."""

    def __init__(self, sock: socket.socket, peer: tuple[str, int]) -> None:
        self.sock = sock
        self.peer = peer
        self.transport: paramiko.Transport | None = None
        self.thread: threading.Thread | None = None
        self.sessions: list[threading.Thread] = []
        # paramiko tracks channels weakly and closes them when collected.
        self.channels: list[paramiko.Channel] = []
        self.dropped = threading.Event()
        self._lock = threading.Lock()
        self._announced = False

    def username(self) -> str:
        transport = self.transport
        return (transport.get_username() if transport is not None else None) or ""

    def announce(self, handler: NodeHandler) -> None:
        """Tell the handler about the login, once, before any channel is served."""
        with self._lock:
            if self._announced or self.transport is None or not self.transport.is_authenticated():
                return
            self._announced = True
        try:
            handler.on_connect(self.username(), self.peer)
        except Exception:
            log.exception("handler.on_connect failed for %s", self.peer)

    def attach(self, transport: paramiko.Transport) -> bool:
        """Record the transport; False if the connection was dropped meanwhile."""
        with self._lock:
            if self.dropped.is_set():
                return False
            self.transport = transport
            return True

    def keep(self, channel: paramiko.Channel) -> None:
        with self._lock:
            self.channels = [c for c in self.channels if not c.closed]
            self.channels.append(channel)

    def add_session(self, thread: threading.Thread) -> None:
        with self._lock:
            self.sessions = [t for t in self.sessions if t.is_alive()]
            self.sessions.append(thread)

    def drop(self) -> None:
        """Cut the connection at once: the client sees EOF, not an SSH goodbye."""
        with self._lock:
            self.dropped.set()
            transport = self.transport
        with contextlib.suppress(OSError):
            self.sock.shutdown(socket.SHUT_RDWR)
        if transport is not None:
            try:
                transport.close()
                # close() skips waking accept() when it wins the race with the
                # transport thread; wake it so the connection thread ends now.
                with transport.server_accept_cv:
                    transport.server_accept_cv.notify_all()
            except Exception as exc:  # paramiko may race with its own thread here
                log.debug("closing transport for %s: %s", self.peer, exc)
        with contextlib.suppress(OSError):
            self.sock.close()

    def join(self, deadline: float) -> None:
        with self._lock:
            threads = [*self.sessions]
        if self.thread is not None:
            threads.append(self.thread)
        for thread in threads:
            # A session whose start was still deferred when the link dropped never runs.
            if thread.ident is not None and thread is not threading.current_thread():
                thread.join(max(0.0, deadline - time.monotonic()))


class _ServerInterface(paramiko.ServerInterface):
    """paramiko's per-connection callbacks; called on the transport thread, so never blocks."""

    def __init__(self, node: NodeServer, conn: _Connection) -> None:
        self._node = node
        self._conn = conn
        self._handler = node.handler
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
            target=self._node._run_session,
            args=(self._conn, channel, pty, command),
            name=f"sim-{self._node.port}-{kind}-{self._conn.peer[1]}-{channel.get_id()}",
            daemon=True,
        )
        self._conn.add_session(thread)
        transport = channel.get_transport()
        if isinstance(transport, _SimTransport):
            transport.after_request(channel.get_id(), thread.start)
        else:
            thread.start()
        return True


class NodeServer:
    """Listens on ``host:port`` and serves SSH + SFTP for one `NodeHandler`."""

    def __init__(self, handler: NodeHandler, host: str, port: int, host_key: paramiko.PKey) -> None:
        self.handler = handler
        self._host = host
        self._port = port
        self._host_key = host_key
        self._lock = threading.Lock()
        self._listener: socket.socket | None = None
        self._accept_thread: threading.Thread | None = None
        self._accept_stop = threading.Event()
        self._connections: set[_Connection] = set()

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
            conn = _Connection(client, (str(addr[0]), int(addr[1])))
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

    def _serve(self, conn: _Connection) -> None:
        try:
            transport = _SimTransport(conn.sock)
            transport.set_log_channel(_PARAMIKO_LOG)
            if not conn.attach(transport):
                return
            transport.add_server_key(self._host_key)
            transport.set_subsystem_handler(
                "sftp", paramiko.SFTPServer, FlatSFTPInterface, self.handler, conn.username
            )
            transport.start_server(server=_ServerInterface(self, conn))
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
        self, conn: _Connection, channel: paramiko.Channel, pty: bool, command: str | None
    ) -> None:
        chan_io = _ChannelIO(channel, pty)
        try:
            if command is None:
                self._shell(conn, chan_io)
            else:
                self._exec(conn, chan_io, command)
        except Disconnect:
            log.debug("handler dropped connection from %s", conn.peer)
            conn.drop()
            return
        except Exception:
            # I/O errors never get here (_ChannelIO turns them into EOF): a handler bug.
            log.exception("session on channel %s failed", channel.get_id())
        if not conn.dropped.is_set():
            try:
                channel.send_exit_status(0)
                channel.close()
            except Exception as exc:
                log.debug("closing channel %s: %s", channel.get_id(), exc)

    def _shell(self, conn: _Connection, chan_io: _ChannelIO) -> None:
        chan_io.write(self.handler.prompt())
        while True:
            line = chan_io.read_line()
            if line is None:
                return
            command = line.strip()
            if command.lower() in _EXIT_WORDS:
                return
            if command:
                self._run_command(conn, command, chan_io)
            chan_io.write(self.handler.prompt())

    def _exec(self, conn: _Connection, chan_io: _ChannelIO, command: str) -> None:
        command = command.strip()
        if command and command.lower() not in _EXIT_WORDS:
            self._run_command(conn, command, chan_io)

    def _run_command(self, conn: _Connection, command: str, chan_io: _ChannelIO) -> None:
        """Run one line through the handler; Disconnect propagates, other errors are reported."""
        try:
            self.handler.run_command(command, chan_io, conn.username())
        except Disconnect:
            raise
        except Exception:
            log.exception("handler.run_command(%r) failed", command)
            chan_io.write("ERROR: internal simulator error\n")
