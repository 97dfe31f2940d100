"""Ctrl-C and SIGTERM during apply: the first asks for a stop at a safe point, the second
ends the process at once.

Python raises KeyboardInterrupt wherever the main thread happens to be. Inside paramiko that
can leave a channel's lock held (the signal lands between its ``acquire`` and ``try``), and
the apply's own clean-up then waits on that lock for ever: releasing the cluster's lock over
the same SSH session hung (seen in the e2e tests; `docs/design.md`). So during apply the
signal only sets an event: the executor stops before its next step or at the next poll of a
wait (at most ``waits.MAX_INTERVAL`` later), or just before a step would change a node,
writes the journal's end and releases the locks. A second signal, for a person who will not
wait (terraform's second Ctrl-C), gets the system's default action: the process ends there,
running no Python at all, so it cannot hang either; the cluster stays locked, and the next
apply says how to unlock it. A signal the process ignores (a shell's background job) stays
ignored.
"""

from __future__ import annotations

import signal
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from types import FrameType, TracebackType
from typing import Any

SIGNALS = (signal.SIGINT, signal.SIGTERM)
Handler = Callable[[int, FrameType | None], Any] | int | signal.Handlers | None


class Interrupts:
    """Deferred Ctrl-C and SIGTERM for the ``with`` block, in the main thread (elsewhere,
    Python delivers no signal, and nothing is installed)."""

    def __init__(self, say: Callable[[str], None] = lambda text: None) -> None:
        self.cancel = threading.Event()
        self.say = say
        self._previous: dict[int, Handler] = {}

    def __enter__(self) -> Interrupts:
        if threading.current_thread() is threading.main_thread():
            for signum in SIGNALS:
                if signal.getsignal(signum) is not signal.SIG_IGN:
                    self._previous[signum] = signal.signal(signum, self._received)
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        trace: TracebackType | None,
    ) -> None:
        self._restore()

    def _restore(self) -> None:
        for signum, handler in self._previous.items():
            signal.signal(signum, handler)

    def _install(self) -> None:
        handler = signal.SIG_DFL if self.cancel.is_set() else self._received
        for signum in self._previous:
            signal.signal(signum, handler)

    def _received(self, signum: int, frame: FrameType | None) -> None:
        self.cancel.set()
        self._install()
        with suppress(Exception):  # never raise from wherever the signal landed
            self.say(
                f"{signal.Signals(signum).name} received: stopping at the next step or poll. "
                "Send it again to stop at once; the cluster then stays locked, and the next "
                "apply says how to unlock it."
            )

    def check(self) -> None:
        """KeyboardInterrupt if a stop was asked for: call where stopping is safe."""
        if self.cancel.is_set():
            raise KeyboardInterrupt

    @contextmanager
    def immediate(self) -> Iterator[None]:
        """Signals act at once inside (a question to a person, where nothing is sent)."""
        self._restore()
        try:
            yield
        finally:
            self._install()
