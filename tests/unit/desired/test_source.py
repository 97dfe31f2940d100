"""Desired state from the working tree or from a git commit (``--ref``), and dirtiness."""

from __future__ import annotations

import json
import os
from pathlib import Path

import git
import pytest
import yaml

from reconciler.desired.source import GitRefSource, open_source
from reconciler.desired.validate import run_validate
from reconciler.errors import ConfigError, SourceReadError
from tests.unit.desired.labrepo import CERTS, CLUSTER, LabRepo
from tests.unit.desired.pki import NOW

ACTOR = git.Actor("Test", "test@example.invalid")


def _commit(repository: git.Repo, message: str) -> str:
    repository.git.add(all=True)
    commit = repository.index.commit(message, author=ACTOR, committer=ACTOR)
    return str(commit.hexsha)


def _validate(root: Path, ref: str | None, env: dict[str, str]) -> tuple[dict[str, object], int]:
    output, code = run_validate(root, [CLUSTER], ref, "json", env=env, now=NOW)
    document: dict[str, object] = json.loads(output)
    return document, code


@pytest.fixture
def two_commits(repo: LabRepo, tmp_path: Path) -> tuple[Path, str, str, git.Repo]:
    """A git repository: the first commit valid, the second with a duplicate address."""
    root = tmp_path / "gitops"
    root.mkdir()
    repository = git.Repo.init(root)
    repo.write(root)
    good = _commit(repository, "valid cluster")
    repo.node(2)["address"] = "10.0.0.2"
    repo.write(root)
    bad = _commit(repository, "break: duplicate address")
    return root, good, bad, repository


def test_validate_each_ref(two_commits: tuple[Path, str, str, git.Repo], repo: LabRepo) -> None:
    root, good, bad, repository = two_commits
    document, code = _validate(root, good, repo.env)
    assert code == 0
    assert document["git"] == {"commit": good, "dirty": False}
    document, code = _validate(root, "HEAD", repo.env)
    assert code == 1
    assert document["git"] == {"commit": bad, "dirty": False}
    findings = document["clusters"][0]["findings"]  # type: ignore[index]
    assert [f["key"] for f in findings] == ["nodes[2].address"]
    document, code = _validate(root, "HEAD~1", repo.env)
    assert (code, document["git"]) == (0, {"commit": good, "dirty": False})
    repository.close()


def test_ref_ignores_the_working_tree(
    two_commits: tuple[Path, str, str, git.Repo], repo: LabRepo
) -> None:
    root, good, _, repository = two_commits
    (root / CERTS / "ca.cer").write_bytes(b"broken in the working tree only\n")
    (root / "clusters" / f"{CLUSTER}.yaml").unlink()
    document, code = _validate(root, good, repo.env)
    assert code == 0
    assert document["git"] == {"commit": good, "dirty": False}
    repository.close()


def test_working_tree_is_clean_then_dirty(
    two_commits: tuple[Path, str, str, git.Repo], repo: LabRepo
) -> None:
    root, _, bad, repository = two_commits
    document, code = _validate(root, None, repo.env)
    assert (code, document["git"]) == (1, {"commit": bad, "dirty": False})
    text = yaml.safe_load((root / "clusters" / f"{CLUSTER}.yaml").read_text())
    text["nodes"][2]["address"] = "10.0.0.3"
    (root / "clusters" / f"{CLUSTER}.yaml").write_text(yaml.safe_dump(text))
    document, code = _validate(root, None, repo.env)
    assert (code, document["git"]) == (0, {"commit": bad, "dirty": True})
    output, _ = run_validate(root, [CLUSTER], None, "text", env=repo.env, now=NOW)
    assert output.splitlines()[0] == (
        f"desired state: {bad[:12]}, working tree has uncommitted changes"
    )
    repository.close()


def test_untracked_file_makes_the_tree_dirty(
    two_commits: tuple[Path, str, str, git.Repo], repo: LabRepo
) -> None:
    root, _, _, repository = two_commits
    (root / CERTS / "new.cer").write_bytes(b"new\n")
    document, _ = _validate(root, None, repo.env)
    assert document["git"]["dirty"] is True  # type: ignore[index]
    repository.close()


def test_unknown_ref_and_no_git(
    two_commits: tuple[Path, str, str, git.Repo], repo: LabRepo, tmp_path: Path
) -> None:
    root, _, _, repository = two_commits
    with pytest.raises(ConfigError, match="git ref 'no-such-branch' does not name a commit"):
        run_validate(root, [CLUSTER], "no-such-branch", "json", env=repo.env, now=NOW)
    plain = tmp_path / "plain"
    plain.mkdir()
    with pytest.raises(ConfigError, match="needs a git repository"):
        run_validate(plain, [CLUSTER], "HEAD", "json", env=repo.env, now=NOW)
    repository.close()


def test_ref_in_a_subdirectory_of_the_git_repository(repo: LabRepo, tmp_path: Path) -> None:
    repository = git.Repo.init(tmp_path)
    root = tmp_path / "ops"
    root.mkdir()
    repo.write(root)
    sha = _commit(repository, "gitops repo lives in ops/")
    document, code = _validate(root, sha, repo.env)
    assert (code, document["git"]) == (0, {"commit": sha, "dirty": False})
    with GitRefSource(root, sha) as source:
        assert source.cluster_names() == [CLUSTER]
        assert source.describe() == f"commit {sha[:12]} ({sha})"
    repository.close()


def test_working_tree_outside_git(repo: LabRepo, tmp_path: Path) -> None:
    repo.write(tmp_path)
    with open_source(tmp_path) as source:
        assert (source.commit, source.dirty) == (None, False)
        assert source.cluster_names() == [CLUSTER]


@pytest.mark.reliability(
    section="hostile-input",
    case="a file that is a symlink out of the repository (working tree) is refused",
)
def test_paths_cannot_leave_the_repository(repo: LabRepo, tmp_path: Path) -> None:
    root = tmp_path / "repo"
    root.mkdir()
    (tmp_path / "outside.cer").write_bytes(b"secret\n")
    os.symlink(tmp_path / "outside.cer", root / "link.cer")
    (root / "folder").mkdir()
    with open_source(root) as source:
        with pytest.raises(SourceReadError, match="outside the repository"):
            source.read_bytes("link.cer")
        with pytest.raises(SourceReadError, match="not a regular file"):
            source.read_bytes("folder")
        with pytest.raises(FileNotFoundError):
            source.read_bytes("missing.cer")


@pytest.mark.reliability(
    section="hostile-input",
    case="a file that is a symlink out of the repository (git ref) is refused",
)
def test_git_symlink_out_of_the_repository_is_refused(repo: LabRepo, tmp_path: Path) -> None:
    repository = git.Repo.init(tmp_path)
    (tmp_path / "inside.cer").write_bytes(b"inside\n")
    os.symlink("inside.cer", tmp_path / "good-link.cer")
    os.symlink("../outside.cer", tmp_path / "bad-link.cer")
    sha = _commit(repository, "links")
    with GitRefSource(tmp_path, sha) as source:
        assert source.read_bytes("good-link.cer") == b"inside\n"
        with pytest.raises(SourceReadError, match="symlink out of the repository"):
            source.read_bytes("bad-link.cer")
        with pytest.raises(FileNotFoundError):
            source.read_bytes("missing.cer")
    repository.close()


def test_missing_repository_directory(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="does not exist"):
        run_validate(tmp_path / "nope", [], None, "text")


def test_bad_format_is_a_config_error(repo: LabRepo, tmp_path: Path) -> None:
    repo.write(tmp_path)
    with pytest.raises(ConfigError, match="unknown --format 'yaml'; use one of: text, json"):
        run_validate(tmp_path, [CLUSTER], None, "yaml", env=repo.env, now=NOW)
