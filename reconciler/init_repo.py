"""``reconcile init [DIR]``: a new GitOps repository, ready for its first cluster.

It writes ``clusters/known_hosts`` (how to pin), ``clusters/cluster.schema.json`` (what
``reconcile schema`` prints), ``certs/.gitkeep``, ``.gitignore`` (``.reconcile/``), a
``README.md`` saying what to do next, and ``.github/``: this project's workflows, setup
action and scripts (its own ``.github/``, which the wheel carries: ``reconciler.ci.github``),
less the project's own tests, release and lock, plus the pin of what the setup action
installs: ``.github/reconcile-requirements.txt``, every line hashed, composed from that lock
(``reconciler/init_requirements.py``).

Each file is written only when absent: one that exists is kept, whoever changed it, so a
second run changes nothing (and, with the pin there already, asks no package index). The pin
is chosen before anything is written: a ``--requirement`` that cannot be pinned writes nothing;
when the default pin cannot be made, every other file is written and the report says what to
do first (exit 2). A DIR outside any git work tree becomes one (``git init`` on
branch ``main``, the branch apply.yml watches); nothing is committed.

Nothing is written outside DIR: every folder a file goes in must resolve inside it
(``repo_root.repo_file``), so a symlinked ``.github`` leading elsewhere refuses the whole run,
checked for every path before anything is written; a symbolic link where a file goes is kept,
never written through, and reported as a link (not compared with the template).
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from importlib.resources import files
from importlib.resources.abc import Traversable
from pathlib import Path, PurePosixPath
from typing import Literal

from reconciler.ci.github import FOLDER, written_files
from reconciler.ci.github import project_lock as project_lock  # its tests import it from here
from reconciler.errors import ConfigError, OptionError
from reconciler.init_requirements import (
    GIT_REQUIREMENT,
    OPTION,
    REQUIREMENTS,
    Pin,
    Unpinned,
    pin_release,
    render_pin,
)
from reconciler.repo_root import repo_file

TEMPLATES = "templates"  # package data: stubs/ (the GitHub templates: ci.github)
BRANCH = "main"
EXIT_UNPINNED = 2
"""Written, but the pin is missing: the workflows cannot install reconcile until it is made."""

FileState = Literal["created", "kept", "kept-differs", "kept-link"]


@dataclass(frozen=True)
class FileOutcome:
    path: str  # relative to the repository, with /
    state: FileState
    link: str = ""  # kept-link: what the symbolic link names, as written in it
    dangling: bool = False  # kept-link: it names nothing that exists


@dataclass(frozen=True)
class InitReport:
    root: Path
    files: tuple[FileOutcome, ...]
    git_root: Path  # the work tree DIR is in (DIR itself when init made it one)
    git_initialized: bool
    pin: Pin | Unpinned | None  # None: REQUIREMENTS was there already (kept)

    @property
    def changed(self) -> bool:
        return self.git_initialized or any(f.state == "created" for f in self.files)

    @property
    def exit_code(self) -> int:
        return EXIT_UNPINNED if isinstance(self.pin, Unpinned) else 0


def templates() -> Traversable:
    return files("reconciler") / TEMPLATES


def planned_files() -> dict[str, bytes]:
    """Every file init writes, by repository path, with its content, less the pin."""
    from reconciler.desired.schema import SCHEMA_FILE, render_schema

    stubs = templates() / "stubs"
    wanted = {
        "README.md": (stubs / "README.md").read_bytes(),
        ".gitignore": (stubs / "gitignore").read_bytes(),
        "clusters/known_hosts": (stubs / "known_hosts").read_bytes(),
        SCHEMA_FILE: render_schema().encode(),
        "certs/.gitkeep": b"",
    }
    wanted.update({f"{FOLDER}/{path}": data for path, data in written_files().items()})
    return wanted


def init_repo(
    root: Path,
    version: str,
    requirement: str | None = None,
    *,
    env: Mapping[str, str] | None = None,
) -> InitReport:
    """Create what is missing in ``root`` (made if absent); never touch what exists.

    ``requirement`` is ``--requirement`` (None: this release from the configured package
    index); ``env`` the environment pip runs in (default: this process's).
    """
    if root.exists() and not root.is_dir():
        raise ConfigError(f"{root} exists and is not a folder")
    wanted = planned_files()
    _refuse_folders(root, [*wanted, REQUIREMENTS, GIT_REQUIREMENT])
    pin = _choose_pin(root, version, requirement, dict(os.environ) if env is None else env)
    if isinstance(pin, Pin):
        _refuse_folders(root, list(pin.files))
        wanted.update(pin.files)  # REQUIREMENTS last: it names the others
    try:
        root.mkdir(parents=True, exist_ok=True)
        outcomes = tuple(_write(root, path, data) for path, data in wanted.items())
    except OSError as error:
        raise ConfigError(f"cannot write the repository in {root}: {error}") from None
    if pin is None:
        kept = (REQUIREMENTS, GIT_REQUIREMENT)
        outcomes += tuple(_kept(root, p, None) for p in kept if os.path.lexists(root / p))
    git_root = _git_root(root)
    if git_root is not None:
        return InitReport(root, outcomes, git_root, git_initialized=False, pin=pin)
    _git_init(root)
    return InitReport(root, outcomes, root.absolute(), git_initialized=True, pin=pin)


def _choose_pin(
    root: Path, version: str, requirement: str | None, env: Mapping[str, str]
) -> Pin | Unpinned | None:
    """The pin to write (None: the repository has one), checked against the files there, so
    that nothing is written when it cannot be."""
    if os.path.lexists(root / REQUIREMENTS):
        if requirement is not None:
            raise OptionError(
                f"{OPTION} {requirement}: {REQUIREMENTS} exists; delete it (and "
                f"{GIT_REQUIREMENT}, .github/wheels/ if there) first to pin anew"
            )
        return None
    pin = pin_release(requirement, version, project_lock(), env=env)
    if not isinstance(pin, Pin):
        return pin
    for path, data in pin.files.items():
        target = root / path
        if os.path.lexists(target) and not (target.is_file() and target.read_bytes() == data):
            raise ConfigError(f"{path} exists and is not what the pin needs; delete it first")
    if GIT_REQUIREMENT not in pin.files and os.path.lexists(root / GIT_REQUIREMENT):
        raise ConfigError(
            f"{GIT_REQUIREMENT} exists: the setup action would install that git commit over "
            f"the pin; delete it first"
        )
    return pin


def _refuse_folders(root: Path, paths: list[str]) -> None:
    """Every folder the files go in must resolve inside ``root`` and be a folder (or not exist
    yet); ``ConfigError`` naming the first that does not, before anything is written."""
    folders = {str(folder) for path in paths for folder in PurePosixPath(path).parents}
    folders.discard(".")
    for folder in sorted(folders, key=lambda name: (name.count("/"), name)):
        try:
            repo_file(root, folder)
        except ConfigError as error:
            raise ConfigError(f"{error}; nothing was written") from None
        where = root / folder
        if os.path.lexists(where) and not where.is_dir():
            what = "not a folder"
            if where.is_symlink() and not where.exists():
                what = f"a symbolic link to {where.readlink()}, which does not exist"
            raise ConfigError(
                f"{folder} in {root} is {what}, and files go in it: move it away first; "
                "nothing was written"
            )


def _kept(root: Path, path: str, data: bytes | None) -> FileOutcome:
    """What init says of a file already there (``data``: the template, None: not compared).
    A symbolic link is said to be one, and where it points: what it names is not read."""
    target = root / path
    if target.is_symlink():
        return FileOutcome(path, "kept-link", str(target.readlink()), not target.exists())
    if data is None:
        return FileOutcome(path, "kept")
    same = target.is_file() and target.read_bytes() == data
    return FileOutcome(path, "kept" if same else "kept-differs")


def _write(root: Path, path: str, data: bytes) -> FileOutcome:
    target = root / path
    if os.path.lexists(target):
        return _kept(root, path, data)
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
        elif outcome.state == "kept-link":
            missing = ", which does not exist" if outcome.dangling else ""
            lines.append(
                f"kept     {outcome.path} (a symbolic link to {outcome.link}{missing}; "
                "not followed)"
            )
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
    lines.extend(render_pin(report.pin))
    if report.changed:
        lines.append("Next: README.md (import a cluster, pin its host keys, validate, plan).")
    else:
        lines.append("Nothing to do: every file is there.")
    return "\n".join(lines)
