"""The distributions: an sdist that builds, with the build requirement pyproject declares, into
a wheel with everything the installed tool needs (the lab, the templates, the licence).

Built once per module: the sdist from the checkout, then the wheel from the sdist alone (so
the sdist is proved complete) in an isolated build whose setuptools is the oldest release
pyproject admits (so the declared floor is proved enough).
"""

from __future__ import annotations

import email
import os
import shutil
import subprocess
import sys
import tarfile
import tomllib
import zipfile
from dataclasses import dataclass
from email.message import Message
from importlib.metadata import version as installed_version
from pathlib import Path

import pytest
from packaging.requirements import Requirement
from packaging.version import Version

import reconciler
from reconciler.simulator.builtin_lab import LAB_PATHS
from tests.support.lab import LAB_MATERIAL, REPO
from tests.support.once import once

pytestmark = pytest.mark.e2e
PYPROJECT = tomllib.loads((REPO / "pyproject.toml").read_text())


@dataclass(frozen=True)
class Built:
    sdist: Path
    wheel: Path

    def wheel_names(self) -> set[str]:
        with zipfile.ZipFile(self.wheel) as archive:
            return set(archive.namelist())

    def sdist_names(self) -> set[str]:
        with tarfile.open(self.sdist) as archive:
            top = f"cms_reconciler-{reconciler.__version__}/"
            return {name.removeprefix(top) for name in archive.getnames()}

    def metadata(self) -> Message:
        info = f"cms_reconciler-{reconciler.__version__}.dist-info/METADATA"
        with zipfile.ZipFile(self.wheel) as archive:
            return email.message_from_bytes(archive.read(info))


def setuptools_floor() -> str:
    (requirement,) = (
        Requirement(text)
        for text in PYPROJECT["build-system"]["requires"]
        if Requirement(text).name == "setuptools"
    )
    (floor,) = (spec.version for spec in requirement.specifier if spec.operator == ">=")
    return floor


def build(*args: str, cwd: Path, env: dict[str, str] | None = None) -> None:
    done = subprocess.run(
        [sys.executable, "-m", "build", *args],
        cwd=cwd,
        env={**os.environ, **(env or {})},
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]


def checkout_copy(target: Path) -> Path:
    """The checkout's files as a clean clone has them (tracked, and new files not ignored):
    a build writes build/ and *.egg-info beside its sources, never into the checkout."""
    listed = subprocess.run(
        ["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
        cwd=REPO,
        capture_output=True,
        check=True,
    ).stdout.decode()
    for name in filter(None, listed.split("\0")):
        source = REPO / name
        if source.is_file():  # a file deleted but not yet staged is listed too
            (target / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, target / name)
    return target


def _build_both(out: Path) -> None:
    source = checkout_copy(out / "checkout")
    build("--sdist", "--no-isolation", "--outdir", str(out), ".", cwd=source)
    (sdist,) = out.glob("*.tar.gz")
    unpacked = out / "sdist"
    with tarfile.open(sdist) as archive:
        archive.extractall(unpacked, filter="data")
    (from_sdist,) = unpacked.iterdir()
    # Isolated: pip installs the build requirement, held to the floor's release series.
    constraint = out / "floor.txt"
    constraint.write_text(f"setuptools=={setuptools_floor()}.*\n")
    env = {"PIP_CONSTRAINT": str(constraint)}
    build("--wheel", "--outdir", str(out), ".", cwd=from_sdist, env=env)


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> Built:
    out = once(tmp_path_factory, "distributions", _build_both)
    (sdist,) = out.glob("*.tar.gz")
    (wheel,) = out.glob("*.whl")
    return Built(sdist, wheel)


def test_the_declared_setuptools_floor_accepts_the_licence_expression() -> None:
    """A string `license` (PEP 639) needs setuptools 77: a lower floor would build nothing."""
    assert PYPROJECT["project"]["license"] == "Apache-2.0"
    assert int(setuptools_floor().split(".")[0]) >= 77


def test_the_wheel_carries_the_lab_the_templates_and_the_licence(built: Built) -> None:
    names = built.wheel_names()
    lab = {
        f"reconciler/lab/{path.relative_to(LAB_MATERIAL).as_posix()}"
        for path in LAB_MATERIAL.rglob("*")
        if path.is_file() and "__pycache__" not in path.parts
    }
    assert lab, "the lab has files"
    assert lab <= names, sorted(lab - names)
    assert {f"reconciler/lab/{path}" for path in LAB_PATHS if "." in path} <= names
    # init's templates: .github/, copied in by the build (setup.py), not committed twice
    github = REPO / ".github"
    templates = {
        f"reconciler/templates/github/{path.relative_to(github).as_posix()}"
        for path in github.rglob("*")
        if path.is_file()
    }
    assert "reconciler/templates/github/workflows/plan.yml" in templates
    assert templates <= names, sorted(templates - names)
    assert "reconciler/py.typed" in names
    dist_info = f"cms_reconciler-{reconciler.__version__}.dist-info"
    assert f"{dist_info}/licenses/LICENSE" in names
    assert not any(name.startswith("tests/") for name in names)


def test_the_sdist_carries_the_tests_the_lab_the_licence_and_the_changelog(built: Built) -> None:
    names = built.sdist_names()
    for needed in (
        "LICENSE",
        "CHANGELOG.md",
        "Makefile",
        "tests/e2e/test_demo.py",
        "tests/packaging/test_build.py",
        "reconciler/lab/clusters/lab.yaml",
        "reconciler/lab/sim/lab/scenario.yaml",
        ".github/requirements.txt",
        ".github/workflows/plan.yml",  # what the wheel's build copies into its templates
        "setup.py",
    ):
        assert needed in names, needed
    assert not [name for name in names if "__pycache__" in name or name.endswith(".pyc")]


def test_the_metadata_says_what_the_project_is(built: Built) -> None:
    metadata = built.metadata()
    assert metadata["Version"] == reconciler.__version__
    assert metadata["License-Expression"] == "Apache-2.0"
    assert "Topic :: Communications :: Conferencing" in metadata.get_all("Classifier", [])
    urls = dict(url.split(", ", 1) for url in metadata.get_all("Project-URL", []))
    assert {"Homepage", "Changelog", "Issues"} <= set(urls)


DATA_ONLY = {"tzdata"}
"""Dependencies that are data with a date for a version (the IANA time zone database): no
API to break, and a ceiling would only keep a user on stale zone rules."""


def test_every_dependency_stops_below_the_major_after_the_one_tested(built: Built) -> None:
    """`make test` installs the newest release each range allows: the ceiling must be the
    next breaking release after it (for 0.x, as typer is, the next minor), no further."""
    runtime = [
        Requirement(text)
        for text in built.metadata().get_all("Requires-Dist", [])
        if "extra ==" not in text
    ]
    assert len(runtime) == len(PYPROJECT["project"]["dependencies"])
    for requirement in runtime:
        if requirement.name in DATA_ONLY:
            assert not [s for s in requirement.specifier if s.operator == "<"], requirement
            continue
        (ceiling,) = (s.version for s in requirement.specifier if s.operator == "<")
        tested = Version(installed_version(requirement.name))
        assert tested in requirement.specifier, (requirement, tested)
        following = f"{tested.major + 1}" if tested.major else f"0.{tested.minor + 1}"
        assert Version(ceiling) == Version(following), (requirement, str(tested))
