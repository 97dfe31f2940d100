"""Copy the project's .github/ into reconciler/templates/github/, which `reconcile init` writes.

Run after changing a workflow, the setup action or a script, and after `make lock` (or a
Dependabot pull request) moved .github/requirements.txt; tests/unit/test_init_repo.py fails
while the two differ. The project's own test workflow and the lock's input are not copied
(init_repo.NOT_COPIED); the lock is (init_repo.LOCK), as the one copy the package ships, which
init reads to compose the pin it writes but never writes itself.
"""

from __future__ import annotations

import shutil
from pathlib import Path

from reconciler.init_repo import GITHUB_MIRROR, NOT_COPIED, TEMPLATES

ROOT = Path(__file__).resolve().parents[1]


def main() -> None:
    source = ROOT / ".github"
    mirror = ROOT / "reconciler" / TEMPLATES / GITHUB_MIRROR
    if mirror.exists():
        shutil.rmtree(mirror)
    for path in sorted(source.rglob("*")):
        relative = path.relative_to(source).as_posix()
        if path.is_file() and relative not in NOT_COPIED:
            target = mirror / relative
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(path, target)
            print(f"{relative}")


if __name__ == "__main__":
    main()
