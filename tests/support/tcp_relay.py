"""A TCP relay that counts the connections it is given: to prove a client never connected.

Listens on ``host:port`` and forwards each connection, byte for byte both ways, to
``target``; ``accepted`` counts the connections, whether or not anything was sent on them.
"""

from __future__ import annotations

import contextlib
import socket
import threading
from types import TracebackType


class CountingRelay:
    def __init__(self, host: str, port: int, target: tuple[str, int]) -> None:
        self._listener = socket.create_server((host, port))
        self._listener.settimeout(0.2)
        self._target = target
        self._lock = threading.Lock()
        self._accepted = 0
        self._stop = threading.Event()
        self._threads: list[threading.Thread] = []
        self._thread = threading.Thread(target=self._serve, name=f"relay-{port}", daemon=True)
        self._thread.start()

    @property
    def accepted(self) -> int:
        with self._lock:
            return self._accepted

    def _serve(self) -> None:
        try:
            while not self._stop.is_set():
                try:
                    client, _ = self._listener.accept()
                except TimeoutError:
                    continue
                with self._lock:
                    self._accepted += 1
                upstream = socket.create_connection(self._target, timeout=5)
                for source, sink in ((client, upstream), (upstream, client)):
                    thread = threading.Thread(target=_pipe, args=(source, sink), daemon=True)
                    thread.start()
                    self._threads.append(thread)
        finally:
            self._listener.close()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=5)

    def __enter__(self) -> CountingRelay:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.stop()


def _pipe(source: socket.socket, sink: socket.socket) -> None:
    with contextlib.suppress(OSError):
        while data := source.recv(65536):
            sink.sendall(data)
    with contextlib.suppress(OSError):
        sink.shutdown(socket.SHUT_WR)
