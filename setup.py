"""The one build step pyproject.toml cannot say: ``.github/`` into the wheel, as init's templates.

``reconcile init`` writes this project's own ``.github/`` (less its tests, release and lock:
``reconciler/ci/github.py``, ``NOT_COPIED``) into a new repository, so an installed wheel
must carry it. Rather than commit a second copy inside the package, ``build_py`` copies the
checkout's ``.github/`` into the wheel at ``reconciler/templates/github/`` (the whole folder:
the filter is applied when init reads it, the same rule for a wheel and a checkout).

Why this way: a ``build_py`` subclass in ``setup.py`` is setuptools' own documented hook for a
build-time step, runs under the declared floor (setuptools 77) and the project's
``--no-isolation`` builds alike, and needs no second build backend. The sdist carries
``setup.py`` (setuptools adds it) and ``.github/`` (MANIFEST.in), so a wheel built from the
sdist has the templates too. An editable install copies nothing (``build_py`` builds nothing
in editable mode): init reads the checkout's ``.github/`` directly (``template_root``). A
build without ``.github/`` beside this file fails rather than make a wheel whose ``init`` cannot
work.
"""

from __future__ import annotations

import shutil
from pathlib import Path

from setuptools import setup
from setuptools.command.build_py import build_py

SOURCE = Path(__file__).resolve().parent / ".github"
TARGET = ("reconciler", "templates", "github")  # reconciler.ci.github.PACKAGED


class BuildPyWithTemplates(build_py):
    """``build_py``, then ``.github/`` copied under the built package."""

    def run(self) -> None:
        super().run()
        if self.editable_mode:
            return
        if not (SOURCE / "workflows").is_dir():
            raise SystemExit(f"{SOURCE}: not found; the wheel needs it (init's templates)")
        target = Path(self.build_lib).joinpath(*TARGET)
        if target.exists():
            shutil.rmtree(target)
        shutil.copytree(SOURCE, target, ignore=shutil.ignore_patterns("__pycache__", "*.py[cod]"))

    def get_outputs(self, include_bytecode: bool = True) -> list[str]:
        outputs: list[str] = list(super().get_outputs(include_bytecode))
        if self.editable_mode or not SOURCE.is_dir():
            return outputs
        target = Path(self.build_lib).joinpath(*TARGET)
        copied = [
            target / path.relative_to(SOURCE)
            for path in SOURCE.rglob("*")
            if path.is_file() and "__pycache__" not in path.parts and path.suffix[:3] != ".py"
        ]
        return [*outputs, *(str(path) for path in copied)]


setup(cmdclass={"build_py": BuildPyWithTemplates})
