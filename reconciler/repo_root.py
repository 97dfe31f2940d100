"""Which folder is the GitOps repository when a command is not given ``--repo``.

Like git finding ``.git``: the nearest folder, from the current one upward, that holds a
``clusters/`` folder. The search stops at the root of the git work tree it starts in (the
first folder holding ``.git``), so a stray ``~/clusters`` never captures a command run inside
an unrelated repository. When nothing is found the current folder is the repository, as it
always was, and the command says what is missing there.
"""

from __future__ import annotations

from pathlib import Path

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
