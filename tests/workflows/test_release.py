"""The release (.github/workflows/release.yml, docs/release.md): its scripts run for real under
bash, against temporary copies of the files they read and the fake ``gh``; the workflow's own
rules read from its YAML; the lock of its build tools; and `make test-wheel`, the tests run
against an installed wheel instead of the checkout (tests/support/installed.py).
"""

from __future__ import annotations

import hashlib
import importlib.metadata
import os
import subprocess
import sys
import tomllib
from pathlib import Path
from typing import Any

import pytest
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name
from packaging.version import Version

import tests
from reconciler import __version__
from reconciler.ci.github import NOT_COPIED, template_files
from tests.support import cli, installed
from tests.support.lab import REPO
from tests.workflows.support import REPOSITORY, GitHub
from tests.workflows.test_requirements_lock import HASH, LOCK, logical_lines
from tests.workflows.test_workflow_policy import load

RELEASE = REPO / ".github" / "workflows" / "release.yml"
RELEASE_LOCK = REPO / ".github" / "release-requirements.txt"
RELEASE_LOCK_INPUT = REPO / ".github" / "release-requirements.in"
VERSION = "1.2.3"
TAG = f"v{VERSION}"
HOME = f"https://github.com/{REPOSITORY}"
CHANGELOG = f"""# Changelog

Intro.

## [Unreleased]

### Added
- not yet

## [{VERSION}] - 2025-02-03

### Added
- the first thing

- the second thing

### Fixed
- a bug

## [1.2.2] - 2025-01-01

- older

[Unreleased]: {HOME}/compare/{TAG}...HEAD
[{VERSION}]: {HOME}/releases/tag/{TAG}
"""
NOTES = """### Added
- the first thing

- the second thing

### Fixed
- a bug
"""


def pyproject(urls: dict[str, str], version: str = VERSION) -> str:
    lines = [
        "[build-system]",
        'requires = ["setuptools>=77"]',
        'build-backend = "setuptools.build_meta"',
        "[project]",
        'name = "cms-reconciler"',
        f'version = "{version}"',
        "[tool.setuptools]",
        'packages = ["reconciler"]',
    ]
    if urls:
        lines += ["[project.urls]", *(f'{name} = "{url}"' for name, url in urls.items())]
    return "\n".join(lines) + "\n"


def project(
    root: Path,
    *,
    version: str = VERSION,
    changelog: str = CHANGELOG,
    urls: dict[str, str] | None = None,
) -> Path:
    """A checkout's worth of what the release scripts read: a package, its version,
    pyproject.toml and CHANGELOG.md."""
    urls = {"Homepage": HOME, "Issues": f"{HOME}/issues"} if urls is None else urls
    (root / "reconciler").mkdir(parents=True)
    (root / "reconciler" / "__init__.py").write_text(f'"""Doc."""\n\n__version__ = "{version}"\n')
    (root / "pyproject.toml").write_text(pyproject(urls, version))
    (root / "CHANGELOG.md").write_text(changelog)
    return root


def run(
    github: GitHub, cwd: Path, script: str, *args: str, **env: str | None
) -> subprocess.CompletedProcess[str]:
    # python3 is this interpreter's (tomllib, build and setuptools), as setup-python's on a runner.
    path = f"{Path(sys.executable).parent}{os.pathsep}{github.env()['PATH']}"
    return github.run_in(cwd, script, *args, PATH=path, **env)


# --- release-notes.sh ----------------------------------------------------------------------------


def test_the_notes_are_the_versions_section_alone(github: GitHub, tmp_path: Path) -> None:
    root = project(tmp_path / "checkout")
    result = run(github, root, "release-notes.sh", VERSION)
    assert (result.returncode, result.stderr) == (0, "")
    assert result.stdout == NOTES  # no heading, no neighbour, no link definitions
    older = run(github, root, "release-notes.sh", "1.2.2")  # the last: up to the links
    assert older.stdout == "- older\n"


@pytest.mark.parametrize(
    ("changelog", "version", "error"),
    [
        (CHANGELOG, "1.2.4", "has no section '## [1.2.4] - YYYY-MM-DD'"),
        # The dots are not a pattern: 1x2x3 is not 1.2.3.
        (CHANGELOG.replace(f"[{VERSION}]", "[1x2x3]"), VERSION, "has no section '## [1.2.3]"),
        (CHANGELOG.replace(f"[{VERSION}] - 2025-02-03", f"[{VERSION}]"), VERSION, "without its"),
        (CHANGELOG.replace(NOTES, "\n"), VERSION, "section '## [1.2.3]' is empty"),
        (CHANGELOG, "Unreleased", "'## [Unreleased]' without its release date"),
    ],
    ids=["absent", "dots-literal", "undated", "empty", "unreleased"],
)
def test_no_dated_section_no_notes(
    github: GitHub, tmp_path: Path, changelog: str, version: str, error: str
) -> None:
    root = project(tmp_path / "checkout", changelog=changelog)
    result = run(github, root, "release-notes.sh", version)
    assert (result.returncode, result.stdout) == (1, "")
    assert result.stderr.startswith("::error::CHANGELOG.md ")
    assert error in result.stderr


# --- release-check.sh ----------------------------------------------------------------------------


def test_a_consistent_release_passes_and_says_its_version(github: GitHub, tmp_path: Path) -> None:
    root = project(tmp_path / "checkout")
    out = tmp_path / "github-output"
    result = run(github, root, "release-check.sh", TAG, GITHUB_OUTPUT=str(out))
    assert (result.returncode, result.stderr, result.stdout) == (0, "", f"{VERSION}\n")
    assert out.read_text() == f"version={VERSION}\n"


def test_the_repository_is_compared_as_github_does_without_case(
    github: GitHub, tmp_path: Path
) -> None:
    root = project(tmp_path / "checkout")
    result = run(github, root, "release-check.sh", TAG, GITHUB_REPOSITORY=REPOSITORY.upper())
    assert result.returncode == 0, result.stderr


@pytest.mark.parametrize(
    ("tag", "setup", "error"),
    [
        ("1.2.3", {}, "tag '1.2.3' is not a release tag vX.Y.Z"),
        ("v1.2.3-rc1", {}, "is not a release tag vX.Y.Z"),
        (
            TAG,
            {"version": "1.2.4"},
            "tag v1.2.3 is not the code's version: "
            'reconciler/__init__.py has __version__ = "1.2.4"',
        ),
        (TAG, {"changelog": "# Changelog\n"}, "CHANGELOG.md has no section '## [1.2.3] - "),
        (TAG, {"urls": {}}, "pyproject.toml has no [project.urls]"),
        (
            TAG,
            {"urls": {"Homepage": "https://github.com/cms-reconciler/cms-reconciler"}},
            "Homepage = https://github.com/cms-reconciler/cms-reconciler is not on "
            f"https://github.com/{REPOSITORY}",
        ),
        # A prefix of another repository's name is not this repository.
        (TAG, {"urls": {"Source": f"{HOME}-fork"}}, f"Source = {HOME}-fork is not on"),
    ],
    ids=["no-v", "not-x.y.z", "version", "changelog", "no-urls", "other-repository", "prefix"],
)
def test_a_release_that_disagrees_with_itself_is_refused(
    github: GitHub, tmp_path: Path, tag: str, setup: dict[str, Any], error: str
) -> None:
    root = project(tmp_path / "checkout", **setup)
    out = tmp_path / "github-output"
    result = run(github, root, "release-check.sh", tag, GITHUB_OUTPUT=str(out))
    assert (result.returncode, result.stdout) == (1, "")
    errors = [line for line in result.stderr.splitlines() if line.startswith("::error::")]
    assert len(errors) == 1, result.stderr
    assert error in errors[0]
    assert "nothing was built or published" in result.stderr
    assert not out.exists()


def test_every_problem_is_reported_at_once(github: GitHub, tmp_path: Path) -> None:
    urls = {"Homepage": "https://example.org", "Issues": "https://github.com/other/repo/issues"}
    root = project(tmp_path / "checkout", version="2.0.0", changelog="", urls=urls)
    result = run(github, root, "release-check.sh", TAG)
    errors = [line for line in result.stderr.splitlines() if line.startswith("::error::")]
    assert result.returncode == 1
    assert len(errors) == 4, result.stderr  # version, changelog, two URLs
    assert "release v1.2.3 refused (4 problem(s) above)" in result.stderr


def test_the_projects_urls_name_one_repository_which_the_check_holds_them_to(
    github: GitHub,
) -> None:
    """pyproject's URLs are a guess until the project is published: the release refuses to
    go out from any repository but the one they name, so one edit fixes all of them."""
    urls: dict[str, str] = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]["urls"]
    named = {"/".join(url.split("/")[3:5]).split("#")[0] for url in urls.values()}
    assert len(named) == 1, urls
    (repository,) = named
    tag = f"v{__version__}"
    there = run(github, REPO, "release-check.sh", tag, GITHUB_REPOSITORY=repository)
    assert "[project.urls]" not in there.stderr
    elsewhere = run(github, REPO, "release-check.sh", tag, GITHUB_REPOSITORY="someone/else")
    assert elsewhere.returncode == 1
    assert elsewhere.stderr.count("[project.urls]") == len(urls)


# --- release-build.sh ----------------------------------------------------------------------------


def test_the_build_makes_the_two_files_of_the_version_and_their_sums(
    github: GitHub, tmp_path: Path
) -> None:
    root = project(tmp_path / "checkout")
    result = run(github, root, "release-build.sh", VERSION, PYTHON=sys.executable)
    assert result.returncode == 0, result.stderr
    built = sorted(path.name for path in (root / "dist").iterdir())
    assert built == [
        f"cms_reconciler-{VERSION}-py3-none-any.whl",
        f"cms_reconciler-{VERSION}.tar.gz",
    ]
    sums = (root / "SHA256SUMS").read_text()
    assert result.stdout.endswith(sums)
    expected = {
        name: hashlib.sha256((root / "dist" / name).read_bytes()).hexdigest() for name in built
    }
    assert {name: digest for digest, name in (line.split("  ") for line in sums.splitlines())} == (
        expected
    )


def test_the_build_refuses_a_version_it_did_not_build(github: GitHub, tmp_path: Path) -> None:
    root = project(tmp_path / "checkout", version="1.2.4")
    result = run(github, root, "release-build.sh", VERSION, PYTHON=sys.executable)
    assert result.returncode == 1
    assert "::error::the build made [cms_reconciler-1.2.4-py3-none-any.whl" in result.stderr
    assert not (root / "SHA256SUMS").exists()


def test_the_build_refuses_a_dist_folder_with_files_in_it(github: GitHub, tmp_path: Path) -> None:
    root = project(tmp_path / "checkout")
    (root / "dist").mkdir()
    (root / "dist" / "cms_reconciler-0.9.0-py3-none-any.whl").write_text("stale")
    result = run(github, root, "release-build.sh", VERSION, PYTHON=sys.executable)
    assert result.returncode == 1
    assert "::error::dist/ is not empty" in result.stderr
    assert [path.name for path in (root / "dist").iterdir()] == [
        "cms_reconciler-0.9.0-py3-none-any.whl"
    ]


# --- release-github.sh ---------------------------------------------------------------------------


def built(root: Path) -> tuple[Path, Path]:
    """dist/ with a wheel and an sdist (their bytes stand in), and their SHA256SUMS."""
    dist = root / "dist"
    dist.mkdir(parents=True)
    lines = []
    for name in (f"cms_reconciler-{VERSION}-py3-none-any.whl", f"cms_reconciler-{VERSION}.tar.gz"):
        (dist / name).write_bytes(name.encode() * 3)
        lines.append(f"{hashlib.sha256(name.encode() * 3).hexdigest()}  {name}\n")
    sums = root / "SHA256SUMS"
    sums.write_text("".join(lines))
    return dist, sums


def test_the_github_release_holds_the_files_their_sums_and_the_notes(
    github: GitHub, tmp_path: Path
) -> None:
    root = project(tmp_path / "checkout")
    dist, sums = built(tmp_path / "artifacts")
    github.change(lambda state: state["tags"].append(TAG))
    result = run(github, root, "release-github.sh", TAG, str(dist), str(sums))
    assert result.returncode == 0, result.stderr
    assert result.stdout == f"https://github.com/{REPOSITORY}/releases/tag/{TAG}\n"
    (release,) = github.state()["releases"]
    assert (release["tag"], release["title"]) == (TAG, f"cms-reconciler {VERSION}")
    assert release["notes"] == NOTES
    files = [*sorted(dist.iterdir()), sums]
    assert release["assets"] == [
        {"name": path.name, "size": path.stat().st_size, "sha256": sha256(path)} for path in files
    ]
    (call,) = github.calls()
    assert call[:3] == ["release", "create", TAG]
    assert "--verify-tag" in call  # the pushed tag's release, never a tag made at main's tip


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


@pytest.mark.parametrize("change", ["altered", "extra", "missing"])
def test_files_that_are_not_the_summed_ones_are_not_released(
    github: GitHub, tmp_path: Path, change: str
) -> None:
    root = project(tmp_path / "checkout")
    dist, sums = built(tmp_path / "artifacts")
    wheel = dist / f"cms_reconciler-{VERSION}-py3-none-any.whl"
    if change == "altered":
        wheel.write_bytes(b"something else")
    elif change == "extra":
        (dist / "cms_reconciler-0.9.0-py3-none-any.whl").write_bytes(b"stale")
    else:
        wheel.unlink()
    github.change(lambda state: state["tags"].append(TAG))
    result = run(github, root, "release-github.sh", TAG, str(dist), str(sums))
    assert result.returncode == 1
    error = "not the ones the build job summed" if change == "altered" else "SHA256SUMS lists"
    assert error in result.stderr
    assert github.calls() == []


def test_without_notes_or_the_tag_there_is_no_release(github: GitHub, tmp_path: Path) -> None:
    dist, sums = built(tmp_path / "artifacts")
    undated = project(tmp_path / "undated", changelog="# Changelog\n\n## [1.2.3]\n\n- x\n")
    github.change(lambda state: state["tags"].append(TAG))
    result = run(github, undated, "release-github.sh", TAG, str(dist), str(sums))
    assert result.returncode == 1
    assert "without its release date" in result.stderr
    assert github.calls() == []

    other_tag = "v1.2.2"
    result = run(
        github, project(tmp_path / "checkout"), "release-github.sh", other_tag, str(dist), str(sums)
    )
    assert result.returncode == 1
    assert f"tag {other_tag} doesn't exist in the repo {REPOSITORY}" in result.stderr
    assert github.state()["releases"] == []


def test_a_second_release_of_a_tag_is_refused(github: GitHub, tmp_path: Path) -> None:
    root = project(tmp_path / "checkout")
    dist, sums = built(tmp_path / "artifacts")
    github.change(lambda state: state["tags"].append(TAG))
    assert run(github, root, "release-github.sh", TAG, str(dist), str(sums)).returncode == 0
    again = run(github, root, "release-github.sh", TAG, str(dist), str(sums))
    assert again.returncode == 1
    assert f"a release with the same tag name already exists: {TAG}" in again.stderr
    assert len(github.state()["releases"]) == 1


# --- release.yml ---------------------------------------------------------------------------------


def release_jobs() -> dict[str, dict[str, Any]]:
    jobs: dict[str, dict[str, Any]] = load(RELEASE)["jobs"]
    return jobs


def test_a_release_runs_on_a_version_tag_only() -> None:
    assert load(RELEASE)["on"] == {"push": {"tags": ["v*"]}}


def test_each_job_may_write_only_what_it_needs() -> None:
    assert {name: job["permissions"] for name, job in release_jobs().items()} == {
        "build": {"contents": "read"},
        "test": {"contents": "read"},
        "attest": {"contents": "read", "id-token": "write", "attestations": "write"},
        "publish": {"id-token": "write"},
        "github-release": {"contents": "write"},
    }


def test_nothing_is_published_before_the_wheel_passed_the_tests_and_was_attested() -> None:
    needs = {
        name: {job["needs"]} if isinstance(job.get("needs"), str) else set(job.get("needs", []))
        for name, job in release_jobs().items()
    }
    assert needs["test"] == needs["attest"] == {"build"}
    assert needs["publish"] >= {"test", "attest"}
    assert "publish" in needs["github-release"]
    test_steps = [step.get("run") for step in release_jobs()["test"]["steps"]]
    assert "make test-wheel" in test_steps


def test_pypi_by_trusted_publishing_with_no_stored_secret() -> None:
    text = RELEASE.read_text()
    assert "secrets." not in text
    assert "password" not in text
    publish = release_jobs()["publish"]
    assert publish["environment"]["name"] == "pypi"
    uses = [str(step.get("uses", "")) for step in publish["steps"]]
    assert any(use.startswith("pypa/gh-action-pypi-publish@") for use in uses)


def test_the_files_are_built_once_and_every_later_job_takes_them() -> None:
    for name, job in release_jobs().items():
        runs = " ".join(str(step.get("run", "")) for step in job["steps"])
        assert ("release-build.sh" in runs) == (name == "build"), name
        assert "-m build" not in runs, name  # only ever through release-build.sh
        if name != "build":
            downloads = [
                step["with"]["name"]
                for step in job["steps"]
                if str(step.get("uses", "")).startswith("actions/download-artifact@")
            ]
            assert "dist" in downloads, name


def test_the_logic_is_in_scripts_not_in_the_yaml() -> None:
    for name, job in release_jobs().items():
        for step in job["steps"]:
            if "run" in step:
                command = str(step["run"]).strip()
                assert "\n" not in command, f"{name}: one command a step"
                assert command.startswith((".github/scripts/", "make ", "python -m pip ")), command


def test_init_never_copies_the_release() -> None:
    """A repository made by `reconcile init` releases nothing: the workflow, its scripts and
    its lock stay the project's own."""
    github = REPO / ".github"
    release_files = {
        path.relative_to(github).as_posix()
        for path in github.rglob("*")
        if path.is_file() and "release" in path.name
    }
    assert release_files >= {"workflows/release.yml", "scripts/release-check.sh"}
    assert release_files <= set(NOT_COPIED)
    assert not release_files & set(template_files())


# --- the lock of the build tools -----------------------------------------------------------------


def pins(lock: Path) -> dict[str, tuple[Version, list[str]]]:
    """A pip-compile lock's pins: name to (version, its --hash options)."""
    found: dict[str, tuple[Version, list[str]]] = {}
    for line in logical_lines(lock):
        text, _, hashes = line.partition(" --")
        requirement = Requirement(text)
        (specifier,) = requirement.specifier
        assert specifier.operator == "==", f"{text}: pinned exactly (make release-lock)"
        version = Version(specifier.version)
        found[canonicalize_name(requirement.name)] = (version, f"--{hashes}".split())
    return found


def test_the_build_tools_are_locked_with_hashes() -> None:
    assert "autogenerated by pip-compile" in RELEASE_LOCK.read_text()  # Dependabot recompiles it
    locked = pins(RELEASE_LOCK)
    named = {
        canonicalize_name(Requirement(line).name) for line in logical_lines(RELEASE_LOCK_INPUT)
    }
    assert named == {"build", "setuptools"}
    assert named <= set(locked)
    for name, (_, hashes) in locked.items():
        assert hashes, f"{name} has no --hash: pip's --require-hashes would refuse the lock"
        assert all(HASH.fullmatch(option) for option in hashes), (name, hashes)


def test_the_release_builds_with_pyprojects_backend_at_the_runners_version() -> None:
    locked = pins(RELEASE_LOCK)
    setuptools = locked[canonicalize_name("setuptools")][0]
    requires = tomllib.loads((REPO / "pyproject.toml").read_text())["build-system"]["requires"]
    (backend,) = [Requirement(text) for text in requires]
    assert backend.specifier.contains(setuptools), (backend, setuptools)
    # A tool in both locks (setuptools) is one version: what the runners build the checkout
    # with (install-reconcile.sh) is what the release builds the wheel with.
    runners = pins(LOCK)
    for name in set(locked) & set(runners):
        assert locked[name] == runners[name], (name, locked[name][0], runners[name][0])


# --- make test-wheel: the tests against the installed wheel ------------------------------------

only_installed = pytest.mark.skipif(
    not installed.requested(), reason="checks `make test-wheel` (RECONCILE_TEST_INSTALLED=1)"
)


def test_the_installed_mode_refuses_a_session_that_would_test_the_checkout() -> None:
    """In the checkout's venv (an editable install), or with a process's working directory
    first on its path (no PYTHONSAFEPATH), `reconciler` is the checkout's: the session stops
    before collecting a test."""
    env = {key: value for key, value in os.environ.items() if not key.startswith("PYTEST_")}
    env.pop("PYTHONSAFEPATH", None)
    env[installed.VARIABLE] = "1"
    done = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "--collect-only", "-p", "no:cacheprovider"],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == pytest.ExitCode.USAGE_ERROR, done.stdout + done.stderr
    assert "but reconciler was imported from the checkout" in done.stderr
    assert "make test-wheel" in done.stderr


@only_installed
def test_reconciler_is_the_installed_wheel_and_the_tests_the_checkouts() -> None:
    import reconciler

    assert not installed.from_checkout(reconciler.__file__), reconciler.__file__
    assert installed.from_checkout(tests.__file__, "tests"), tests.__file__
    distribution = importlib.metadata.distribution(installed.DISTRIBUTION)
    recorded = Path(str(distribution.locate_file("reconciler/__init__.py"))).resolve()
    assert recorded == Path(reconciler.__file__).resolve()
    assert distribution.version == reconciler.__version__


@only_installed
def test_the_processes_the_tests_start_in_the_checkout_import_the_wheel_too() -> None:
    # A `python -m tests...` process started in the checkout (tests/support/installed.py).
    done = subprocess.run(
        [sys.executable, "-m", "tests.support.installed"],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    assert not installed.from_checkout(done.stdout.strip()), done.stdout
    # And a run of the CLI as the tests make it (tests/support/cli.py), from the checkout.
    version = cli.run(["--version"], cwd=REPO)
    assert (version.returncode, version.stdout) == (0, f"reconcile {__version__}\n")
