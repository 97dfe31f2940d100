"""The tool's own folder: owner-only, self-ignored, and never a symbolic link."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest

from reconciler.errors import ConfigError
from reconciler.workdir import workdir


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
