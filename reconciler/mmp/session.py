"""The MMP conversation: prompts, echo, ``(Y/n)`` confirmations and the session transcript.

Everything about the device's interactive behaviour lives here (reference §1.4, §6, §7):
output ends when the ``<hostname>> `` prompt comes back; a confirmation is answered with a
capital ``Y`` only after the whole warning block has been printed; success is judged from
the output, never from exit codes.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Protocol

from reconciler.errors import (
    NotAnMMP,
    PasswordExpired,
    PromptTimeout,
    TransportError,
    UnreadableOutput,
)
from reconciler.mmp.parsers.errors import find_rejection

PROMPT_AT_END = re.compile(r"(?:^|\n)([A-Za-z0-9_.-]+)> ?$")
CONFIRMATION = re.compile(r"\(Y/n\)")
# What a Unix shell shows (``admin@host:~$ ``, ``root@host:/# ``, zsh's ``% ``): SSH reached a
# host's own OpenSSH, not the MMP.
SHELL_PROMPT = re.compile(r"[$#%] $")
# Mid-session a whole line must look like one (``bash-5.1$ ``, ``root@host:/# ``), so that
# MMP text such as "50% " is never taken for a shell.
SHELL_PROMPT_LINE = re.compile(r"^[\w.@:~/\[\]-]*[$#%] $")
# The last line of a warning block: the restart (or reboot) sentence, join's NOTE lines, or
# the lone "." of a 79-column wrap as in S1's initialize transcript.
BLOCK_END = re.compile(r"(?:procedure\.?|will be removed|^\.)\s*$", re.MULTILINE)
NOTE_END = re.compile(r"will be removed\s*$", re.MULTILINE)  # join's NOTE lines, when shown
JOIN = re.compile(r"database cluster join\b")
# A login that asks for a new password instead of showing the prompt: an expired or
# first-use MMP password (reference §6; the MMP's words are not published, so the
# simulator's choice and what OpenSSH/PAM print are all recognised).
PASSWORD_CHANGE = re.compile(
    r"password (?:has )?expired|expired password|password change required"
    r"|(?:required|must|need) to change (?:your|the) password"
    r"|change your password (?:now|immediately)"
    r"|(?:enter|choose|type) (?:a |the )?new (?:unix )?password"
    r"|^\s*(?:\(current\) )?new (?:unix )?password\s*:",
    re.IGNORECASE | re.MULTILINE,
)
SETTLE = 0.05  # quiet after a block's last line before answering: the rest of that write
# Output the MMP never prints (reference: plain text, CRLF): C0 controls but tab and newline
# (CR is normalised away first), DEL and C1 (0x9b is a one-byte CSI). ANSI colour, a NUL or a
# terminal reset means something else is talking, or the text is not what it seems.
CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f]")
MAX_LINE = 16_384
"""Longest line read; the MMP's are under 200 characters."""
MAX_OUTPUT = 1_048_576
"""Most output kept while waiting for one prompt; the longest MMP answer is a few kilobytes."""
SECRET_BLOCK = re.compile(
    r"-----BEGIN [A-Z ]*PRIVATE KEY-----.*?-----END [A-Z ]*PRIVATE KEY-----", re.DOTALL
)


class _ShellClosed(TransportError):
    """The node closed the shell: it had answered."""

    answered = True


class ShellChannel(Protocol):
    """Bytes-level shell of one node (the SSH transport, or a fake in tests)."""

    @property
    def node(self) -> str: ...

    def write(self, data: str) -> None: ...

    def read(self, timeout: float) -> str | None: ...


@dataclass(frozen=True)
class TranscriptEntry:
    time: datetime
    node: str
    direction: str  # sent | received
    text: str


@dataclass
class Redactor:
    """Replaces secret values (and any private key block) before text is kept or shown."""

    secrets: list[str] = field(default_factory=list, repr=False)

    def redact(self, text: str) -> str:
        text = SECRET_BLOCK.sub("[private key redacted]", text)
        for secret in self.secrets:
            if secret:
                text = text.replace(secret, "****")
        return text


@dataclass(frozen=True)
class CommandResult:
    """One command's outcome; ``output`` is clean text (LF, no echo, no prompt)."""

    node: str
    command: str
    output: str
    confirmed: bool
    elapsed: float

    @property
    def rejection(self) -> str | None:
        """The MMP's ``ERROR:`` text or usage block, if it refused the command."""
        return find_rejection(self.output)

    def tail(self, lines: int = 8) -> str:
        return "\n".join(self.output.rstrip("\n").splitlines()[-lines:])


class MMPShell:
    """Runs commands on one node's MMP over a shell channel."""

    def __init__(
        self,
        channel: ShellChannel,
        hostname: str | None,
        *,
        command_timeout: float = 60.0,
        quiet_period: float = 0.25,
        redactor: Redactor | None = None,
        clock: Callable[[], float] = time.monotonic,
        username: str | None = None,
        password_env: str | None = None,
    ) -> None:
        """``username`` and ``password_env`` (the variable the password came from) are
        named when the node says the password has expired."""
        self._channel = channel
        self.hostname = hostname
        self.username = username
        self.password_env = password_env
        self._expired: PasswordExpired | None = None
        self.command_timeout = command_timeout
        self.quiet_period = quiet_period
        self.redactor = redactor or Redactor()
        self._clock = clock
        self._buffer = ""
        self._started = False
        self.transcript: list[TranscriptEntry] = []

    @property
    def node(self) -> str:
        return self._channel.node

    @property
    def login_refused(self) -> bool:
        """The node asked for a new password at login (see ``PasswordExpired``)."""
        return self._expired is not None

    # --- reading ----------------------------------------------------------------------
    def _receive(self, timeout: float) -> bool:
        """Read what arrives within ``timeout`` into the buffer; False when nothing came."""
        data = self._channel.read(timeout)
        if data is None:
            raise _ShellClosed(
                self.node, f"connection closed by the node; last output: {self._tail()!r}"
            )
        if not data:
            return False
        data = data.replace("\r\n", "\n").replace("\r", "")
        start = self._buffer.rfind("\n") + 1  # the line still open before this data
        self._buffer += data
        try:
            self._refuse_unreadable(start)
        except UnreadableOutput:  # kept as evidence, but escaped and short
            self._record("received", f"[refused, unreadable: {data[:200]!a}]")
            raise
        self._record("received", data)
        return True

    def _refuse_unreadable(self, start: int) -> None:
        """Fail closed on output no MMP prints, before anything is parsed from it."""
        fresh = self._buffer[start:]
        control = CONTROL.search(fresh)
        if control is not None:
            around = self.redactor.redact(fresh[max(control.start() - 30, 0) : control.end() + 30])
            raise UnreadableOutput(
                self.node,
                f"the node printed the control character {control.group()!r} (ANSI escape, "
                f"NUL or similar), which the MMP never prints; refusing to read its output "
                f"near {around!r}",
            )
        if len(self._buffer) > MAX_OUTPUT:
            raise UnreadableOutput(
                self.node,
                f"more than {MAX_OUTPUT} characters of output without a prompt; refusing to "
                f"read further (last output: {self._tail()[-80:]!r})",
            )
        longest = max(len(line) for line in fresh.split("\n"))
        if longest > MAX_LINE:
            raise UnreadableOutput(
                self.node,
                f"a line of more than {MAX_LINE} characters, which the MMP never prints; "
                f"refusing to read its output (it starts {self.redactor.redact(fresh[:60])!r})",
            )

    def _read_until(self, done: Callable[[str], bool], timeout: float, waiting_for: str) -> None:
        deadline = self._clock() + timeout
        while not done(self._buffer):
            remaining = deadline - self._clock()
            if remaining <= 0:
                raise PromptTimeout(
                    self.node, f"no {waiting_for} within {timeout:g} s", self._tail()
                )
            if not self._receive(min(remaining, 0.5)):
                self._refuse_foreign_prompt()

    def _prompt_seen(self, text: str) -> bool:
        """The node's own prompt ends the text; before ``start``, anyone's (checked there)."""
        # Only the last line (and a newline after it) can hold it: never rescan all output.
        match = PROMPT_AT_END.search(text, max(text.rfind("\n", 0, len(text) - 1), 0))
        return match is not None and (not self._started or match.group(1) == self.hostname)

    def _refuse_foreign_prompt(self) -> None:
        """Output went quiet on a prompt that is not this node's: another host, or a Unix
        shell, now answers; what it printed is not this MMP's answer."""
        last = self._buffer[self._buffer.rfind("\n") + 1 :]
        other = PROMPT_AT_END.search(last)
        if (other is not None and other.group(1) != self.hostname) or SHELL_PROMPT_LINE.match(last):
            raise UnreadableOutput(
                self.node,
                f"the output ended at the prompt {self.redactor.redact(last)[-80:]!r}, not "
                f"'{self.hostname}> ': something other than this node's MMP is answering; "
                "nothing it printed is used",
            )

    def _tail(self) -> str:
        return self.redactor.redact(self._buffer[-400:])

    def _take(self) -> str:
        text, self._buffer = self._buffer, ""
        return text

    def _record(self, direction: str, text: str) -> None:
        self.transcript.append(
            TranscriptEntry(datetime.now(UTC), self.node, direction, self.redactor.redact(text))
        )

    # --- conversation -----------------------------------------------------------------
    def start(self) -> None:
        """Wait for the first prompt and check we reached the node the cluster file names."""
        if self._started:
            return
        if self._expired is not None:  # never typed into again: the MMP locks accounts
            raise self._expired
        try:
            self._read_first_prompt()
        except PasswordExpired as error:
            self._expired = error
            raise
        match = PROMPT_AT_END.search(self._buffer)
        assert match is not None
        if self.hostname is None:  # a node the cluster file does not name (a member to drop)
            self.hostname = match.group(1)
        elif match.group(1) != self.hostname:
            raise TransportError(
                self.node,
                f"the MMP prompt is '{match.group(1)}>' but the cluster file names this node "
                f"'{self.hostname}': wrong address, or fix nodes[].name",
                answered=True,
            )
        self._take()
        self._started = True

    def _read_first_prompt(self) -> None:
        """Until the MMP prompt; a shell prompt that stays (quiet for a moment) is not an MMP,
        and neither is a login that never shows one."""
        timeout = self.command_timeout
        deadline = self._clock() + timeout
        try:
            while not self._prompt_seen(self._buffer):
                remaining = deadline - self._clock()
                if remaining <= 0:
                    self._refuse_password_change()
                    raise NotAnMMP(
                        self.node,
                        f"no MMP prompt ('name> ') within {timeout:g} s after login; last "
                        f"output: {self._tail()!r}. Is ssh_port the MMP's SSH port?",
                    )
                shell = SHELL_PROMPT.search(self._last_line())
                quiet = not self._receive(min(remaining, self.quiet_period if shell else 0.5))
                if quiet:
                    self._refuse_password_change()
                if quiet and shell:
                    raise NotAnMMP(
                        self.node,
                        "SSH works, but this is not an MMP: after login it shows the shell "
                        f"prompt {self._last_line()!r}, not the MMP's 'name> '. Is ssh_port the "
                        "MMP's SSH port, and not the host's own SSH server?",
                    )
        except _ShellClosed as error:
            self._refuse_password_change()
            raise NotAnMMP(
                self.node,
                f"SSH works, but the node closed the session before showing an MMP prompt "
                f"({error.detail}); is this an MMP?",
            ) from error
        except UnreadableOutput as error:  # e.g. bash's bracketed-paste escape before its prompt
            raise NotAnMMP(
                self.node,
                f"SSH works, but this is not an MMP: after login {error.detail}. Is ssh_port "
                "the MMP's SSH port, and not the host's own SSH server?",
            ) from error

    def _refuse_password_change(self) -> None:
        """The node asks for a new password before any prompt: say so, and type nothing
        (an answer would be taken as a new password, and failures lock MMP accounts)."""
        said = PASSWORD_CHANGE.search(self._buffer)
        if said is None:
            return
        user = f" for {self.username}" if self.username else ""
        then = f"then update ${self.password_env}" if self.password_env else "then run this again"
        raise PasswordExpired(
            self.node,
            f"the MMP password{user} on {self.node} has expired: log in once by hand and "
            f"change it, {then} (the node said {said.group(0)!r} instead of showing its "
            "prompt; nothing was typed)",
        )

    def _last_line(self) -> str:
        return self.redactor.redact(self._buffer.rsplit("\n", 1)[-1])[-80:]

    def _send(self, text: str) -> None:
        self._record("sent", text)
        self._channel.write(text)

    def run(self, command: str, timeout: float | None = None) -> CommandResult:
        """A command that asks no question; its output up to the next prompt."""
        self.start()
        began = self._clock()
        self._send(command + "\r")
        self._read_until(self._prompt_seen, timeout or self.command_timeout, "prompt")
        output = _clean(self._take(), command, answer=None)
        return CommandResult(self.node, command, output, False, self._clock() - began)

    def run_confirmed(self, command: str, timeout: float | None = None) -> CommandResult:
        """A command with a ``(Y/n)`` warning: answer capital ``Y`` once the block is whole.

        When the node returns to the prompt without asking (an error or usage text), the
        result says ``confirmed=False`` and nothing was answered.
        """
        self.start()
        limit = timeout or self.command_timeout
        began = self._clock()
        self._send(command + "\r")
        self._read_until(
            lambda text: bool(CONFIRMATION.search(text)) or self._prompt_seen(text),
            limit,
            "confirmation or prompt",
        )
        if not CONFIRMATION.search(self._buffer):
            output = _clean(self._take(), command, answer=None)
            return CommandResult(self.node, command, output, False, self._clock() - began)
        self._wait_for_whole_block(began + limit, command)
        self._send("Y\r")
        remaining = max(began + limit - self._clock(), 0.001)
        self._read_until(self._prompt_seen, remaining, "prompt after confirming")
        output = _clean(self._take(), command, answer="Y")
        return CommandResult(self.node, command, output, True, self._clock() - began)

    def _wait_for_whole_block(self, deadline: float, command: str) -> None:
        """The device reads the answer only after printing every warning line (§1.4).

        A block seen to end is answered after a short settle, so a device operation starts
        promptly; but after join's "procedure." line the NOTE lines of a node already in a
        cluster may still come, so there the whole quiet period is waited (S1's transcript).
        """
        longest_quiet = 8 * self.quiet_period
        quiet_since = self._clock()
        while True:
            now = self._clock()
            if now >= deadline:
                raise PromptTimeout(self.node, "the warning block did not finish", self._tail())
            after_question = self._buffer[CONFIRMATION.search(self._buffer).end() :]  # type: ignore[union-attr]
            quiet = now - quiet_since
            enough = (
                self._settle(command, after_question)
                if BLOCK_END.search(after_question)
                else longest_quiet
            )
            if quiet >= enough:
                return
            # Read no longer than the quiet still needed: a settle is not a quiet period.
            if self._receive(min(enough - quiet, self.quiet_period, deadline - now)):
                quiet_since = self._clock()

    def _settle(self, command: str, block: str) -> float:
        note_may_follow = JOIN.match(command) is not None and NOTE_END.search(block) is None
        return self.quiet_period if note_may_follow else min(SETTLE, self.quiet_period)


def _clean(text: str, command: str, answer: str | None) -> str:
    """Drop the echoed command, an echoed answer and the trailing prompt."""
    lines = text.split("\n")
    if lines and lines[0].strip() == command.strip():
        lines = lines[1:]
    lines = lines[:-1] if lines and PROMPT_AT_END.search(lines[-1]) else lines
    if answer is not None:
        lines = [line for line in lines if line.strip() != answer]
    return "\n".join(lines) + ("\n" if lines else "")


class FileArea(Protocol):
    """SFTP access to a node's flat file area."""

    def read_file(self, name: str) -> bytes | None: ...

    def write_file(self, name: str, data: bytes) -> None: ...

    def create_file(self, name: str, data: bytes) -> bool: ...

    def remove_file(self, name: str) -> None: ...

    def download(self, name: str, local: Path) -> int: ...

    def file_size(self, name: str) -> int | None: ...


class MMPSession(FileArea, Protocol):
    """What the planner's readers and the executor use: the node's MMP commands and its
    file area; SSH, the rehearsal's twin, or a fake in tests."""

    @property
    def node(self) -> str: ...

    def run(self, command: str, timeout: float | None = None) -> CommandResult: ...

    def run_confirmed(self, command: str, timeout: float | None = None) -> CommandResult: ...

    @property
    def transcript(self) -> list[TranscriptEntry]: ...

    def close(self) -> None: ...


class ShellSession:
    """An ``MMPSession`` made of a node's shell and its file area: the one way commands and
    file calls reach a node, whatever carries them (SSH, or the rehearsal's twin)."""

    def __init__(self, shell: MMPShell, files: FileArea) -> None:
        self._shell = shell
        self._files = files

    @property
    def node(self) -> str:
        return self._shell.node

    @property
    def transcript(self) -> list[TranscriptEntry]:
        return self._shell.transcript

    def run(self, command: str, timeout: float | None = None) -> CommandResult:
        return self._shell.run(command, timeout)

    def run_confirmed(self, command: str, timeout: float | None = None) -> CommandResult:
        return self._shell.run_confirmed(command, timeout)

    def read_file(self, name: str) -> bytes | None:
        return self._files.read_file(name)

    def write_file(self, name: str, data: bytes) -> None:
        self._files.write_file(name, data)

    def create_file(self, name: str, data: bytes) -> bool:
        return self._files.create_file(name, data)

    def remove_file(self, name: str) -> None:
        self._files.remove_file(name)

    def download(self, name: str, local: Path) -> int:
        return self._files.download(name, local)

    def file_size(self, name: str) -> int | None:
        return self._files.file_size(name)

    def close(self) -> None:
        pass


class SSHSession(ShellSession):
    """An ``MMPSession`` over one SSH connection (shell and SFTP share it)."""

    def __init__(self, transport: _Transport, shell: MMPShell) -> None:
        super().__init__(shell, transport)
        self._transport = transport

    def connect(self) -> None:
        self._transport.connect()

    def list_files(self) -> list[str] | None:
        """The names in the node's file area over SFTP; None when the transport cannot list
        (a session that was not allowed to contact its node)."""
        lister = getattr(self._transport, "list_files", None)
        return None if lister is None else [str(name) for name in lister()]

    @property
    def login_refused(self) -> bool:
        """The node refused this session's login, or demanded a new password: no other
        login to it may be tried in this run (MMP accounts lock after failed logins)."""
        refused = bool(getattr(self._transport, "login_refused", False))
        return refused or self._shell.login_refused

    def close(self) -> None:
        self._transport.close()


class _Transport(ShellChannel, FileArea, Protocol):
    def connect(self) -> None: ...

    def close(self) -> None: ...


def redactor_for(secrets: Iterable[str | None]) -> Redactor:
    return Redactor([secret for secret in secrets if secret])
