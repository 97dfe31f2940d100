"""TCP peers that start an SSH conversation and never finish it, for connect-timeout tests.

Each listens on 127.0.0.1 port 0, says its greeting to every client, then holds the
connection silently (or closes it), and stops by itself after ``lifetime`` seconds.
"""

from __future__ import annotations

import socket
import threading
import time
from types import TracebackType

OPENSSH_BANNER = b"SSH-2.0-OpenSSH_9.6\r\n"


class StalledSSHServer:
    """Sends ``greeting`` to each client, then stalls (``close=False``) or hangs up."""

    def __init__(self, greeting: bytes, *, close: bool, lifetime: float = 30.0) -> None:
        self._listener = socket.create_server(("127.0.0.1", 0))
        self._listener.settimeout(0.2)
        self.host = "127.0.0.1"
        self.port: int = self._listener.getsockname()[1]
        self.accepted = 0
        self._greeting = greeting
        self._close = close
        self._deadline = time.monotonic() + lifetime
        self._stop = threading.Event()
        self._thread = threading.Thread(
            target=self._serve, name=f"stalled-ssh-{self.port}", daemon=True
        )
        self._thread.start()

    def _serve(self) -> None:
        held: list[socket.socket] = []
        try:
            while not self._stop.is_set() and time.monotonic() < self._deadline:
                try:
                    peer, _ = self._listener.accept()
                except TimeoutError:
                    continue
                self.accepted += 1
                if self._greeting:
                    peer.sendall(self._greeting)
                if self._close:
                    peer.close()
                else:
                    held.append(peer)
        finally:
            for peer in held:
                peer.close()
            self._listener.close()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=5)

    def __enter__(self) -> StalledSSHServer:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.stop()
