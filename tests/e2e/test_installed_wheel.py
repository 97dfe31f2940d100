"""The wheel built from this checkout, as a repository made by `reconcile init` installs it.

`reconcile init` in an empty folder, with the wheel and the locked dependencies offered from a
local folder alone (a wheelhouse: pip's --find-links, no index, no pip settings), pins every
requirement with --hash; the repository's own .github/scripts/install-reconcile.sh (what the
setup action runs) installs exactly that in a fresh venv (`pip install --require-hashes
--only-binary :all:`), and its `reconcile --version` is the wheel's. Also: init without a
reachable pin writes no requirements file and exits 2; a git commit pin builds on the runner.

The wheelhouse (the wheel, built from a copy of the checkout, and the lock's wheels from PyPI
or pip's cache, hash-checked) and the installed venv are made once per run, whichever pytest
worker asks first (`tests/support/once.py`). About 30 s on the first use here: the build, the
downloads and one venv (the git pin's test builds another).
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

from reconciler.init_requirements import GIT_REQUIREMENT, REQUIREMENTS
from tests.support import cli
from tests.support.lab import REPO, LabAddresses
from tests.support.once import once
from tests.support.wheels import MACHINE_PIP, offline_pip_env

pytestmark = pytest.mark.e2e

LOCK = REPO / ".github" / "requirements.txt"
SCRIPT = ".github/scripts/install-reconcile.sh"
# What a wheel build reads from the checkout (pyproject names the readme and the license;
# setup.py copies .github/ into the wheel, init's templates).
SOURCES = ("pyproject.toml", "setup.py", "README.md", "LICENSE")


def _run(
    command: list[str | Path], *, cwd: Path | None = None, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    run = subprocess.run(
        command, cwd=cwd, env=env, capture_output=True, text=True, timeout=600, check=False
    )
    assert run.returncode == 0, f"{command}: {run.stdout}\n{run.stderr}"
    return run


def _copy_sources(target: Path) -> None:
    shutil.copytree(
        REPO / "reconciler", target / "reconciler", ignore=shutil.ignore_patterns("__pycache__")
    )
    for name in SOURCES:
        shutil.copy2(REPO / name, target / name)
    shutil.copytree(REPO / ".github", target / ".github")


def _make_wheelhouse(folder: Path) -> None:
    source = folder / "source"
    _copy_sources(source)  # the build writes build/ and *.egg-info beside its sources
    house = folder / "wheelhouse"
    _run([sys.executable, "-m", "build", "--wheel", "--no-isolation", "--outdir", house, source])
    # The whole lock (setuptools too, for the git pin's build), every file hash-checked.
    pypi = {k: v for k, v in os.environ.items() if k not in MACHINE_PIP}
    pypi["PIP_CONFIG_FILE"] = os.devnull
    download: list[str | Path] = [
        sys.executable, "-m", "pip", "download", "--disable-pip-version-check", "--quiet",
        "--only-binary", ":all:", "--no-deps", "--require-hashes", "--dest", house, "-r", LOCK,
    ]  # fmt: skip
    _run(download, env=pypi)


@pytest.fixture(scope="module")
def wheelhouse(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The wheel built from this checkout and every wheel the lock pins, in one folder."""
    return once(tmp_path_factory, "installed-wheel-house", _make_wheelhouse) / "wheelhouse"


@pytest.fixture(scope="module")
def wheel(wheelhouse: Path) -> Path:
    (built,) = wheelhouse.glob("cms_reconciler-*.whl")
    return built


def wheel_version(wheel: Path) -> str:
    return wheel.name.split("-")[1]


def runner_env(wheelhouse: Path, bin_dir: Path, runner_temp: Path) -> dict[str, str]:
    """A runner's environment, its pip held to the wheelhouse; ``python3`` is this test's
    Python (the wheelhouse holds the wheels of its version)."""
    bin_dir.mkdir(parents=True, exist_ok=True)
    if not (bin_dir / "python3").exists():
        (bin_dir / "python3").symlink_to(sys.executable)
    runner_temp.mkdir(parents=True, exist_ok=True)
    env = offline_pip_env(wheelhouse)
    return env | {
        "PATH": f"{bin_dir}{os.pathsep}{env.get('PATH', '')}",
        "RUNNER_TEMP": str(runner_temp),
        "GITHUB_PATH": str(runner_temp / "github-path"),
    }


def init(folder: Path, *args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    """`reconcile init` from this checkout, as a user runs it."""
    return cli.run(["init", str(folder), *args], env=env, timeout=300)


def requirement_lines(text: str) -> list[str]:
    joined = re.sub(r"\\\n", " ", text)
    lines = (re.sub(r"(^|\s)#.*", "", line).strip() for line in joined.splitlines())
    return [re.sub(r"\s+", " ", line) for line in lines if line]


def names(lines: list[str]) -> list[str]:
    """The projects' names, normalized (PEP 503)."""
    return [canonical(re.split(r"[=@ ]", line, maxsplit=1)[0]) for line in lines]


def canonical(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def _make_installed(wheelhouse: Path) -> Callable[[Path], None]:
    def make(folder: Path) -> None:
        repo = folder / "ops"
        made = init(repo, env=offline_pip_env(wheelhouse))
        assert made.returncode == 0, made.stdout + made.stderr
        runner_temp = folder / "runner-temp"
        env = runner_env(wheelhouse, folder / "bin", runner_temp)
        installed = _run([repo / SCRIPT], env=env, cwd=folder)
        (folder / "install-output").write_text(installed.stdout)
        (folder / "init-output").write_text(made.stdout)

    return make


@pytest.fixture(scope="module")
def installed(tmp_path_factory: pytest.TempPathFactory, wheelhouse: Path) -> Path:
    """An empty folder made a repository by `reconcile init` (``ops/``), and the venv its
    setup script installed from the wheelhouse (``runner-temp/cms-reconciler``)."""
    return once(tmp_path_factory, "installed-wheel-venv", _make_installed(wheelhouse))


@pytest.fixture(scope="module")
def installed_venv(installed: Path) -> Path:
    """A fresh venv holding what `reconcile init` pinned: the built wheel and the locked
    dependencies, nothing else (`<venv>/bin/reconcile`)."""
    return installed / "runner-temp" / "cms-reconciler"


def test_init_pins_every_requirement_with_a_hash(installed: Path, wheel: Path) -> None:
    text = (installed / "ops" / REQUIREMENTS).read_text()
    lines = requirement_lines(text)
    for line in lines:
        assert re.fullmatch(r"\S+ (--hash=sha256:[0-9a-f]{64} ?)+", line), line
    digest = hashlib.sha256(wheel.read_bytes()).hexdigest()
    assert lines[0] == f"cms-reconciler=={wheel_version(wheel)} --hash=sha256:{digest}"
    locked = names(requirement_lines(LOCK.read_text()))
    assert names(lines[1:]) == [name for name in locked if name != "setuptools"]
    said = (installed / "init-output").read_text()
    assert f"pin      cms-reconciler {wheel_version(wheel)} from the package index" in said
    assert "to change it, delete .github/reconcile-requirements.txt and run" in said


def test_the_pin_installs_from_the_wheelhouse_alone(installed_venv: Path, wheel: Path) -> None:
    version = subprocess.run(
        [installed_venv / "bin" / "reconcile", "--version"],
        capture_output=True,
        text=True,
        check=False,
    )
    assert (version.returncode, version.stdout) == (0, f"reconcile {wheel_version(wheel)}\n")
    listing = _run([installed_venv / "bin" / "python", "-m", "pip", "list", "--format", "json"])
    installed = {canonical(package["name"]) for package in json.loads(listing.stdout)}
    locked = set(names(requirement_lines(LOCK.read_text())))
    # The venv's own pip (and, before Python 3.12, setuptools) come with it.
    assert installed - {"pip", "setuptools"} == (locked | {"cms-reconciler"}) - {"setuptools"}


def test_an_installed_reconcile_pins_itself(
    installed: Path, installed_venv: Path, wheelhouse: Path, tmp_path: Path
) -> None:
    # Installed from a wheel, init checks that the index's wheel holds its very files.
    made = subprocess.run(
        [installed_venv / "bin" / "reconcile", "init", tmp_path / "ops"],
        env=offline_pip_env(wheelhouse),
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert made.returncode == 0, made.stdout + made.stderr
    assert "not compared" not in made.stdout
    ours = (tmp_path / "ops" / REQUIREMENTS).read_text()
    assert ours == (installed / "ops" / REQUIREMENTS).read_text()


def test_without_a_reachable_pin_init_writes_none_and_exits_2(tmp_path: Path) -> None:
    nowhere = tmp_path / "empty-index"
    nowhere.mkdir()
    made = init(tmp_path / "ops", env=offline_pip_env(nowhere))
    assert made.returncode == 2, made.stdout + made.stderr
    assert not (tmp_path / "ops" / REQUIREMENTS).exists()
    assert (tmp_path / "ops" / ".github" / "workflows" / "plan.yml").is_file()
    assert f"pin      MISSING: {REQUIREMENTS} was not written: cms-reconciler==" in made.stdout
    assert "No matching distribution found" in made.stdout
    assert "Do this first:" in made.stdout
    assert "`reconcile init --requirement SPEC`" in made.stdout


def test_a_git_commit_pin_is_built_on_the_runner(
    wheelhouse: Path, wheel: Path, tmp_path: Path
) -> None:
    # The commit: this checkout's sources, committed in a repository of their own.
    source = tmp_path / "source"
    _copy_sources(source)
    for command in (["init", "-q", "-b", "main"], ["add", "-A"], ["commit", "-q", "-m", "x"]):
        _run(["git", "-c", "user.name=t", "-c", "user.email=t@example.com", *command], cwd=source)
    commit = _run(["git", "rev-parse", "HEAD"], cwd=source).stdout.strip()

    repo = tmp_path / "ops"
    spec = f"git+https://git.example.com/ops/cms-reconciler.git@{commit}"
    made = init(repo, "--requirement", spec, env=offline_pip_env(None))
    assert made.returncode == 0, made.stdout + made.stderr
    assert requirement_lines((repo / GIT_REQUIREMENT).read_text()) == [f"cms-reconciler @ {spec}"]
    # No https server here: the same commit, from the repository on disk (the host named: the
    # pip of Python 3.11's venvs refuses a URL without one).
    local = f"cms-reconciler @ git+file://localhost{source}@{commit}\n"
    (repo / GIT_REQUIREMENT).write_text(local)

    runner_temp = tmp_path / "runner-temp"
    env = runner_env(wheelhouse, tmp_path / "bin", runner_temp)
    installed = _run([repo / SCRIPT], env=env, cwd=tmp_path)
    assert installed.stdout.splitlines()[-1] == f"reconcile {wheel_version(wheel)}"


def test_the_installed_demo_converges_the_lab_in_an_empty_folder(
    installed_venv: Path, tmp_path: Path, lab_addresses: LabAddresses
) -> None:
    """The main job, tried as a user who never cloned: no checkout, no variable, a folder of
    nothing; the lab comes from the installed package and the demo writes nowhere here."""
    here, scratch = tmp_path / "empty", tmp_path / "tmp"
    here.mkdir()
    scratch.mkdir()
    env = {k: v for k, v in os.environ.items() if not k.startswith(("CMS_LAB_", "PYTHON"))}
    subnet = lab_addresses.cms1.rsplit(".", 1)[0]
    port = str(lab_addresses.port)
    demo = subprocess.run(
        [str(installed_venv / "bin" / "reconcile"), "demo", "--subnet", subnet, "--port", port],
        cwd=here,
        env={**env, "TMPDIR": str(scratch), "COLUMNS": "200"},
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert demo.returncode == 0, demo.stdout[-4000:] + demo.stderr[-4000:]
    assert "Demo complete: the lab is converged." in demo.stdout
    assert list(here.iterdir()) == []
    (copy,) = scratch.iterdir()
    assert f"The demo works in {copy}" in demo.stdout
    assert lab_addresses.cms1 in (copy / "clusters" / "lab.yaml").read_text()
