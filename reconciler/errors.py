"""One exception root, with subclasses named after what failed.

The CLI turns any ``ReconcileError`` into a one-paragraph message and exit 1;
anything else escaping is a bug.
"""

from __future__ import annotations

from enum import StrEnum
from pathlib import Path
from typing import Protocol


class ReconcileError(Exception):
    """Root of every error the reconciler reports to a user."""


class ConfigError(ReconcileError):
    """Desired state (YAML, certificate files, environment) is unusable."""


class OptionError(ReconcileError):
    """Command-line options that exclude each other, or one that would have no effect."""


class TransportError(ReconcileError):
    """SSH or SFTP to a node failed.

    ``detail`` is the message without the node's name, so that the same failure on several
    nodes can be said once; ``answered`` says whether the node spoke SSH back before the
    failure (a node that answered is refusing, not unreachable).
    """

    answered = False

    def __init__(self, node: str, message: str, *, answered: bool | None = None) -> None:
        super().__init__(f"{node}: {message}")
        self.node = node
        self.detail = message
        if answered is not None:
            self.answered = answered


class HostKeyRejected(TransportError):
    """The node's host key is unknown or differs from the pinned one."""

    answered = True


class AuthenticationFailed(TransportError):
    """The node refused the login (password or key)."""

    answered = True


class PasswordExpired(AuthenticationFailed):
    """The login was accepted but the MMP demands a new password first (an expired or
    first-use password): nothing can run until a person changes it by hand."""


class NotAnMMP(TransportError):
    """SSH works, but what answered after login is not an MMP (no ``name>`` prompt)."""

    answered = True


class UnreadableOutput(TransportError):
    """The node's shell output is not MMP output (control characters, a foreign prompt,
    endless lines): nothing is parsed from it, so no step acts on a misreading."""

    answered = True


class PromptTimeout(TransportError):
    """The MMP prompt did not come back in time; carries the tail of the buffer."""

    answered = True

    def __init__(self, node: str, message: str, tail: str) -> None:
        super().__init__(node, f"{message}; last output: {tail!r}")
        self.tail = tail


class RemoteFileTooLarge(TransportError):
    """A node's file is larger than the caller reads; nothing past the limit was read.

    ``size`` is what SFTP's stat said, or None when stat said less and the read found more.
    """

    answered = True

    def __init__(self, node: str, name: str, size: int | None, limit: int) -> None:
        shown = f"{size:,} bytes" if size is not None else f"more than {limit:,} bytes"
        super().__init__(
            node, f"{name} is {shown}, over the {limit:,}-byte limit; nothing past it was read"
        )
        self.name = name
        self.size = size
        self.limit = limit


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


# --- desired state -------------------------------------------------------------------
class SourceReadError(ReconcileError):
    """A repo path exists but cannot be used (a directory, a link out of the repo, ...)."""


class MaterialError(ReconcileError):
    """A file that cannot serve its role; the message completes "<path> ..."."""


# --- apply ---------------------------------------------------------------------------
class StalePlan(ReconcileError):
    """A saved plan no longer describes the desired commit or the live state."""


class Refused(ReconcileError):
    """Apply will not start (dirty tree, master change without the flag, no approval)."""


class StepLike(Protocol):
    """What an apply error says of a step (``plan.models.Step`` is one): errors sit below
    the plan, so they name a step by its shape, not its class."""

    @property
    def id(self) -> int: ...
    @property
    def node(self) -> str: ...
    @property
    def node_name(self) -> str: ...
    @property
    def action(self) -> StrEnum: ...
    @property
    def command(self) -> str: ...


class ApplyInterrupted(ReconcileError):
    """Ctrl-C (or SIGTERM) during apply: where each cluster stopped and what to do next."""

    def __init__(
        self,
        cluster: str,
        step: StepLike | None,
        journal: Path,
        *,
        after: StepLike | None = None,
        also: tuple[ApplyInterrupted, ...] = (),
    ) -> None:
        self.cluster, self.step, self.after, self.journal = cluster, step, after, journal
        self.where = f"cluster {cluster} stopped {_stopped_where(step, after)}"
        stops = (self, *also)
        if not also:
            text = f"apply interrupted: {self.where}; no later step was sent.\njournal: {journal}"
        else:  # several clusters were applying at once
            text = "apply interrupted; no later step was sent:" + "".join(
                f"\n  {stop.where}\n    journal: {stop.journal}" for stop in stops
            )
        super().__init__(text + "\nRun `reconcile plan` to see the safe continuation from here.")

    @classmethod
    def together(cls, stops: list[ApplyInterrupted]) -> ApplyInterrupted:
        """One error for several clusters interrupted at once, in the order given."""
        first, *rest = stops
        return cls(first.cluster, first.step, first.journal, after=first.after, also=tuple(rest))


def _stopped_where(step: StepLike | None, after: StepLike | None) -> str:
    if step is not None:
        return (
            f"at step {step.id} ({step.action.value} on {step.node_name} {step.node}: "
            f"{step.command}); the node may still be carrying it out"
        )
    if after is not None:
        return f"after step {after.id} ({after.action.value} on {after.node_name}) completed"
    return "before its first step"


class ApplyFailed(ReconcileError):
    """A step did not complete; nothing after it ran."""

    def __init__(self, step: StepLike, cause: str, tail: str = "") -> None:
        message = (
            f"step {step.id} ({step.action.value}) on {step.node_name} ({step.node}) failed: "
            f"{cause}\n  command: {step.command}"
        )
        if tail:
            message += "\n  last output:\n    " + "\n    ".join(tail.splitlines()[-8:])
        super().__init__(message)
        self.step = step
        self.cause = cause


class LockHeld(ReconcileError):
    """Another apply holds the cluster's lock."""


class LockFailed(ReconcileError):
    """The lock could not be taken for another reason (a node unreachable, a bad write)."""


# --- onboarding ----------------------------------------------------------------------
class KeyProblem(ReconcileError):
    """The node's file cannot be taken into git as a key; the message completes "<file> ..."."""


class ImportRefused(ConfigError):
    """The import stopped before writing anything; the message lists every reason."""
