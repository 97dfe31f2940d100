"""The GitOps repository's folder: which one it is, and what lies inside it.

``find_repo_root`` is which folder, when a command is not given ``--repo``: like git finding
``.git``, the nearest folder, from the current one upward, that holds a ``clusters/`` folder.
The search stops at the root of the git work tree it starts in (the first folder holding
``.git``), so a stray ``~/clusters`` never captures a command run inside an unrelated
repository. When nothing is found the current folder is the repository, as it always was, and
the command says what is missing there.

``repo_file`` is the one check every command that writes into the repository (``init``,
``import``, ``hostkeys --write``, ``certs csr``, ``install`` and ``issue``) makes before it
opens a path there: the path, every symbolic link on the way followed, must still be inside
the repository, or the command would write somewhere its report does not say.
"""

from __future__ import annotations

from pathlib import Path, PurePosixPath

from reconciler.errors import ConfigError

CLUSTERS_DIR = "clusters"  # the same folder desired/source.py reads (not imported: no git here)


def find_repo_root(start: Path) -> Path:
    """The nearest folder from ``start`` up (to its git root) with ``clusters/``, or ``start``."""
    start = start.absolute()  # not resolve(): a symlinked path stays as the user wrote it
    for folder in (start, *start.parents):
        if (folder / CLUSTERS_DIR).is_dir():
            return folder
        if (folder / ".git").exists():
            break
    return start


def repo_file(repo: Path, path: str) -> Path:
    """``path`` (relative, with /) inside ``repo``, resolved: every symbolic link on the way
    followed, the last one too, even when what it names does not exist.

    ``ConfigError`` in one line when that leads outside the repository, naming ``path``, where
    it resolves and the symbolic link that leads out.
    """
    root = repo.resolve()
    try:
        target = (root / path).resolve()
    except (OSError, RuntimeError, ValueError) as error:  # a symlink loop; a NUL byte
        raise ConfigError(f"{path} in the repository {repo} cannot be resolved: {error}") from None
    if target.is_relative_to(root):
        return target
    raise ConfigError(
        f"{path} resolves to {target}, outside the repository {root}{_way_out(root, path)}"
    )


def _way_out(root: Path, path: str) -> str:
    """`` (LINK is a symbolic link to WHERE)`` for the first link of ``path`` leading out."""
    parts = PurePosixPath(path).parts
    for count in range(1, len(parts) + 1):
        step = root.joinpath(*parts[:count])
        if step.is_symlink() and not step.resolve().is_relative_to(root):
            name = "/".join(parts[:count])
            return f" ({name} is a symbolic link to {step.readlink()})"
    return ""
