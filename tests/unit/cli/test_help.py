"""Every ``--help`` matches its golden file: the CLI's text is a user interface, and a refactor
of the code behind it must not move a word of it.

One file per command under ``help/`` (``root.txt``, ``plan.txt``, ``certs-check.txt`` ...),
printed at a fixed width. After a deliberate change of a help text, regenerate them with
``UPDATE_HELP_GOLDEN=1 pytest tests/unit/cli/test_help.py`` and review the diff.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest
import typer.main
from typer.core import TyperGroup
from typer.testing import CliRunner

from reconciler.cli import app

GOLDEN = Path(__file__).parent / "help"
WIDTH = {"COLUMNS": "80", "TERMINAL_WIDTH": "80"}


def _commands(group: object, path: tuple[str, ...] = ()) -> list[tuple[str, ...]]:
    """The command paths below ``group``, itself first (``()`` is the root)."""
    found = [path]
    if isinstance(group, TyperGroup):
        for name in sorted(group.commands):
            found += _commands(group.commands[name], (*path, name))
    return found


COMMANDS = _commands(typer.main.get_command(app))


def _golden(path: tuple[str, ...]) -> Path:
    return GOLDEN / f"{'-'.join(path) or 'root'}.txt"


@pytest.mark.parametrize("path", COMMANDS, ids=lambda path: " ".join(path) or "root")
def test_help_is_unchanged(path: tuple[str, ...], monkeypatch: pytest.MonkeyPatch) -> None:
    for name, value in WIDTH.items():
        monkeypatch.setenv(name, value)
    result = CliRunner().invoke(app, [*path, "--help"], prog_name="reconcile", env=WIDTH)
    assert result.exit_code == 0, result.output
    golden = _golden(path)
    if os.environ.get("UPDATE_HELP_GOLDEN"):
        golden.write_text(result.output, encoding="utf-8")
    assert result.output == golden.read_text(encoding="utf-8")


def test_every_golden_file_is_a_command() -> None:
    """A golden file left behind by a removed or renamed command fails here."""
    assert {path.name for path in GOLDEN.glob("*.txt")} == {_golden(p).name for p in COMMANDS}
