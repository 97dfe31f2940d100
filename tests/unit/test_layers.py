"""Every room of ``reconciler`` has its place in one order, and imports only from below.

A room is a module or package directly under ``reconciler/``. ``ORDER`` lists them bottom
up, a level at a time: a room may import itself and the levels below its own; rooms that
share a level stand side by side and import neither each other nor anything above. So SSH
(``mmp``) and the live read never learn about YAML, the planner never about apply, and a view
of what apply did lives in ``apply`` (as terraform keeps its views above plan and apply).
The simulator is a sibling of the planner and stands on the cluster file format alone: it
imitates a CMS, so it must not read one with the client's own code (``APART``), or the two
would agree by construction. Imports are parsed, not run, so the ones under
``TYPE_CHECKING`` and inside functions count too: those are the ones that rot unnoticed.
A new room fails the test until it is given a level.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[2] / "reconciler"

ORDER: tuple[tuple[str, ...], ...] = (
    ("__init__", "addresses", "durations", "errors", "interrupts", "parallelism"),
    ("ci", "init_requirements", "repo_root", "workdir"),
    ("mmp",),
    ("desired", "live"),
    ("plan", "simulator"),
    ("connect",),
    ("certs", "onboard", "run", "status"),
    ("apply",),
    ("rehearse",),
    ("progress",),
    ("init_repo", "reconcile"),
    ("demo",),
    ("cli",),
    ("__main__",),
)
"""The rooms, bottom up; each may import only its own room and the levels below it."""

APART: dict[str, tuple[str, ...]] = {"simulator": ("mmp", "live")}
"""Rooms below a room that it still must not import: the simulator is not the client."""

NOT_CODE = ("lab", "py.typed", "templates")
"""Package data directly under ``reconciler/``: files, not rooms."""

NOT_YET: dict[str, str] = {}
"""Known upward imports, each with what fixing it takes; one that is gone fails the test."""


def _imported(module: Path, package: Path) -> list[tuple[int, str]]:
    """Every ``reconciler.*`` module name ``module`` imports, absolute, with its line."""
    parts = list(module.relative_to(package.parent).with_suffix("").parts)
    here = parts[:-1]  # the package the module is in (``__init__.py``: the package itself)
    found: list[tuple[int, str]] = []
    for node in ast.walk(ast.parse(module.read_text(encoding="utf-8"), str(module))):
        if isinstance(node, ast.Import):
            found += [(node.lineno, alias.name) for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = here[: len(here) - node.level + 1]
                name = ".".join([*base, *([node.module] if node.module else [])])
            else:
                name = node.module or ""
            # ``from reconciler import desired`` imports the package ``reconciler.desired``.
            found += [(node.lineno, f"{name}.{alias.name}") for alias in node.names]
            found.append((node.lineno, name))
    return [(line, name) for line, name in found if name.split(".")[0] == "reconciler"]


def rooms(package: Path) -> set[str]:
    """The modules and packages directly under ``package`` (``__init__`` for itself)."""
    found = {path.stem for path in package.glob("*.py")}
    found |= {path.name for path in package.iterdir() if (path / "__init__.py").is_file()}
    return found


def unplaced(package: Path) -> list[str]:
    """Every name directly under ``package`` that is neither a placed room nor data."""
    placed = {room for level in ORDER for room in level} | set(NOT_CODE)
    names = {path.name for path in package.iterdir()} - {"__pycache__"}
    names = {name.removesuffix(".py") if name.endswith(".py") else name for name in names}
    return sorted(names - placed)


def _room_of(name: str, known: set[str]) -> str:
    """The room an imported name is in: ``reconciler.plan.models`` is in ``plan``;
    ``reconciler`` and ``reconciler.__version__`` are in ``__init__``."""
    parts = name.split(".")
    return parts[1] if len(parts) > 1 and parts[1] in known else "__init__"


def layer_violations(package: Path) -> list[str]:
    """``file:line imports reconciler.room`` for every import the order does not allow."""
    level = {room: index for index, rooms_here in enumerate(ORDER) for room in rooms_here}
    known = rooms(package)
    violations: list[str] = []
    for module in sorted(package.rglob("*.py")):
        where = module.relative_to(package.parent)
        room = where.parts[1].removesuffix(".py")
        for line, name in _imported(module, package):
            target = _room_of(name, known)
            if target == room:
                continue
            allowed = target in level and room in level and level[target] < level[room]
            if not allowed or target in APART.get(room, ()):
                violations.append(f"{where}:{line} imports reconciler.{target}")
    return sorted(set(violations))


def _known(violation: str) -> str:
    """``reconciler/x.py:12 imports reconciler.y`` without its line number."""
    where, _, what = violation.partition(" ")
    return f"{where.rsplit(':', 1)[0]} {what}"


def test_every_room_under_reconciler_has_its_place_in_the_order() -> None:
    assert unplaced(PACKAGE) == []
    placed = [room for level in ORDER for room in level]
    assert len(placed) == len(set(placed)), "a room is on two levels"
    assert rooms(PACKAGE) == set(placed), "a room of ORDER is gone"


def test_every_import_goes_to_the_same_room_or_below() -> None:
    violations = layer_violations(PACKAGE)
    assert [v for v in violations if _known(v) not in NOT_YET] == []
    assert {_known(v) for v in violations} == set(NOT_YET), "a known violation is gone"


def import_graph(package: Path) -> dict[str, set[str]]:
    """Each module of ``package`` (a package by its own name) and the modules it imports."""
    modules: dict[str, Path] = {}
    for module in package.rglob("*.py"):
        parts = module.relative_to(package.parent).with_suffix("").parts
        modules[".".join(parts[:-1] if parts[-1] == "__init__" else parts)] = module
    graph: dict[str, set[str]] = {name: set() for name in modules}
    for name, module in modules.items():
        for _, imported in _imported(module, package):
            words = imported.split(".")
            while words and ".".join(words) not in modules:  # ``mod.Class`` is in ``mod``
                words.pop()
            if words and ".".join(words) != name:
                graph[name].add(".".join(words))
    return graph


def circles(package: Path) -> list[list[str]]:
    """The modules of ``package`` that import each other round a circle, each circle sorted
    (the strongly connected components of the import graph, by Tarjan)."""
    graph = import_graph(package)
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    found: list[list[str]] = []

    def visit(name: str) -> None:
        index[name] = low[name] = len(index)
        stack.append(name)
        for other in sorted(graph[name]):
            if other not in index:
                visit(other)
                low[name] = min(low[name], low[other])
            elif other in stack:
                low[name] = min(low[name], index[other])
        if low[name] == index[name]:
            component = stack[stack.index(name) :]
            del stack[stack.index(name) :]
            if len(component) > 1:
                found.append(sorted(component))

    for name in sorted(graph):
        if name not in index:
            visit(name)
    return sorted(found)


def test_no_modules_import_each_other_round_a_circle() -> None:
    assert circles(PACKAGE) == []


def test_a_circle_under_type_checking_is_found(tmp_path: Path) -> None:
    package = package_with(
        tmp_path,
        "simulator/faults.py",
        "if TYPE_CHECKING:\n    from reconciler.simulator.service import SimulatedCluster\n",
    )
    (package / "simulator" / "service.py").write_text("from .faults import FaultEngine\n")
    assert circles(package) == [["reconciler.simulator.faults", "reconciler.simulator.service"]]


def package_with(tmp_path: Path, path: str, source: str) -> Path:
    """A ``reconciler`` package with one room of each level and one module, ``path``."""
    package = tmp_path / "reconciler"
    for level in ORDER:
        for room in level:
            (package / room).mkdir(parents=True, exist_ok=True)
            (package / room / "__init__.py").touch()
    module = package / path
    module.parent.mkdir(parents=True, exist_ok=True)
    module.write_text(source)
    return package


@pytest.mark.parametrize(
    ("path", "source", "imported"),
    [
        ("mmp/connect.py", "from reconciler.desired.models import ClusterSpec\n", "desired"),
        ("mmp/x.py", "import reconciler.plan.models\n", "plan"),
        ("mmp/x.py", "from reconciler import run\n", "run"),
        ("mmp/x.py", "from reconciler.live.models import LiveNode\n", "live"),
        ("mmp/parsers/x.py", "from ...desired import models\n", "desired"),
        ("live/x.py", "def f() -> None:\n    from ..connect import SessionPool\n", "connect"),
        ("live/x.py", "if TYPE_CHECKING:\n    from reconciler.status import y\n", "status"),
        ("live/x.py", "from reconciler.desired.models import ClusterSpec\n", "desired"),
        ("errors.py", "if TYPE_CHECKING:\n    from reconciler.plan.models import Step\n", "plan"),
        (
            "plan/render/x.py",
            "if TYPE_CHECKING:\n    from reconciler.apply.apply import ApplyReport\n",
            "apply",
        ),
        ("plan/x.py", "def f() -> None:\n    from reconciler.apply import results\n", "apply"),
        ("plan/x.py", "from reconciler.simulator.state import SimNode\n", "simulator"),
        ("simulator/x.py", "from reconciler.plan.models import Step\n", "plan"),
        ("simulator/x.py", "from reconciler.mmp.session import MMPSession\n", "mmp"),
        ("simulator/x.py", "if TYPE_CHECKING:\n    from reconciler.live import models\n", "live"),
        ("run.py", "from reconciler.status import live_status\n", "status"),
    ],
)
def test_an_import_from_above_or_beside_is_named(
    tmp_path: Path, path: str, source: str, imported: str
) -> None:
    violations = layer_violations(package_with(tmp_path, path, source))
    assert len(violations) == 1
    assert violations[0].startswith(f"reconciler/{path}:")
    assert f"imports reconciler.{imported}" in violations[0]


@pytest.mark.parametrize(
    ("path", "source"),
    [
        ("mmp/x.py", "from reconciler.mmp.models import CertRole\nimport reconciler.errors\n"),
        ("mmp/parsers/x.py", "from ..models import CertRole\nfrom . import common\n"),
        ("live/x.py", "from reconciler.mmp.session import MMPSession\n"),
        ("live/x.py", "from reconciler.durations import duration_text\nimport json\n"),
        ("errors.py", "from pathlib import Path\n"),
        ("simulator/x.py", "from reconciler.desired.models import ClusterSpec\n"),
        ("apply/render.py", "if TYPE_CHECKING:\n    from reconciler.plan.models import Plan\n"),
        ("cli.py", "from reconciler import __version__\nfrom reconciler.demo import run\n"),
    ],
)
def test_an_import_from_the_same_room_or_below_is_allowed(
    tmp_path: Path, path: str, source: str
) -> None:
    assert layer_violations(package_with(tmp_path, path, source)) == []


def test_a_new_room_is_unplaced_until_it_has_a_level(tmp_path: Path) -> None:
    package = package_with(tmp_path, "audit/__init__.py", "")
    (package / "report.py").write_text("")
    (package / "lab").mkdir()
    assert unplaced(package) == ["audit", "report"]
