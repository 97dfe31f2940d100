"""The SSH layer (``mmp``) and the live-state layer (``live``) import nothing from above.

The layers, bottom up: ``mmp`` talks to a node; ``live`` reads nodes through it; ``desired``
(YAML), ``plan``, ``apply`` and the commands sit on top, and the wiring between them
(``connect``, ``status``, ``run``, ``reconcile``, ``cli``) lives beside ``run.py``. A module
of a lower layer that imports a higher one ties SSH to YAML: this test parses every import
(in functions and under ``TYPE_CHECKING`` too) and names each one that goes up.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[2] / "reconciler"

ABOVE_LIVE = (
    "desired",
    "plan",
    "apply",
    "onboard",
    "certs",
    "rehearse",
    "simulator",
    "run",
    "reconcile",
    "cli",
    "connect",
    "status",
    "demo",
)
ABOVE = {"mmp": ("live", *ABOVE_LIVE), "live": ABOVE_LIVE}
"""For each lower layer, the top-level names under ``reconciler`` it must not import."""


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


def layer_violations(package: Path) -> list[str]:
    """``file:line imports name`` for every import from a lower layer into a higher one."""
    violations: list[str] = []
    for layer, above in ABOVE.items():
        for module in sorted((package / layer).rglob("*.py")):
            for line, name in _imported(module, package):
                parts = name.split(".")
                if len(parts) > 1 and parts[1] in above:
                    where = module.relative_to(package.parent)
                    violations.append(f"{where}:{line} imports reconciler.{parts[1]}")
    return sorted(set(violations))


def test_the_ssh_and_live_layers_import_nothing_from_the_layers_above() -> None:
    assert (PACKAGE / "mmp").is_dir()
    assert (PACKAGE / "live").is_dir()
    assert layer_violations(PACKAGE) == []


def package_with(tmp_path: Path, path: str, source: str) -> Path:
    """A ``reconciler`` package with its two lower layers and one module, ``path``."""
    package = tmp_path / "reconciler"
    module = package / path
    module.parent.mkdir(parents=True)
    module.write_text(source)
    (package / "live").mkdir(exist_ok=True)
    (package / "mmp").mkdir(exist_ok=True)
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
    ],
)
def test_an_import_from_above_is_named(
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
    ],
)
def test_an_import_from_the_same_layer_or_below_is_allowed(
    tmp_path: Path, path: str, source: str
) -> None:
    assert layer_violations(package_with(tmp_path, path, source)) == []
