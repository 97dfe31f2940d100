"""The tool's own folder: owner-only, self-ignored, and never a symbolic link."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest

from reconciler.errors import ConfigError
from reconciler.workdir import STATE_DIR_ENV, state_location, workdir


def test_it_is_created_owner_only_and_ignores_itself(tmp_path: Path) -> None:
    old = os.umask(0o022)
    try:
        root = workdir(tmp_path)
    finally:
        os.umask(old)
    assert stat.S_IMODE(root.stat().st_mode) == 0o700
    assert (root / ".gitignore").read_text().splitlines()[-1] == "*"
    assert stat.S_IMODE((root / ".gitignore").stat().st_mode) == 0o600


def test_an_existing_open_folder_is_closed(tmp_path: Path) -> None:
    (tmp_path / ".reconcile").mkdir(mode=0o755)
    os.chmod(tmp_path / ".reconcile", 0o755)
    assert stat.S_IMODE(workdir(tmp_path).stat().st_mode) == 0o700


@pytest.mark.parametrize("dangling", [True, False])
def test_a_symbolic_link_is_refused_and_its_target_left_alone(
    tmp_path: Path, dangling: bool
) -> None:
    """Review finding: a dangling link gave a traceback, a live one chmodded its target."""
    shared = tmp_path / "shared"
    if not dangling:
        shared.mkdir(mode=0o755)
        os.chmod(shared, 0o755)
    repo = tmp_path / "repo"
    repo.mkdir()
    (repo / ".reconcile").symlink_to(shared)
    with pytest.raises(ConfigError, match="is a symbolic link"):
        workdir(repo)
    if not dangling:
        assert stat.S_IMODE(shared.stat().st_mode) == 0o755


def test_the_state_dir_option_wins_over_the_environment_which_wins_over_the_repo(
    tmp_path: Path,
) -> None:
    repo, option, variable = tmp_path / "repo", tmp_path / "option", tmp_path / "variable"
    repo.mkdir()
    env = {STATE_DIR_ENV: str(variable)}
    assert state_location(repo, option, env) == option
    assert state_location(repo, None, env) == variable
    assert state_location(repo, None, {STATE_DIR_ENV: ""}) == repo / ".reconcile"
    assert state_location(repo, None, {}) == repo / ".reconcile"
    assert workdir(repo, None, env) == variable
    assert not (repo / ".reconcile").exists()


def test_a_state_dir_elsewhere_is_made_owner_only_with_its_missing_parents(
    tmp_path: Path,
) -> None:
    old = os.umask(0o022)
    try:
        root = workdir(tmp_path / "repo", tmp_path / "runner" / "state" / "org-repo")
    finally:
        os.umask(old)
    for folder in (root, root.parent, root.parent.parent):
        assert stat.S_IMODE(folder.stat().st_mode) == 0o700, folder


def test_a_state_dir_of_another_user_is_refused(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    shared = tmp_path / "shared"
    shared.mkdir(mode=0o755)
    os.chmod(shared, 0o755)
    monkeypatch.setattr(os, "getuid", lambda: shared.stat().st_uid + 1)
    with pytest.raises(ConfigError, match="belongs to another user"):
        workdir(tmp_path / "repo", shared)
    assert stat.S_IMODE(shared.stat().st_mode) == 0o755
