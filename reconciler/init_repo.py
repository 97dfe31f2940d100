"""``reconcile init [DIR]``: a new GitOps repository, ready for its first cluster.

It writes ``clusters/known_hosts`` (how to pin), ``clusters/cluster.schema.json`` (what
``reconcile schema`` prints), ``certs/.gitkeep``, ``.gitignore`` (``.reconcile/``), a
``README.md`` saying what to do next, and ``.github/``: this project's workflows, setup
action and scripts (package data under ``reconciler/templates/github``, which a test keeps
identical to the project's own ``.github``), less the project's own test workflow, plus
``.github/reconcile-requirements.txt`` pinning this release for the setup action.

Each file is written only when absent: one that exists is kept, whoever changed it, so a
second run changes nothing. A DIR outside any git work tree becomes one (``git init`` on
branch ``main``, the branch apply.yml watches); nothing is committed.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from dataclasses import dataclass
from importlib.resources import files
from importlib.resources.abc import Traversable
from pathlib import Path
from typing import Literal

from reconciler.errors import ConfigError

TEMPLATES = "templates"
GITHUB_MIRROR = "github"  # templates/github/<path> is written to .github/<path>
# The project's own tests (`make test`) and its own lock of reconcile's dependencies (a
# repository made by init pins the release in .github/reconcile-requirements.txt instead).
NOT_COPIED = ("workflows/test.yml", "requirements.in", "requirements.txt")
REQUIREMENTS = ".github/reconcile-requirements.txt"
BRANCH = "main"

FileState = Literal["created", "kept", "kept-differs"]


@dataclass(frozen=True)
class FileOutcome:
    path: str  # relative to the repository, with /
    state: FileState


@dataclass(frozen=True)
class InitReport:
    root: Path
    files: tuple[FileOutcome, ...]
    git_root: Path  # the work tree DIR is in (DIR itself when init made it one)
    git_initialized: bool

    @property
    def changed(self) -> bool:
        return self.git_initialized or any(f.state == "created" for f in self.files)


def templates() -> Traversable:
    return files("reconciler") / TEMPLATES


def github_files() -> dict[str, bytes]:
    """What init writes under ``.github/``, by path relative to it (``workflows/plan.yml``)."""
    return {
        path: entry.read_bytes()
        for path, entry in _walk(templates() / GITHUB_MIRROR, "")
        if path not in NOT_COPIED
    }


def _walk(folder: Traversable, prefix: str) -> Iterator[tuple[str, Traversable]]:
    for entry in sorted(folder.iterdir(), key=lambda item: item.name):
        path = f"{prefix}{entry.name}"
        if entry.is_dir():
            yield from _walk(entry, f"{path}/")
        else:
            yield path, entry


def requirements(version: str) -> str:
    return (
        "# The reconcile that .github/actions/setup installs on the runners; upgrade it by pull\n"
        "# request. If your package index lacks cms-reconciler, name your copy instead, e.g.\n"
        "#   cms-reconciler @ git+https://git.example.com/you/cms-reconciler@v" + version + "\n"
        f"cms-reconciler=={version}\n"
    )


def planned_files(version: str) -> dict[str, bytes]:
    """Every file init writes, by repository path, with its content."""
    from reconciler.desired.schema import SCHEMA_FILE, render_schema

    stubs = templates() / "stubs"
    wanted = {
        "README.md": (stubs / "README.md").read_bytes(),
        ".gitignore": (stubs / "gitignore").read_bytes(),
        "clusters/known_hosts": (stubs / "known_hosts").read_bytes(),
        SCHEMA_FILE: render_schema().encode(),
        "certs/.gitkeep": b"",
    }
    wanted.update({f".github/{path}": data for path, data in github_files().items()})
    wanted[REQUIREMENTS] = requirements(version).encode()
    return wanted


def init_repo(root: Path, version: str) -> InitReport:
    """Create what is missing in ``root`` (made if absent); never touch what exists."""
    if root.exists() and not root.is_dir():
        raise ConfigError(f"{root} exists and is not a folder")
    try:
        root.mkdir(parents=True, exist_ok=True)
        outcomes = tuple(_write(root, path, data) for path, data in planned_files(version).items())
    except OSError as error:
        raise ConfigError(f"cannot write the repository in {root}: {error}") from None
    git_root = _git_root(root)
    if git_root is not None:
        return InitReport(root, outcomes, git_root, git_initialized=False)
    _git_init(root)
    return InitReport(root, outcomes, root.absolute(), git_initialized=True)


def _write(root: Path, path: str, data: bytes) -> FileOutcome:
    target = root / path
    if os.path.lexists(target):
        same = target.is_file() and not target.is_symlink() and target.read_bytes() == data
        return FileOutcome(path, "kept" if same else "kept-differs")
    target.parent.mkdir(parents=True, exist_ok=True)
    # "x": never through a dangling symlink, never over a file made meanwhile.
    with open(target, "xb") as stream:
        stream.write(data)
    if path.endswith(".sh"):
        target.chmod(0o755)  # the workflows run the scripts directly
    return FileOutcome(path, "created")


def _git_root(folder: Path) -> Path | None:
    folder = folder.absolute()
    for candidate in (folder, *folder.parents):
        if (candidate / ".git").exists():
            return candidate
    return None


def _git_init(root: Path) -> None:
    import git

    try:
        repository = git.Repo.init(root)
        # Whatever init.defaultBranch says: apply.yml applies what is pushed to main.
        repository.git.symbolic_ref("HEAD", f"refs/heads/{BRANCH}")
    except (git.GitCommandError, OSError) as error:
        raise ConfigError(f"cannot make {root} a git repository: {error}") from None


def render_report(report: InitReport) -> str:
    """One line per file (created or kept), then git, then what to do next."""
    lines = []
    for outcome in report.files:
        if outcome.state == "created":
            lines.append(f"created  {outcome.path}")
        elif outcome.state == "kept":
            lines.append(f"kept     {outcome.path}")
        else:
            lines.append(f"kept     {outcome.path} (differs from the template; not overwritten)")
    if report.git_initialized:
        lines.append(f"git      initialized a repository on branch {BRANCH}; nothing committed")
    elif report.git_root == report.root.absolute():
        lines.append("git      already a repository")
    else:
        lines.append(
            f"git      inside the repository at {report.git_root}: GitHub runs only the "
            f"workflows in {report.git_root / '.github'}"
        )
    if report.changed:
        lines.append("Next: README.md (import a cluster, pin its host keys, validate, plan).")
    else:
        lines.append("Nothing to do: every file is there.")
    return "\n".join(lines)
