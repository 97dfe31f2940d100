"""Everything under a folder, symbolic links as links: to prove a command wrote nothing."""

from __future__ import annotations

import os
from pathlib import Path

Entry = tuple[str, bytes | str | None]


def everything(base: Path) -> dict[str, Entry]:
    """Every entry under ``base`` by relative path: a file's bytes, a link's target (never
    followed), a folder; ``.git/`` left out (git's own bookkeeping)."""
    found: dict[str, Entry] = {}
    for folder, folders, names in os.walk(base):  # does not descend into symlinked folders
        here = Path(folder)
        folders[:] = [name for name in folders if name != ".git"]
        for name in [*folders, *names]:
            path = here / name
            relative = path.relative_to(base).as_posix()
            if path.is_symlink():
                found[relative] = ("link", os.readlink(path))
            elif path.is_dir():
                found[relative] = ("folder", None)
            else:
                found[relative] = ("file", path.read_bytes())
    return found
