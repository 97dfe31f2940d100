""".github/scripts/install-reconcile.sh refuses, with one ::error:: line and before making a venv,
a repository whose pin is missing (one that is not cms-reconciler's own checkout) and a git pin
that is not a full commit id. Installing: tests/e2e/test_installed_wheel.py (a repository made
by init) and tests/workflows/test_requirements_lock.py (this checkout)."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

from tests.support.lab import REPO

SCRIPT = ".github/scripts/install-reconcile.sh"


def install(repo: Path, tmp_path: Path) -> subprocess.CompletedProcess[str]:
    """The script as the setup action runs it, from ``repo``'s .github."""
    (repo / SCRIPT).parent.mkdir(parents=True, exist_ok=True)
    shutil.copy2(REPO / SCRIPT, repo / SCRIPT)
    runner_temp = tmp_path / "runner-temp"
    runner_temp.mkdir(exist_ok=True)
    env = {
        **os.environ,
        "RUNNER_TEMP": str(runner_temp),
        "GITHUB_PATH": str(tmp_path / "github-path"),
    }
    return subprocess.run(
        [repo / SCRIPT], env=env, capture_output=True, text=True, timeout=60, check=False
    )


def test_a_repository_without_its_pin_is_told_how_to_make_one(tmp_path: Path) -> None:
    repo = tmp_path / "ops"
    (repo / ".github").mkdir(parents=True)
    (repo / "pyproject.toml").write_text('[project]\nname = "another-project"\n')
    run = install(repo, tmp_path)
    assert run.returncode == 1
    (line,) = run.stderr.splitlines()
    assert line.startswith(
        "::error file=.github/reconcile-requirements.txt::"
        ".github/reconcile-requirements.txt is missing"
    )
    assert "`reconcile init --requirement SPEC`" in line
    assert not (tmp_path / "runner-temp" / "cms-reconciler").exists()  # no venv made


def test_a_git_pin_must_be_a_full_commit(tmp_path: Path) -> None:
    repo = tmp_path / "ops"
    (repo / ".github").mkdir(parents=True)
    (repo / ".github" / "reconcile-requirements.txt").write_text("# dependencies\n")
    commit = "0123456789abcdef0123456789abcdef01234567"
    (repo / ".github" / "reconcile-git.txt").write_text(
        f"# a comment\n\ncms-reconciler @ git+https://git.example.com/c.git@{commit}\n"
        "cms-reconciler @ git+https://git.example.com/c.git@main\n"
    )
    run = install(repo, tmp_path)
    assert run.returncode == 1
    (line,) = run.stderr.splitlines()
    assert line.startswith("::error file=.github/reconcile-git.txt::every line of")
    assert "a full commit id" in line
    assert not (tmp_path / "runner-temp" / "cms-reconciler").exists()
