"""`reconcile validate --trusted-ref`: the pull request's variable names are never read."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import git

from reconciler.desired.validate import run_validate
from tests.support.lab import LAB_MATERIAL

TRUSTED_ENV = {"CMS_LAB_PASSWORD": "cms-lab", "CMS_LAB_KEY_PASSPHRASE": "cms-lab"}


def lab_git(tmp_path: Path) -> tuple[Path, git.Repo]:
    root = tmp_path / "gitops"
    for folder in ("clusters", "certs"):
        shutil.copytree(LAB_MATERIAL / folder, root / folder)
    return root, git.Repo.init(root)


def commit(repository: git.Repo) -> str:
    repository.git.add(A=True)
    repository.index.commit("c", author=git.Actor("t", "t@example.com"))
    return str(repository.head.commit.hexsha)


def findings(output: str) -> list[dict[str, str]]:
    return [
        finding for cluster in json.loads(output)["clusters"] for finding in cluster["findings"]
    ]


def test_keys_are_opened_with_the_trusted_variable_never_the_one_the_change_names(
    tmp_path: Path,
) -> None:
    root, repository = lab_git(tmp_path)
    base = commit(repository)
    cluster_file = root / "clusters" / "lab.yaml"
    cluster_file.write_text(
        cluster_file.read_text().replace(
            "key_passphrase_env: CMS_LAB_KEY_PASSPHRASE", "key_passphrase_env: SOME_SECRET"
        )
    )
    head = commit(repository)
    env = {**TRUSTED_ENV, "SOME_SECRET": "a value the keys are not encrypted with"}
    untrusted, code = run_validate(root, ["lab"], head, "json", env=env)
    assert code == 1  # SOME_SECRET was read, and tried on the keys
    assert any("SOME_SECRET" in finding["message"] for finding in findings(untrusted))
    trusted, code = run_validate(root, ["lab"], head, "json", env=env, trusted_ref=base)
    assert code == 0, trusted
    assert not any("SOME_SECRET" in finding["message"] for finding in findings(trusted))


def test_a_cluster_new_at_the_trusted_ref_is_checked_without_any_variable(
    tmp_path: Path,
) -> None:
    root, repository = lab_git(tmp_path)
    cluster_file = root / "clusters" / "lab.yaml"
    text = cluster_file.read_text()
    cluster_file.unlink()
    base = commit(repository)
    cluster_file.write_text(text)
    head = commit(repository)
    output, code = run_validate(root, ["lab"], head, "json", env=TRUSTED_ENV, trusted_ref=base)
    assert code == 0, output
    keys = [f for f in findings(output) if f["key"] == "certs.key_passphrase_env"]
    assert [f["severity"] for f in keys] == ["warning"]
    assert "not checked here" in keys[0]["message"]
    assert "does not exist at the trusted ref" in keys[0]["message"]
    cluster_file.write_text(text.replace("nodes:", "nodse:"))
    broken = commit(repository)
    _, code = run_validate(root, ["lab"], broken, "json", env=TRUSTED_ENV, trusted_ref=base)
    assert code == 1  # a structural error is still an error
