"""Run the real CLI on a pseudo-terminal of a given width, as a person at a terminal would.

stdin, stdout and stderr are all the terminal (so rich draws its live line and wraps at the
terminal's width); what the terminal received comes back raw, escape sequences included,
and `screen_lines` gives the lines a person would read.
"""

from __future__ import annotations

import fcntl
import os
import pty
import re
import select
import signal
import struct
import termios
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path

from tests.support.cli import RECONCILE

ANSI = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]")


@dataclass
class TerminalRun:
    raw: str  # everything the terminal received
    exit_code: int
    interrupted_at: int | None = None  # len(raw) when SIGINT was sent

    @property
    def text(self) -> str:
        """Without escape sequences and carriage returns (lines as they were written)."""
        return ANSI.sub("", self.raw).replace("\r", "")


def run_in_terminal(
    args: list[str],
    *,
    repo: Path,
    env: Mapping[str, str],
    columns: int = 80,
    interrupt_when: Callable[[str], bool] | None = None,
    timeout: float = 120,
) -> TerminalRun:
    """``reconcile ARGS --repo REPO`` on a terminal ``columns`` wide; SIGINT it (as Ctrl-C
    does) once ``interrupt_when`` holds for what the terminal shows."""
    environment = {**os.environ, **env, "COLUMNS": str(columns), "TERM": "xterm"}
    for name in ("FORCE_COLOR", "NO_COLOR", "TTY_COMPATIBLE", "TTY_INTERACTIVE", "CI"):
        environment.pop(name, None)
    pid, fd = pty.fork()
    if pid == 0:  # the child: the CLI, on the terminal
        try:
            os.execvpe(RECONCILE[0], [*RECONCILE, *args, "--repo", str(repo)], environment)
        finally:
            os._exit(127)
    fcntl.ioctl(fd, termios.TIOCSWINSZ, struct.pack("HHHH", 24, columns, 0, 0))
    received = b""
    interrupted_at = None
    deadline = time.monotonic() + timeout
    try:
        while time.monotonic() < deadline:
            if (
                interrupt_when is not None
                and interrupted_at is None
                and interrupt_when(received.decode(errors="replace"))
            ):
                os.kill(pid, signal.SIGINT)
                interrupted_at = len(received.decode(errors="replace"))
            ready, _, _ = select.select([fd], [], [], 0.05)
            if not ready:
                continue
            try:
                data = os.read(fd, 65536)
            except OSError:  # the child closed the terminal (Linux says EIO)
                break
            if not data:
                break
            received += data
        else:
            os.kill(pid, signal.SIGKILL)
    finally:
        os.close(fd)
        _, status = os.waitpid(pid, 0)
    return TerminalRun(
        received.decode(errors="replace"), os.waitstatus_to_exitcode(status), interrupted_at
    )
