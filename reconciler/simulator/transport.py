"""One accepted SSH connection: its socket, its paramiko transport and the threads serving it.

``SimTransport`` exists for one paramiko ordering problem (see its docstring); ``Connection``
owns everything a simulated fault must be able to cut at once, so that "drop the link" is one
call and leaves no thread behind.
"""

from __future__ import annotations

import contextlib
import logging
import socket
import threading
import time
from collections.abc import Callable

import paramiko
from paramiko.common import MSG_CHANNEL_REQUEST
from paramiko.message import Message

from reconciler.simulator.backend import NodeBackend

__all__ = ["Connection", "SimTransport"]

log = logging.getLogger(__name__)

_ChannelHandler = Callable[[paramiko.Channel, Message], None]
# Private paramiko table (stable since 1.x, absent from the stubs).
_BASE_CHANNEL_TABLE: dict[int, _ChannelHandler] = paramiko.Transport._channel_handler_table  # type: ignore[attr-defined]


def _handle_request_then_start(channel: paramiko.Channel, m: Message) -> None:
    try:
        _BASE_CHANNEL_TABLE[MSG_CHANNEL_REQUEST](channel, m)
    finally:
        transport = channel.get_transport()
        if isinstance(transport, SimTransport):
            transport.run_after_request(channel.get_id())


class SimTransport(paramiko.Transport):
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


class Connection:
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

    def announce(self, handler: NodeBackend) -> None:
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
