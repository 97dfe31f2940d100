"""`reconcile` (--plan or --apply), `reconcile plan` and `reconcile apply`: one function each,
made from the option lists of reconciler/cli/options.py.

Start-up time matters (plan runs on every pull request): only ``reconciler.reconcile`` is
imported, and only once a plan or apply runs; it loads the apply machinery when it applies.
"""

from __future__ import annotations

import inspect
import os
import sys
from collections.abc import Callable
from typing import Any, Literal

import typer

from reconciler.cli.app import EXIT_INTERRUPTED, ask_on_terminal, console, settle_process
from reconciler.cli.options import (
    PLAN_OPTIONS,
    ROOT_OPTIONS,
    VERSION_OPTION,
    apply_options,
    given,
)
from reconciler.errors import ApplyInterrupted, OptionError

Mode = Literal["plan", "apply"]


def reconcile_command(mode: Mode | None, doc: str) -> Callable[..., None]:
    """`reconcile` (mode None: --plan or --apply), `reconcile plan` or `reconcile apply`:
    one function, whose signature (what typer reads) is the option lists for that mode."""

    def command(ctx: typer.Context, **values: Any) -> None:
        if mode is None:  # the app's callback: runs before every command
            settle_process(ctx.invoked_subcommand)
            if ctx.invoked_subcommand is not None:
                _refuse_options_before(ctx)
                return
        _reconcile(ctx, mode, values)

    options = [*PLAN_OPTIONS, *apply_options(hidden=mode == "plan")]
    if mode is None:
        options = [*ROOT_OPTIONS, *options, VERSION_OPTION]
    context = inspect.Parameter(
        "ctx", inspect.Parameter.POSITIONAL_OR_KEYWORD, annotation=typer.Context
    )
    command.__signature__ = inspect.Signature([context, *options])  # type: ignore[attr-defined]
    command.__doc__ = doc
    return command


def _reconcile(ctx: typer.Context, mode: Mode | None, values: dict[str, Any]) -> None:
    from reconciler.reconcile import ReconcileOptions, Terminal, plan_or_apply

    plan_mode, apply_mode = values.pop("plan_mode", False), values.pop("apply_mode", False)
    values.pop("version", None)
    if plan_mode and apply_mode:
        raise OptionError("--plan and --apply exclude each other")
    values["clusters"] = values["clusters"] or []
    options = ReconcileOptions(
        apply=mode == "apply" or apply_mode, repo_given=given(ctx, "repo"), **values
    )
    interactive = sys.stdin.isatty() and sys.stderr.isatty()
    terminal = Terminal(
        out=console(), err=console(stderr=True), ask=ask_on_terminal if interactive else None
    )
    try:
        code = plan_or_apply(options, os.environ, terminal)
    except ApplyInterrupted as error:
        typer.echo(f"error: {error}", err=True)
        raise typer.Exit(EXIT_INTERRUPTED) from None
    except KeyboardInterrupt:  # stopped where no step was running (reconciler/interrupts.py)
        typer.echo(
            "error: interrupted. Run `reconcile plan` to see where the cluster stands.", err=True
        )
        raise typer.Exit(EXIT_INTERRUPTED) from None
    raise typer.Exit(code)


def _refuse_options_before(ctx: typer.Context) -> None:
    """`reconcile --repo X status` would plan nothing and ignore --repo: say so."""
    typed = [param.opts[0] for param in ctx.command.params if given(ctx, param.name)]
    if typed:
        raise OptionError(
            f"{', '.join(typed)} before the command name {ctx.invoked_subcommand!r} would "
            f"have no effect: put {'it' if len(typed) == 1 else 'them'} after it "
            f"(`reconcile {ctx.invoked_subcommand} {typed[0]} ...`)"
        )


root = reconcile_command(None, "Plan (default) or apply (the group's help is the app's).")
plan = reconcile_command(
    "plan", "Show what would change (changes nothing). Exit 0 converged, 2 changes, 1 error."
)
apply = reconcile_command(
    "apply", "Make the changes (asks for 'yes' unless --auto-approve). Exit 0 converged, 1 not."
)
