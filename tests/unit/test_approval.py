"""The approval question of ``reconcile --apply`` on a terminal, as the operator sees it."""

from __future__ import annotations

import io
from pathlib import Path

import pytest
from click.testing import CliRunner
from rich.console import Console

from reconciler.cli import ask_on_terminal
from reconciler.errors import Refused
from reconciler.reconcile import ReconcileOptions, Terminal, _approve
from tests.unit.plan.test_render_plans import lab_seed_plan


def asked(answer: str) -> tuple[bool | None, str]:
    """Ask for approval through the CLI's own asker, ``answer`` typed: whether apply may go
    on (None: refused), and what the terminal showed on stderr."""
    console = Console(file=io.StringIO())
    terminal = Terminal(out=console, err=console, ask=ask_on_terminal)
    options = ReconcileOptions(repo=Path("."), clusters=[], apply=True)
    with CliRunner().isolation(input=answer + "\n") as (_, err, _):
        try:
            approved: bool | None = _approve(lab_seed_plan(), options, terminal)
        except Refused:
            approved = None
        return approved, err.getvalue().decode()


@pytest.mark.parametrize(("answer", "approved"), [("yes", True), ("y", None)])
def test_the_question_ends_in_one_colon(answer: str, approved: bool | None) -> None:
    """Issue 23: it read ``Only 'yes' is accepted: :`` (the question's own colon, then
    the one the prompt adds). Click writes the prompt's last space with the input."""
    assert asked(answer) == (approved, "Apply this plan? Only 'yes' is accepted:")
