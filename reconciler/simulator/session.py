"""The MMP's shell loop and exec request, the same behind either SSH front end.

The paramiko server (``ssh_server.py``) and the sshd relay (``relay_server.py``) must
answer a session identically: prompt, read a line, run it through the node's backend,
prompt again, end on an exit word or EOF. One copy here keeps them from drifting.
"""

from __future__ import annotations

import logging

from reconciler.simulator.backend import Disconnect, NodeBackend, PasswordAging, SessionIO
from reconciler.simulator.choices import say

__all__ = ["EXIT_WORDS", "serve_exec", "serve_shell"]

log = logging.getLogger(__name__)

EXIT_WORDS = frozenset({"exit", "quit", "logout"})
"""Lines that end a shell session (only the channel: the SSH connection stays up)."""


def serve_shell(backend: NodeBackend, io: SessionIO, user: str) -> None:
    """An interactive session, until EOF or an exit word."""
    aging = _aging(backend, user)
    if aging is not None and not _change_password(aging, io, user):
        return
    io.write(backend.prompt())
    while True:
        line = io.read_line()
        if line is None:
            return
        command = line.strip()
        if command.lower() in EXIT_WORDS:
            return
        if command:
            _run(backend, command, io, user)
        io.write(backend.prompt())


def serve_exec(backend: NodeBackend, io: SessionIO, command: str, user: str) -> None:
    """One command given with the SSH request (``ssh node 'COMMAND'``); no prompt."""
    if _aging(backend, user) is not None:
        io.write(say("login.password_expired_exec") + "\n")
        return
    command = command.strip()
    if command and command.lower() not in EXIT_WORDS:
        _run(backend, command, io, user)


def _aging(backend: NodeBackend, user: str) -> PasswordAging | None:
    """The backend when ``user``'s password has expired on it; None otherwise."""
    expired = getattr(backend, "password_expired", None)
    if expired is None or not expired(user):
        return None
    return backend  # type: ignore[return-value]  # it has password_expired, so both


def _change_password(backend: PasswordAging, io: SessionIO, user: str) -> bool:
    """The forced change of an expired password (choices ``login.*``); True once changed."""
    # A terminal does not echo a password being typed (its line end only).
    read = getattr(io, "read_secret", io.read_line)
    io.write(say("login.password_expired"))
    first = read()
    if first is None:
        return False
    io.write(say("login.password_again"))
    second = read()
    if second is None:
        return False
    if not first or first != second:
        io.write(say("login.password_mismatch") + "\n")
        return False
    backend.change_password(user, first)
    io.write(say("login.password_changed") + "\n")
    return True


def _run(backend: NodeBackend, command: str, io: SessionIO, user: str) -> None:
    """Run one line; Disconnect propagates, any other error is a simulator bug, reported."""
    try:
        backend.run_command(command, io, user)
    except Disconnect:
        raise
    except Exception:
        log.exception("handler.run_command(%r) failed", command)
        io.write("ERROR: internal simulator error\n")
