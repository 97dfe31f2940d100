"""`reconcile init`: a new GitOps repository; twice changes nothing; the workflows it writes are
the project's own .github/ (read from the checkout here; a wheel's build copies it in:
setup.py). What it pins for the workflows to install: tests/unit/test_init_requirements.py
(here, a local wheel file: no pip, no index)."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import git
import pytest
from typer.testing import CliRunner

from reconciler import __version__, init_requirements
from reconciler.ci import github as ci_github
from reconciler.ci.github import LOCK, NOT_COPIED, template_files, template_root, written_files
from reconciler.cli import app
from reconciler.desired.schema import render_schema
from reconciler.errors import ConfigError
from reconciler.init_repo import init_repo, render_report
from reconciler.init_requirements import REQUIREMENTS
from reconciler.mmp.known_hosts import parse_known_hosts
from tests.support.lab import LAB_MATERIAL, REPO
from tests.support.wheels import hold_pip_offline, make_wheel

VERSION = "1.2.3"


@pytest.fixture
def wheel(tmp_path_factory: pytest.TempPathFactory) -> str:
    """A cms-reconciler VERSION wheel file, outside the repositories the tests make."""
    return str(make_wheel(tmp_path_factory.mktemp("dist"), VERSION))


def tree(root: Path) -> dict[str, tuple[bytes, int]]:
    """Every file under root (git's own included): content and mode."""
    return {
        path.relative_to(root).as_posix(): (path.read_bytes(), path.stat().st_mode)
        for path in sorted(root.rglob("*"))
        if path.is_file()
    }


def test_the_templates_are_the_projects_github_folder() -> None:
    """From a checkout init reads .github/ itself; from an installed wheel (`make test-wheel`)
    the copy the build put in it: either way, the checkout's files less NOT_COPIED."""
    github = REPO / ".github"
    assert template_root().is_dir()
    project = {
        path.relative_to(github).as_posix(): path.read_bytes()
        for path in github.rglob("*")
        if path.is_file()
    }
    for excluded in NOT_COPIED:
        assert excluded in project, f"{excluded} is no longer in .github/: drop it from NOT_COPIED"
        del project[excluded]
    assert template_files() == project
    # The lock ships (init composes the pin from it) but is not written as it is.
    assert LOCK in template_files()
    assert LOCK not in written_files()


def test_no_copy_of_the_templates_is_committed_in_the_package() -> None:
    """The wheel's reconciler/templates/github/ is made by the build (setup.py), never kept in
    the checkout, where it would hide the checkout's own .github/ from init."""
    assert not (REPO / "reconciler" / "templates" / "github").exists()


def test_a_new_repository(tmp_path: Path, wheel: str) -> None:
    root = tmp_path / "ops"
    report = init_repo(root, VERSION, wheel)
    assert report.git_initialized
    assert {f.state for f in report.files} == {"created"}
    written = {f.path for f in report.files}
    assert {
        "README.md",
        ".gitignore",
        "clusters/known_hosts",
        "clusters/cluster.schema.json",
        "certs/.gitkeep",
        ".github/workflows/plan.yml",
        ".github/workflows/apply.yml",
        ".github/workflows/drift.yml",
        ".github/actions/setup/action.yml",
        ".github/scripts/sticky-comment.sh",
        REQUIREMENTS,
    } <= written
    assert ".github/workflows/test.yml" not in written  # the project's own `make test`
    assert not (root / "Makefile").exists()
    assert ".reconcile/" in (root / ".gitignore").read_text().splitlines()
    assert (root / "clusters" / "cluster.schema.json").read_text() == render_schema()
    known_hosts = (root / "clusters" / "known_hosts").read_text()
    parsed = parse_known_hosts(known_hosts)
    assert (parsed.lines, parsed.problems) == ((), ())  # comments only
    assert "reconcile hostkeys --cluster NAME --write" in known_hosts
    readme = (root / "README.md").read_text()
    for step in ("reconcile import", "reconcile hostkeys", "reconcile validate", "reconcile plan"):
        assert step in readme
    pinned = f".github/wheels/{Path(wheel).name}"
    assert f"{pinned} \\" in (root / REQUIREMENTS).read_text().splitlines()
    assert (root / pinned).read_bytes() == Path(wheel).read_bytes()
    assert not (root / ".github" / LOCK).exists()
    for script in (root / ".github" / "scripts").iterdir():
        assert script.stat().st_mode & stat.S_IXUSR, script
    repository = git.Repo(root)
    assert repository.head.reference.name == "main"
    assert not repository.head.is_valid()  # nothing committed


def test_twice_changes_nothing(tmp_path: Path, wheel: str) -> None:
    init_repo(tmp_path, VERSION, wheel)
    before = tree(tmp_path)
    report = init_repo(tmp_path, VERSION)  # the pin is there: no index is asked
    assert tree(tmp_path) == before
    assert not report.git_initialized
    assert {f.state for f in report.files} == {"kept"}
    assert not report.changed
    assert render_report(report).endswith("Nothing to do: every file is there.")


def test_a_changed_file_is_kept_and_a_missing_one_comes_back(tmp_path: Path, wheel: str) -> None:
    init_repo(tmp_path, VERSION, wheel)
    pin = (tmp_path / REQUIREMENTS).read_bytes()
    (tmp_path / "README.md").write_text("# ours\n")
    (tmp_path / ".github" / "workflows" / "drift.yml").unlink()
    report = init_repo(tmp_path, "9.9.9")  # a newer release keeps the pin there
    states = {f.path: f.state for f in report.files}
    assert states["README.md"] == "kept-differs"
    assert states[REQUIREMENTS] == "kept"
    assert states[".github/workflows/drift.yml"] == "created"
    assert (tmp_path / "README.md").read_text() == "# ours\n"
    assert (tmp_path / REQUIREMENTS).read_bytes() == pin
    text = render_report(report)
    assert "kept     README.md (differs from the template; not overwritten)" in text
    assert "created  .github/workflows/drift.yml" in text


def test_inside_a_git_repository_no_new_one(tmp_path: Path, wheel: str) -> None:
    git.Repo.init(tmp_path)
    report = init_repo(tmp_path / "ops", VERSION, wheel)
    assert not report.git_initialized
    assert not (tmp_path / "ops" / ".git").exists()
    assert report.git_root == tmp_path.absolute()
    assert f"inside the repository at {tmp_path}" in render_report(report)


def test_never_writes_through_a_symlink(tmp_path: Path, wheel: str) -> None:
    outside = tmp_path / "outside.txt"
    root = tmp_path / "ops"
    root.mkdir()
    os.symlink(outside, root / ".gitignore")  # dangling
    report = init_repo(root, VERSION, wheel)
    assert {f.path: f.state for f in report.files}[".gitignore"] == "kept-link"
    assert not outside.exists()


def test_the_cli(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # The default pin: this release, from a --find-links folder standing for the index.
    index = tmp_path.parent / f"{tmp_path.name}-index"
    make_wheel(index, __version__)
    hold_pip_offline(monkeypatch, index)
    # That wheel is not this reconcile's own: nothing to compare it with, even when the tests
    # run against an installed wheel (`make test-wheel`).
    monkeypatch.setattr(init_requirements, "installed_files", lambda: None)
    monkeypatch.chdir(tmp_path)
    runner = CliRunner()
    first = runner.invoke(app, ["init"])
    assert first.exit_code == 0, first.output
    assert "created  clusters/known_hosts" in first.output
    assert f"created  {REQUIREMENTS}" in first.output
    assert f"pin      cms-reconciler {__version__} from the package index" in first.output
    assert "git      initialized a repository on branch main" in first.output
    second = runner.invoke(app, ["init", "."])
    assert second.exit_code == 0, second.output
    assert "created" not in second.output
    assert "kept     clusters/known_hosts" in second.output
    # The new repository is found from its subfolders.
    (tmp_path / "clusters" / "lab.yaml").write_bytes(
        (LAB_MATERIAL / "clusters" / "lab.yaml").read_bytes()
    )
    monkeypatch.chdir(tmp_path / "certs")
    listed = runner.invoke(app, ["clusters"])
    assert listed.exit_code == 0, listed.output
    assert listed.output.startswith("lab  clusters/lab.yaml")


def test_a_file_is_not_a_folder(tmp_path: Path) -> None:
    (tmp_path / "taken").write_text("")
    result = CliRunner().invoke(app, ["init", str(tmp_path / "taken")])
    assert result.exit_code == 1
    assert "exists and is not a folder" in result.output


def test_a_wheel_reads_the_copy_its_build_made(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    packaged = tmp_path / "site-packages" / "reconciler"
    (packaged / "templates" / "github" / "workflows").mkdir(parents=True)
    (packaged / "templates" / "github" / "workflows" / "plan.yml").write_text("on: pull_request\n")
    (packaged / "templates" / "github" / "workflows" / "test.yml").write_text("not copied\n")
    monkeypatch.setattr(ci_github, "files", lambda package: packaged)
    assert template_files() == {"workflows/plan.yml": b"on: pull_request\n"}


def test_an_installation_without_the_templates_says_so(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    package = tmp_path / "site-packages" / "reconciler"
    (package / "ci").mkdir(parents=True)
    monkeypatch.setattr(ci_github, "files", lambda name: package)
    monkeypatch.setattr(ci_github, "__file__", str(package / "ci" / "github.py"))
    with pytest.raises(ConfigError, match=r"carries no \.github/ templates"):
        template_root()
