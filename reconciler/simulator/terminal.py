"""A terminal's line discipline over a session's byte stream.

The device's MMP is used through a terminal: typed characters are echoed, backspace erases,
lines end on CR, LF or CRLF. Both SSH front ends (paramiko in ``ssh_server.py``, a real sshd
relayed by ``relay_server.py``) must show exactly the same bytes, so the discipline lives
here once, over a minimal `ByteChannel`.
"""

from __future__ import annotations

import codecs
import logging
import time
from typing import Protocol

import paramiko

__all__ = ["ByteChannel", "TerminalIO"]

log = logging.getLogger(__name__)

_POLL = 0.2
"""Longest a blocking wait goes without re-checking for shutdown."""
_SEND_TIMEOUT = 30.0
"""A client that stops reading for this long is treated as gone."""
_BACKSPACE = ("\x7f", "\x08")


class ByteChannel(Protocol):
    """The byte stream a `TerminalIO` runs on: a paramiko channel, or the Unix socket of an
    OpenSSH session relayed by ``relay_server.py``."""

    def settimeout(self, timeout: float | None) -> None: ...

    def recv(self, nbytes: int) -> bytes: ...

    def sendall(self, data: bytes) -> None: ...

    def get_id(self) -> int: ...


class TerminalIO:
    """`SessionIO` over a `ByteChannel`, with a minimal terminal line discipline.

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
        self._hidden = False  # a password being typed: its characters are not echoed

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

    def read_secret(self, timeout: float | None = None) -> str | None:
        """As ``read_line``, without echoing what is typed (a terminal's password entry)."""
        self._hidden = True
        try:
            return self.read_line(timeout)
        finally:
            self._hidden = False

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
        self._echo(echo)
        return result

    def _echo(self, echo: list[str]) -> None:
        """Under a pty, show what was typed; only line ends while a password is typed."""
        if self._hidden:
            echo = [text for text in echo if text in ("\r\n", "^C\r\n")]
        if self._pty and echo:
            self._send("".join(echo))
