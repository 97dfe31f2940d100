"""The ``reconcile`` typer app: its group, the one place errors become messages, the
process-wide settings, and the entry point.

A ``ReconcileError`` (or a local ``OSError``: journal, backups, locks) raised by any command
or option callback becomes ``error: ...`` and exit 1 here, never a traceback; commands just
let it rise. A usage error (an unknown option, a bad ``--format``) exits 1 too: click's usual
2 means "changes planned" here, and a mistyped flag must not pass a CI plan check.
"""

from __future__ import annotations

import os
import signal
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import typer
from rich.console import Console
from typer.core import TyperGroup

from reconciler.errors import ReconcileError

EXIT_INTERRUPTED = 130  # 128 + SIGINT, as shells report an interrupted command

PRIVATE_FILES = frozenset({"demo", "sim"})
"""Commands whose simulated nodes write private keys and backups, as a device's do."""

SIGTERM_AS_CTRL_C = frozenset({None, "plan", "apply", "sim"})
"""Commands that stop on SIGTERM as on Ctrl-C: CI cancels a job with SIGTERM, and the journal
and the message must say where an apply stopped; ``sim`` stops its nodes (None: ``reconcile``
itself, which plans or applies)."""


@contextmanager
def _errors_exit_1() -> Iterator[None]:
    """Usage errors exit 1, not click's 2; a ``ReconcileError`` or ``OSError`` is one line."""
    try:
        yield
    except typer.TyperException as error:
        error.exit_code = 1
        raise
    except (ReconcileError, OSError) as error:
        typer.echo(f"error: {error}", err=True)
        raise typer.Exit(1) from None


class Group(TyperGroup):
    """A ``reconcile`` group: its parsing and its commands' errors, all exit 1."""

    def make_context(self, *args: Any, **kwargs: Any) -> Any:
        with _errors_exit_1():
            return super().make_context(*args, **kwargs)

    def invoke(self, *args: Any, **kwargs: Any) -> Any:
        with _errors_exit_1():
            return super().invoke(*args, **kwargs)


def group(help_text: str, **settings: Any) -> typer.Typer:
    """A typer app with plain help (see reconciler/cli/__init__.py) and -h."""
    return typer.Typer(
        cls=Group,
        add_completion=False,
        rich_markup_mode=None,
        context_settings={"help_option_names": ["-h", "--help"]},
        help=help_text,
        **settings,
    )


app = group(
    "Keep Cisco Meeting Server database clusters converged from git. Without a command: "
    "plan (--plan; exit 0 converged, 2 changes, 1 error) or --apply (exit 0 converged, 1 not).",
    no_args_is_help=False,
    subcommand_metavar="[COMMAND [ARGS]...]",  # none: plan
)


def settle_process(command: str | None) -> None:
    """The process-wide settings, once, before ``command`` runs (None: ``reconcile``)."""
    if command in PRIVATE_FILES:
        os.umask(0o077)
    if command in SIGTERM_AS_CTRL_C:
        # Raise KeyboardInterrupt in the main thread (no locks in a signal handler).
        signal.signal(signal.SIGTERM, signal.default_int_handler)


def package_version() -> str:
    from reconciler import __version__

    return __version__


def ask_on_terminal(question: str) -> str:
    """``question: `` on stderr, and the line typed (typer adds the ``: ``)."""
    return str(typer.prompt(question, err=True))


def console(stderr: bool = False) -> Console:
    """Rich output; wide when not on a terminal so CI logs and pipes are not truncated."""
    found = Console(highlight=False, stderr=stderr)
    if not found.is_terminal:
        found = Console(highlight=False, stderr=stderr, width=max(found.width, 160))
    return found


def main() -> None:
    """Console-script entry point."""
    app()
