"""``reconcile apply --step`` is refused where it cannot ask, before anything is contacted."""

from __future__ import annotations

import shutil
import signal
from collections.abc import Iterator
from pathlib import Path

import pytest
from typer.testing import CliRunner

from reconciler.cli import app
from tests.support.lab import LAB_MATERIAL


@pytest.fixture(autouse=True)
def _keep_sigterm() -> Iterator[None]:
    """The root command makes SIGTERM stop like Ctrl-C; keep that out of the test process."""
    handler = signal.getsignal(signal.SIGTERM)
    yield
    signal.signal(signal.SIGTERM, handler)


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    """The lab's cluster files, whose nodes nobody serves: contacting one would fail."""
    root = tmp_path / "ops"
    shutil.copytree(LAB_MATERIAL / "clusters", root / "clusters")
    return root


def run(*args: str) -> tuple[int, str]:
    result = CliRunner().invoke(app, list(args))  # stdin is no terminal here
    return result.exit_code, result.output


@pytest.mark.parametrize("mode", [["apply"], ["--apply"]])
def test_step_without_a_terminal_is_an_error_before_anything_is_contacted(
    mode: list[str], repo: Path
) -> None:
    code, output = run(*mode, "--step", "--cluster", "lab", "--repo", str(repo))
    assert code == 1
    assert "error: --step asks before each step that changes a node and needs a terminal" in (
        output
    )
    assert "nothing was contacted" in output
    assert not (repo / ".reconcile").exists()  # no lock, no journal


def test_step_with_auto_approve_is_refused(repo: Path) -> None:
    code, output = run("apply", "--step", "--auto-approve", "--repo", str(repo))
    assert code == 1
    assert "--step asks a person before each step and --auto-approve asks nobody" in output


@pytest.mark.parametrize("mode", [[], ["plan"]])
def test_step_on_a_plan_is_refused(mode: list[str], repo: Path) -> None:
    code, output = run(*mode, "--step", "--repo", str(repo))
    assert code == 1
    assert "error: --step has no effect on a plan" in output


def test_apply_help_describes_step() -> None:
    code, output = run("apply", "--help")
    assert code == 0
    assert "--step" in output
