"""README's "Layout" is a map of the repository: every room on it, and nothing that is not there.

A room is a module or package directly under ``reconciler/`` (data folders such as ``lab/``
and ``templates/`` included), a folder under ``tests/`` or ``.github/``, and the top-level
folders ``tests/``, ``benchmarks/``, ``scripts/``, ``docs/`` and ``.github/``. Each must
start a line of the Layout's block (``reconciler/run.py ...``, ``reconciler/plan/ ...``).
Every repository path the block names must exist, so a rename cannot leave the map stale; so
must every path the recipes of "## Where a change goes" name.
"""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
TOP_LEVEL = ("tests/", "benchmarks/", "scripts/", "docs/", ".github/")
_NOT_ROOMS = {"__pycache__", "py.typed"}
_PATH = re.compile(r"(?<![\w./-])((?:reconciler|tests|benchmarks|scripts|docs|\.github)/[\w./-]*)")


def layout_block(readme: str) -> list[str]:
    """The lines of the first fenced block of README's "## Layout" section."""
    return readme_section(readme, "Layout").split("```\n", 2)[1].splitlines()


def readme_section(readme: str, title: str) -> str:
    """The text of README's ``## title`` section, up to the next ``## `` heading."""
    return readme.split(f"\n## {title}\n", 1)[1].split("\n## ", 1)[0]


def rooms(root: Path) -> list[str]:
    """Every room the Layout must name, as its line would start (``reconciler/plan/``)."""
    found = list(TOP_LEVEL)
    for path in sorted((root / "reconciler").iterdir()):
        if path.name in _NOT_ROOMS or path.name.startswith("."):
            continue
        if path.is_dir():
            found.append(f"reconciler/{path.name}/")
        elif path.suffix == ".py":
            found.append(f"reconciler/{path.name}")
    for parent in ("tests", ".github"):
        found += [
            f"{parent}/{path.name}/"
            for path in sorted((root / parent).iterdir())
            if path.is_dir() and path.name not in _NOT_ROOMS and not path.name.startswith(".")
        ]
    return found


def missing_rooms(root: Path, block: list[str]) -> list[str]:
    starts = {line.split()[0] for line in block if line and not line[0].isspace()}
    return [room for room in rooms(root) if room not in starts]


def stale_paths(root: Path, block: list[str]) -> list[str]:
    named = {m.rstrip(".") for line in block for m in _PATH.findall(line)}
    return sorted(path for path in named if not (root / path).exists())


def test_every_room_of_the_repository_is_on_the_layout() -> None:
    block = layout_block((ROOT / "README.md").read_text(encoding="utf-8"))
    missing = missing_rooms(ROOT, block)
    assert missing == [], (
        "README's Layout has no line for "
        + ", ".join(missing)
        + ": add one saying what each is for"
    )


def test_every_path_on_the_layout_exists() -> None:
    block = layout_block((ROOT / "README.md").read_text(encoding="utf-8"))
    assert stale_paths(ROOT, block) == []


def test_every_path_a_recipe_names_exists() -> None:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    recipes = readme_section(readme, "Where a change goes")
    assert "### A new MMP wording" in recipes
    assert "### A new CI system" in recipes
    assert stale_paths(ROOT, recipes.splitlines()) == []


def test_a_new_module_or_a_renamed_one_is_named(tmp_path: Path) -> None:
    for folder in ("reconciler/plan", "tests/unit", ".github/workflows"):
        (tmp_path / folder).mkdir(parents=True)
    for name in TOP_LEVEL:
        (tmp_path / name).mkdir(exist_ok=True)
    (tmp_path / "reconciler" / "run.py").write_text("")
    (tmp_path / "reconciler" / "fresh.py").write_text("")
    block = [
        "reconciler/run.py    one run; see reconciler/plan/gone.py",
        "reconciler/plan/     the planner",
        *(f"{name:<21}x" for name in TOP_LEVEL),
        "tests/unit/          unit tests",
        "                     reconciler/fresh.py on a continuation line does not count",
    ]
    assert missing_rooms(tmp_path, block) == ["reconciler/fresh.py", ".github/workflows/"]
    assert stale_paths(tmp_path, block) == ["reconciler/plan/gone.py"]
