"""Finding the GitOps repository from a subfolder, as git finds .git."""

from __future__ import annotations

from pathlib import Path

from reconciler.repo_root import find_repo_root


def test_the_folder_itself(tmp_path: Path) -> None:
    (tmp_path / "clusters").mkdir()
    assert find_repo_root(tmp_path) == tmp_path


def test_the_nearest_ancestor_with_clusters(tmp_path: Path) -> None:
    (tmp_path / "clusters").mkdir()
    (tmp_path / "a" / "clusters").mkdir(parents=True)
    deep = tmp_path / "a" / "certs" / "lab"
    deep.mkdir(parents=True)
    assert find_repo_root(deep) == tmp_path / "a"
    assert find_repo_root(tmp_path / "a" / "clusters") == tmp_path / "a"


def test_the_git_root_is_searched_and_is_the_limit(tmp_path: Path) -> None:
    (tmp_path / "clusters").mkdir()  # outside the work tree: never found from inside it
    work_tree = tmp_path / "repo"
    (work_tree / ".git").mkdir(parents=True)
    (work_tree / "docs").mkdir()
    assert find_repo_root(work_tree / "docs") == work_tree / "docs"
    (work_tree / "clusters").mkdir()
    assert find_repo_root(work_tree / "docs") == work_tree


def test_a_submodule_git_file_is_a_limit_too(tmp_path: Path) -> None:
    (tmp_path / "clusters").mkdir()
    (tmp_path / "sub").mkdir()
    (tmp_path / "sub" / ".git").write_text("gitdir: ../.git/modules/sub\n")
    assert find_repo_root(tmp_path / "sub") == tmp_path / "sub"


def test_nothing_found_is_the_start(tmp_path: Path) -> None:
    (tmp_path / ".git").mkdir()
    (tmp_path / "x").mkdir()
    assert find_repo_root(tmp_path / "x") == tmp_path / "x"


def test_a_file_named_clusters_is_not_a_repository(tmp_path: Path) -> None:
    (tmp_path / ".git").mkdir()
    (tmp_path / "x").mkdir()
    (tmp_path / "x" / "clusters").write_text("")
    assert find_repo_root(tmp_path / "x") == tmp_path / "x"
