"""``reconcile clusters --changed-since`` against real git repositories (no network).

Each repository holds the lab's ``clusters/`` and ``certs/`` plus a second cluster ``other``
(its own addresses, certificate folder and variables, pinned in the shared known_hosts).
"""

from __future__ import annotations

import base64
import json
import os
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import git
import pytest

from reconciler.desired.changes import list_clusters
from reconciler.errors import ConfigError
from tests.support import cli
from tests.support.lab import LAB_MATERIAL

PROJECT = Path(__file__).resolve().parents[3]
ACTOR = git.Actor("Test", "test@example.invalid")
LAB_ENV = ["CMS_LAB_PASSWORD", "CMS_LAB_KEY_PASSPHRASE"]
OTHER_ENV = ["CMS_OTHER_PASSWORD", "CMS_OTHER_KEY_PASSPHRASE"]


def host_key(seed: int) -> str:
    """A well-formed ssh-ed25519 public key (base64) that no server holds."""
    parts = (b"ssh-ed25519", bytes([seed]) * 32)
    return base64.b64encode(b"".join(len(p).to_bytes(4, "big") + p for p in parts)).decode()


def write_gitops(root: Path) -> Path:
    """The lab, plus ``other`` on 127.0.86.73-75 with certs/other/ and its own pins."""
    for folder in ("clusters", "certs"):
        shutil.copytree(LAB_MATERIAL / folder, root / folder)
    lab = (root / "clusters" / "lab.yaml").read_text()
    other = (
        lab.replace("name: lab", "name: other")
        .replace("127.0.85.", "127.0.86.")
        .replace("CMS_LAB_", "CMS_OTHER_")
        .replace("certs/lab/", "certs/other/")
    )
    (root / "clusters" / "other.yaml").write_text(other)
    shutil.copytree(root / "certs" / "lab", root / "certs" / "other")
    with (root / "clusters" / "known_hosts").open("a") as pins:
        for n in (73, 74, 75):
            pins.write(f"[127.0.86.{n}]:2222 ssh-ed25519 {host_key(n)}\n")
    return root


def commit(repository: git.Repo, message: str) -> str:
    repository.git.add(all=True)
    return str(repository.index.commit(message, author=ACTOR, committer=ACTOR).hexsha)


@pytest.fixture
def gitops(tmp_path: Path) -> Iterator[tuple[Path, git.Repo, str]]:
    """A git repository with lab and other committed: (root, repository, first commit)."""
    root = write_gitops(tmp_path / "gitops")
    repository = git.Repo.init(root)
    first = commit(repository, "two clusters")
    yield root, repository, first
    repository.close()


def listed(root: Path, since: str | None) -> list[str]:
    return [cluster.name for cluster in list_clusters(root, since).clusters]


def run_cli(*args: str) -> subprocess.CompletedProcess[str]:
    """The real CLI, as a workflow step runs it (in a process of its own)."""
    return cli.run(
        ["clusters", *args], cwd=PROJECT, env={**os.environ, "NO_COLOR": "1"}, timeout=60
    )


def essentials(listing: dict[str, Any]) -> list[dict[str, Any]]:
    """Each listed cluster's name, file and variables (the matrix's original fields)."""
    return [{key: entry[key] for key in ("name", "file", "env")} for entry in listing["clusters"]]


def rotate(folder: Path) -> None:
    """New certificate files (content is not checked here: only that they changed)."""
    for name in ("dbclusterserver.cer", "dbclusterclient.cer"):
        path = folder / name
        path.write_bytes(path.read_bytes() + b"\n")


def test_a_rotation_lists_only_the_rotated_cluster(gitops: tuple[Path, git.Repo, str]) -> None:
    root, repository, first = gitops
    rotate(root / "certs" / "lab")
    commit(repository, "rotate lab")
    result = run_cli("--repo", str(root), "--changed-since", first, "--format", "json")
    assert result.returncode == 0, result.stderr
    assert result.stdout.count("\n") == 1  # one line: fit for $GITHUB_OUTPUT
    listing = json.loads(result.stdout)
    assert essentials(listing) == [{"name": "lab", "file": "clusters/lab.yaml", "env": LAB_ENV}]
    assert listing["removed"] == []
    (lab,) = listing["clusters"]
    assert lab["last_change"] == repository.head.commit.hexsha
    assert lab["secrets"] == [
        {"secret": "CMS_SSH_PASSWORD", "env": "CMS_LAB_PASSWORD", "file": False},
        {"secret": "CMS_KEY_PASSPHRASE", "env": "CMS_LAB_KEY_PASSPHRASE", "file": False},
    ]
    text = run_cli("--repo", str(root), "--changed-since", "HEAD~1")
    assert text.returncode == 0, text.stderr
    assert text.stdout == "lab  clusters/lab.yaml  needs CMS_LAB_PASSWORD, CMS_LAB_KEY_PASSPHRASE\n"


def test_without_changed_since_every_cluster(gitops: tuple[Path, git.Repo, str]) -> None:
    root, _, _ = gitops
    result = run_cli("--repo", str(root), "--format", "json")
    assert result.returncode == 0, result.stderr
    assert essentials(json.loads(result.stdout)) == [
        {"name": "lab", "file": "clusters/lab.yaml", "env": LAB_ENV},
        {"name": "other", "file": "clusters/other.yaml", "env": OTHER_ENV},
    ]


def test_nothing_changed(gitops: tuple[Path, git.Repo, str]) -> None:
    root, repository, first = gitops
    (root / "README.md").write_text("notes\n")
    commit(repository, "docs")
    result = run_cli("--repo", str(root), "--changed-since", first)
    assert (result.returncode, result.stderr) == (0, "")
    assert result.stdout.startswith(f"no cluster changed since {first} (")
    json_result = run_cli("--repo", str(root), "--changed-since", first, "--format", "json")
    assert json.loads(json_result.stdout) == {"clusters": [], "removed": []}


def test_pins_count_for_the_cluster_whose_node_they_pin(
    gitops: tuple[Path, git.Repo, str],
) -> None:
    root, repository, _ = gitops
    pins = root / "clusters" / "known_hosts"
    original = pins.read_text()
    pins.write_text(original.replace(host_key(74), host_key(99)))  # other's cms2 re-keyed
    commit(repository, "re-key other cms2")
    assert listed(root, "HEAD~1") == ["other"]
    lab_pin = next(line for line in original.splitlines() if line.startswith("[127.0.85.74]"))
    with pins.open("a") as file:
        file.write(f"# lab's cms2 re-keyed on 2026-12-01\n@revoked * {lab_pin.split(' ', 1)[1]}\n")
    commit(repository, "revoke lab cms2's old key")
    assert listed(root, "HEAD~1") == ["lab"]
    with pins.open("a") as file:
        file.write("# a comment changes no pin\n")
    commit(repository, "comment")
    assert listed(root, "HEAD~1") == []
    with pins.open("a") as file:
        file.write("[127.0.9.9]:22 ssh-ed25519 not-base64!\n")
    commit(repository, "a line the transport refuses, for every cluster")
    assert listed(root, "HEAD~1") == ["lab", "other"]


def test_a_yaml_that_does_not_load_is_still_listed(gitops: tuple[Path, git.Repo, str]) -> None:
    root, repository, first = gitops
    other = root / "clusters" / "other.yaml"
    other.write_text(other.read_text().replace("nodes:", "nodse:"))
    commit(repository, "typo")
    result = run_cli("--repo", str(root), "--changed-since", first, "--format", "json")
    assert result.returncode == 0, result.stderr
    assert essentials(json.loads(result.stdout)) == [
        {"name": "other", "file": "clusters/other.yaml", "env": []}
    ]
    rotate(root / "certs" / "lab")
    commit(repository, "rotate lab; other still broken")
    text = run_cli("--repo", str(root), "--changed-since", "HEAD~1")
    assert text.stdout.splitlines() == [
        "lab    clusters/lab.yaml    needs CMS_LAB_PASSWORD, CMS_LAB_KEY_PASSPHRASE",
        "other  clusters/other.yaml  does not load (reconcile validate --cluster other says why)",
    ]


def test_a_bad_ref_is_a_clear_error(gitops: tuple[Path, git.Repo, str]) -> None:
    root, _, _ = gitops
    result = run_cli("--repo", str(root), "--changed-since", "origin/main")
    assert result.returncode == 1
    assert result.stdout == ""
    assert "error: --changed-since 'origin/main' does not name a commit" in result.stderr
    assert "Traceback" not in result.stderr


def test_the_all_zero_sha_says_to_omit_the_option(gitops: tuple[Path, git.Repo, str]) -> None:
    root, _, _ = gitops
    result = run_cli("--repo", str(root), "--changed-since", "0" * 40, "--format", "json")
    assert result.returncode == 1
    assert result.stdout == ""
    assert "all-zero SHA" in result.stderr
    assert "omit --changed-since to list every cluster" in result.stderr
    empty = run_cli("--repo", str(root), "--changed-since", "")
    assert empty.returncode == 1
    assert "--changed-since is empty" in empty.stderr


def test_a_deleted_cluster_is_not_listed_but_noted(gitops: tuple[Path, git.Repo, str]) -> None:
    root, repository, first = gitops
    (root / "clusters" / "other.yaml").unlink()
    shutil.rmtree(root / "certs" / "other")
    commit(repository, "decommission other")
    result = run_cli("--repo", str(root), "--changed-since", first)
    assert result.returncode == 0
    assert result.stdout.startswith("no cluster changed since")
    assert f"clusters/other.yaml was deleted since {first}" in result.stderr


def test_renames_count_under_both_names(gitops: tuple[Path, git.Repo, str]) -> None:
    root, repository, first = gitops
    repository.index.move(["clusters/other.yaml", "clusters/moved.yaml"])
    moved = root / "clusters" / "moved.yaml"
    moved.write_text(moved.read_text().replace("name: other", "name: moved"))
    commit(repository, "rename other")
    result = run_cli("--repo", str(root), "--changed-since", first)
    assert result.returncode == 0
    assert result.stdout.split()[:2] == ["moved", "clusters/moved.yaml"]
    assert "clusters/other.yaml was renamed to clusters/moved.yaml" in result.stderr
    # A certificate renamed without touching the YAML: the YAML names a file that is gone.
    repository.index.move(["certs/lab/CAVD.cer", "certs/lab/ca.cer"])
    commit(repository, "rename lab's CA file")
    assert listed(root, "HEAD~1") == ["lab"]


def test_uncommitted_changes_do_not_count(gitops: tuple[Path, git.Repo, str]) -> None:
    root, _, _ = gitops
    rotate(root / "certs" / "lab")
    listing = list_clusters(root, "HEAD")
    assert listing.clusters == ()
    assert any("uncommitted change(s)" in note for note in listing.notes)


def test_a_symlinked_certificate_changes_with_its_target(
    gitops: tuple[Path, git.Repo, str],
) -> None:
    root, repository, _ = gitops
    shared = root / "certs" / "other" / "CAVD.cer"
    shared.unlink()
    os.symlink("../lab/CAVD.cer", shared)
    commit(repository, "other uses lab's CA file")
    ca = root / "certs" / "lab" / "CAVD.cer"
    ca.write_bytes(ca.read_bytes() + b"\n")
    commit(repository, "new CA")
    assert listed(root, "HEAD~1") == ["lab", "other"]


def test_repo_in_a_subfolder_of_a_git_repository(tmp_path: Path) -> None:
    top = tmp_path / "monorepo"
    ops = write_gitops(top / "infra" / "cms")
    (top / "clusters").mkdir()
    (top / "clusters" / "lab.yaml").write_text("not this one\n")
    repository = git.Repo.init(top)
    first = commit(repository, "monorepo")
    rotate(ops / "certs" / "other")
    (top / "clusters" / "lab.yaml").write_text("changed outside --repo\n")
    commit(repository, "rotate other")
    result = run_cli("--repo", str(ops), "--changed-since", first, "--format", "json")
    assert result.returncode == 0, result.stderr
    assert essentials(json.loads(result.stdout)) == [
        {"name": "other", "file": "clusters/other.yaml", "env": OTHER_ENV}
    ]
    pins = ops / "clusters" / "known_hosts"
    pins.write_text(pins.read_text().replace(host_key(73), host_key(98)))
    commit(repository, "re-key other cms1")
    assert listed(ops, "HEAD~1") == ["other"]
    # A link out of --repo (the working tree source refuses it): listed, so its plan says so.
    shared = top / "shared" / "ca.cer"
    shared.parent.mkdir()
    shutil.move(ops / "certs" / "lab" / "CAVD.cer", shared)
    os.symlink("../../../../shared/ca.cer", ops / "certs" / "lab" / "CAVD.cer")
    commit(repository, "lab's CA file from the shared folder")
    shared.write_bytes(shared.read_bytes() + b"\n")
    commit(repository, "new shared CA")
    assert listed(ops, "HEAD~1") == ["lab"]
    repository.close()


def test_outside_git_or_before_the_first_commit(tmp_path: Path) -> None:
    root = write_gitops(tmp_path / "plain")
    assert listed(root, None) == ["lab", "other"]
    with pytest.raises(ConfigError, match="needs a git repository"):
        list_clusters(root, "HEAD")
    git.Repo.init(root).close()
    with pytest.raises(ConfigError, match="no commit yet"):
        list_clusters(root, "HEAD")
