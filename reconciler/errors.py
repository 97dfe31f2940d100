"""One exception root, with subclasses named after what failed.

The CLI turns any ``ReconcileError`` into a one-paragraph message and exit 1;
anything else escaping is a bug.
"""

from __future__ import annotations


class ReconcileError(Exception):
    """Root of every error the reconciler reports to a user."""


class ConfigError(ReconcileError):
    """Desired state (YAML, certificate files, environment) is unusable."""


class TransportError(ReconcileError):
    """SSH or SFTP to a node failed."""

    def __init__(self, node: str, message: str) -> None:
        super().__init__(f"{node}: {message}")
        self.node = node


class HostKeyRejected(TransportError):
    """The node's host key is unknown or differs from the pinned one."""


class PromptTimeout(TransportError):
    """The MMP prompt did not come back in time; carries the tail of the buffer."""

    def __init__(self, node: str, message: str, tail: str) -> None:
        super().__init__(node, f"{message}; last output: {tail!r}")
        self.tail = tail


class CommandRejected(ReconcileError):
    """The MMP answered a command with an ``ERROR:`` line."""

    def __init__(self, node: str, command: str, error_text: str) -> None:
        super().__init__(f"{node}: {command!r} was rejected: {error_text}")
        self.node = node
        self.command = command
        self.error_text = error_text


class OperationFailed(ReconcileError):
    """An asynchronous cluster operation ended ``(Failed)``."""


class OperationTimeout(ReconcileError):
    """An asynchronous cluster operation did not finish within its timeout."""


class StatusParseError(ReconcileError):
    """MMP output that the parser does not understand; quotes the offending line."""

    def __init__(self, message: str, line: str | None = None, line_number: int | None = None):
        where = f" (line {line_number}: {line!r})" if line is not None else ""
        super().__init__(f"{message}{where}")
        self.line = line
        self.line_number = line_number
