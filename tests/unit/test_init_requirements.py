"""What `reconcile init` pins (reconciler/init_requirements.py): every requirement line hashed,
composed from the lock the package ships; each kind of --requirement; the refusals, which
write nothing; the default pin missing, said, and only that file left unwritten.

pip runs for real, held to a local --find-links folder with no index and none of this
machine's pip settings (tests/support/wheels.py): no network."""

from __future__ import annotations

import hashlib
import re
import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from reconciler import __version__, init_requirements
from reconciler import init_repo as init_repo_module
from reconciler.cli import app
from reconciler.errors import ConfigError, OptionError
from reconciler.init_repo import EXIT_UNPINNED, init_repo, project_lock, render_report
from reconciler.init_requirements import (
    GIT_REQUIREMENT,
    REQUIREMENTS,
    Pin,
    Unpinned,
    locked_dependencies,
    pin_release,
)
from tests.support.lab import REPO
from tests.support.wheels import hold_pip_offline, make_wheel, offline_pip_env, record_hash

VERSION = "1.2.3"
COMMIT = "0123456789abcdef0123456789abcdef01234567"
HASHED = re.compile(r"\S.* --hash=sha256:[0-9a-f]{64}( --hash=sha256:[0-9a-f]{64})*")


def requirement_lines(text: str) -> list[str]:
    """The file's requirements: comments dropped, backslash continuations joined."""
    joined = re.sub(r"\\\n", " ", text)
    lines = (re.sub(r"(^|\s)#.*", "", line).strip() for line in joined.splitlines())
    return [re.sub(r"\s+", " ", line) for line in lines if line]


def pinned_names(text: str) -> list[str]:
    return [re.split(r"[=@ ]", line, maxsplit=1)[0] for line in requirement_lines(text)]


def locked_names(*, setuptools: bool) -> list[str]:
    names = pinned_names((REPO / ".github" / "requirements.txt").read_text())
    return [name for name in names if setuptools or name != "setuptools"]


@pytest.fixture
def wheels(tmp_path: Path) -> Path:
    """A --find-links folder offering cms-reconciler VERSION (and nothing else)."""
    folder = tmp_path / "wheels"
    make_wheel(folder, VERSION)
    return folder


@pytest.fixture
def not_installed(monkeypatch: pytest.MonkeyPatch) -> None:
    """As when reconcile runs from a checkout: nothing to compare the index's wheel with."""
    monkeypatch.setattr(init_requirements, "installed_files", lambda: None)


def pin(spec: str | None, wheels: Path | None, pythons: list[str] | None = None) -> Pin | Unpinned:
    env = offline_pip_env(wheels)
    return pin_release(spec, VERSION, project_lock(), env=env, pythons=pythons)


def pinned(spec: str | None, wheels: Path | None, pythons: list[str] | None = None) -> Pin:
    result = pin(spec, wheels, pythons)
    assert isinstance(result, Pin), result
    return result


def refused(spec: str, wheels: Path | None = None) -> str:
    with pytest.raises(OptionError) as caught:
        pin(spec, wheels, pythons=[])  # pythons=[]: no pip can run, none is needed
    message = str(caught.value)
    assert message.startswith(f"--requirement {spec}: "), message
    assert "\n" not in message
    return message


def assert_every_line_hashed(text: str) -> None:
    lines = requirement_lines(text)
    assert lines
    for line in lines:
        assert HASHED.fullmatch(line), line


# --- the lock ------------------------------------------------------------------------------


def test_the_lock_ships_with_the_package_and_is_the_projects() -> None:
    assert project_lock() == (REPO / ".github" / "requirements.txt").read_text()


def test_the_dependencies_are_the_lock_less_setuptools() -> None:
    lock = project_lock()
    without = locked_dependencies(lock, build_backend=False)
    with_backend = locked_dependencies(lock, build_backend=True)
    assert [pinned_names(block)[0] for block in without] == locked_names(setuptools=False)
    assert [pinned_names(block)[0] for block in with_backend] == locked_names(setuptools=True)
    assert "setuptools" in locked_names(setuptools=True)
    for block in with_backend:
        assert_every_line_hashed(block)


def test_a_lock_line_without_a_hash_is_an_error() -> None:
    with pytest.raises(ConfigError, match=r"pins rich==13\.0 without a hash"):
        locked_dependencies("rich==13.0\n", build_backend=False)


# --- the default: this release from the configured index -------------------------------------


def test_the_default_pins_this_release_from_the_index(wheels: Path, not_installed: None) -> None:
    result = pinned(None, wheels)
    text = result.files[REQUIREMENTS].decode()
    assert set(result.files) == {REQUIREMENTS}
    assert_every_line_hashed(text)
    digest = hashlib.sha256((wheels / f"cms_reconciler-{VERSION}-py3-none-any.whl").read_bytes())
    first, *rest = requirement_lines(text)
    assert first == f"cms-reconciler=={VERSION} --hash=sha256:{digest.hexdigest()}"
    assert [pinned_names(line)[0] for line in rest] == locked_names(setuptools=False)
    assert f"from the package index pip is configured for (cms_reconciler-{VERSION}" in result.what
    assert "reconcile init --requirement SPEC" in text  # how to change it, in the file itself
    (note,) = result.notes
    assert "not compared with this reconcile" in note


def test_the_indexs_wheel_must_be_the_running_reconcile(
    wheels: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    mine = {"reconciler/__init__.py": record_hash(f'__version__ = "{VERSION}"\n'.encode())}
    monkeypatch.setattr(init_requirements, "installed_files", lambda: mine)
    assert pinned(None, wheels).notes == ()  # the same files: nothing to say

    altered = {**mine, "reconciler/cli.py": record_hash(b"print('hello')\n")}
    monkeypatch.setattr(init_requirements, "installed_files", lambda: altered)
    result = pin(None, wheels)
    assert isinstance(result, Unpinned)
    assert result.requirement == f"cms-reconciler=={VERSION}"
    assert "is not the reconcile running here (reconciler/cli.py differs)" in result.reason


def test_not_on_the_index_is_unpinned_with_pips_reason(tmp_path: Path) -> None:
    result = pin(None, tmp_path)  # an empty --find-links folder, no index
    assert isinstance(result, Unpinned)
    assert result.reason.startswith("pip could not download it (ERROR: ")
    assert f"cms-reconciler=={VERSION}" in result.reason


def test_a_python_without_pip_falls_back_to_the_next(
    tmp_path: Path, wheels: Path, not_installed: None
) -> None:
    # A pipx venv made with pipx's uv backend has no pip, nor pipx's shared one.
    bare = tmp_path / "bare"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", bare], check=True)
    python = str(bare / "bin" / "python")
    alone = pin(None, wheels, pythons=[python])
    assert isinstance(alone, Unpinned)
    assert f"{python} has no pip" in alone.reason
    assert pinned(None, wheels, pythons=[python, sys.executable]).files


# --- --requirement ---------------------------------------------------------------------------


def test_a_wheel_file_is_copied_and_pinned_by_path(tmp_path: Path) -> None:
    wheel = make_wheel(tmp_path / "dist", "1.3.0")
    result = pinned(str(wheel), None, pythons=[])  # no pip needed
    target = f".github/wheels/{wheel.name}"
    assert result.files[target] == wheel.read_bytes()
    assert list(result.files) == [target, REQUIREMENTS]  # the wheel before what names it
    text = result.files[REQUIREMENTS].decode()
    assert_every_line_hashed(text)
    digest = hashlib.sha256(wheel.read_bytes()).hexdigest()
    assert requirement_lines(text)[0] == f"{target} --hash=sha256:{digest}"
    assert "no index serves it" in result.what
    (note,) = result.notes  # another release than this reconcile's: said, not refused
    assert f"this pins cms-reconciler 1.3.0 while this reconcile is {VERSION}" in note


def test_an_https_url_with_its_hash_needs_no_download() -> None:
    digest = "ab" * 32
    url = f"https://files.example.com/cms_reconciler-{VERSION}-py3-none-any.whl"
    result = pinned(f"{url}#sha256={digest}", None, pythons=[])
    text = result.files[REQUIREMENTS].decode()
    assert_every_line_hashed(text)
    assert requirement_lines(text)[0] == f"cms-reconciler @ {url} --hash=sha256:{digest}"
    assert result.notes == ()
    named = pinned(f"cms-reconciler @ {url}#sha256={digest}", None, pythons=[])
    assert named.files == result.files


def test_an_https_url_without_a_hash_is_downloaded_and_hashed(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    wheel = make_wheel(tmp_path, VERSION)
    asked = []

    def download(requirement: str, *_: object) -> tuple[str, bytes]:
        asked.append(requirement)
        return wheel.name, wheel.read_bytes()

    monkeypatch.setattr(init_requirements, "_download", download)
    url = f"https://files.example.com/{wheel.name}"
    text = pinned(url, None).files[REQUIREMENTS].decode()
    digest = hashlib.sha256(wheel.read_bytes()).hexdigest()
    assert asked == [f"cms-reconciler @ {url}"]
    assert requirement_lines(text)[0] == f"cms-reconciler @ {url} --hash=sha256:{digest}"


def test_a_release_on_an_internal_index(tmp_path: Path) -> None:
    make_wheel(tmp_path, "1.2.4")
    result = pinned("cms-reconciler==1.2.4", tmp_path)
    text = result.files[REQUIREMENTS].decode()
    assert_every_line_hashed(text)
    assert requirement_lines(text)[0].startswith("cms-reconciler==1.2.4 --hash=sha256:")
    assert any("this pins cms-reconciler 1.2.4" in note for note in result.notes)
    with pytest.raises(OptionError, match=r"^--requirement cms-reconciler==9\.9: pip could not"):
        pin("cms-reconciler==9.9", tmp_path)


def test_a_git_commit(tmp_path: Path) -> None:
    spec = f"git+https://git.example.com/ops/cms-reconciler.git@{COMMIT}"
    result = pinned(spec, None, pythons=[])
    assert list(result.files) == [GIT_REQUIREMENT, REQUIREMENTS]
    text = result.files[REQUIREMENTS].decode()
    assert_every_line_hashed(text)  # the dependencies, hashed; the commit is elsewhere
    assert pinned_names(text) == locked_names(setuptools=True)  # setuptools builds the commit
    git_lines = requirement_lines(result.files[GIT_REQUIREMENT].decode())
    assert git_lines == [f"cms-reconciler @ {spec}"]
    assert "full commit id" in result.files[GIT_REQUIREMENT].decode()
    assert COMMIT in result.what
    ssh = f"cms-reconciler @ git+ssh://git@git.example.com/ops/cms-reconciler.git@{COMMIT}"
    assert pinned(ssh, None, pythons=[]).files[GIT_REQUIREMENT].decode().endswith(f"{ssh}\n")


@pytest.mark.parametrize(
    ("spec", "says"),
    [
        ("cms-reconciler>=1.0", "not a SPEC init knows"),
        ("", "empty; give a wheel file"),
        (".", "not a file; give the path of a cms_reconciler-1.2.3-py3-none-any.whl"),
        ("requests==2.0", "not a SPEC init knows"),
        ("./missing/cms_reconciler-1.2.3-py3-none-any.whl", "no such file"),
        ("http://files.example.com/cms_reconciler-1.2.3-py3-none-any.whl", "give an https URL"),
        ("https://me:token@files.example.com/cms_reconciler-1.2.3-py3-none-any.whl", "credentials"),
        ("https://files.example.com/cms_reconciler-1.2.3-py3-none-any.whl?X-Sig=1", "query"),
        ("https://files.example.com/other-1.0-py3-none-any.whl", "does not end in a cms"),
        ("https://files.example.com/cms_reconciler-1.2.3-py3-none-any.whl#md5=00", "#sha256="),
        ("git+https://git.example.com/ops/cms-reconciler.git", "names no commit"),
        ("git+https://git.example.com/ops/cms-reconciler.git@main", "'main' is a branch, tag"),
        ("git+https://git.example.com/ops/cms-reconciler.git@v1.2.3", "full commit id"),
        ("git+https://git.example.com/ops/cms-reconciler.git@0123456", "short commit id"),
        (f"git+https://me:token@git.example.com/cms-reconciler.git@{COMMIT}", "credentials"),
        (f"git+http://git.example.com/cms-reconciler.git@{COMMIT}", "git+https://HOST"),
        (f"git+https://git.example.com/cms-reconciler.git@{COMMIT}#egg=x", "no ?query"),
    ],
)
def test_a_spec_that_cannot_be_pinned_is_refused(spec: str, says: str) -> None:
    assert says in refused(spec)


def test_a_file_that_is_not_a_cms_reconciler_wheel_is_refused(tmp_path: Path) -> None:
    other = make_wheel(tmp_path, "1.0", name="other-tool")
    assert "not a cms-reconciler wheel" in refused(str(other))
    fake = tmp_path / "fake" / f"cms_reconciler-{VERSION}-py3-none-any.whl"
    fake.parent.mkdir()
    fake.write_text("not a zip")
    assert "no cms-reconciler metadata inside" in refused(str(fake))


# --- in init: nothing half-written -----------------------------------------------------------


def test_a_refused_spec_writes_nothing(tmp_path: Path) -> None:
    root = tmp_path / "ops"
    with pytest.raises(OptionError):
        init_repo(root, VERSION, "cms-reconciler>=1", env=offline_pip_env(None))
    assert not root.exists()


def test_the_default_pin_missing_writes_everything_else_and_says_so(tmp_path: Path) -> None:
    root = tmp_path / "ops"
    report = init_repo(root, VERSION, env=offline_pip_env(tmp_path))  # nothing on the "index"
    assert report.exit_code == EXIT_UNPINNED == 2
    assert not (root / REQUIREMENTS).exists()
    assert (root / ".github" / "workflows" / "plan.yml").is_file()
    assert REQUIREMENTS not in {f.path for f in report.files}
    text = render_report(report)
    assert f"pin      MISSING: {REQUIREMENTS} was not written: cms-reconciler=={VERSION}: " in text
    assert "No matching distribution found" in text
    assert "Do this first: every workflow fails at its setup step" in text
    assert "`reconcile init --requirement SPEC`" in text

    # Then the pin, and only it, is added.
    wheel = make_wheel(tmp_path / "dist", VERSION)
    again = init_repo(root, VERSION, str(wheel), env=offline_pip_env(None))
    assert again.exit_code == 0
    created = {f.path for f in again.files if f.state == "created"}
    assert created == {REQUIREMENTS, f".github/wheels/{wheel.name}"}
    said = render_report(again)
    assert f"pin      cms-reconciler {VERSION}, the wheel file .github/wheels/{wheel.name}" in said
    assert f"to change it, delete {REQUIREMENTS} and run `reconcile init --requirement" in said


def test_an_existing_pin_is_kept_and_no_index_is_asked(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    wheel = make_wheel(tmp_path / "dist", VERSION)
    init_repo(tmp_path / "ops", VERSION, str(wheel), env=offline_pip_env(None))

    def no_pin(*_: object, **__: object) -> Pin:
        raise AssertionError("a pin was made although the repository has one")

    monkeypatch.setattr(init_repo_module, "pin_release", no_pin)
    report = init_repo(tmp_path / "ops", VERSION, env=offline_pip_env(None))
    assert report.pin is None
    assert report.exit_code == 0
    assert {f.path: f.state for f in report.files}[REQUIREMENTS] == "kept"
    assert "pin      kept .github/reconcile-requirements.txt" in render_report(report)
    with pytest.raises(OptionError, match=r"reconcile-requirements.txt exists; delete it"):
        init_repo(tmp_path / "ops", VERSION, str(wheel), env=offline_pip_env(None))


def test_pin_files_in_the_way_refuse_before_writing(tmp_path: Path) -> None:
    wheel = make_wheel(tmp_path / "dist", VERSION)
    root = tmp_path / "ops"
    (root / ".github" / "wheels").mkdir(parents=True)
    (root / ".github" / "wheels" / wheel.name).write_bytes(b"another build")
    with pytest.raises(ConfigError, match="is not what the pin needs; delete it first"):
        init_repo(root, VERSION, str(wheel), env=offline_pip_env(None))
    (root / ".github" / "wheels" / wheel.name).unlink()
    (root / GIT_REQUIREMENT).write_text(f"cms-reconciler @ git+https://h/r@{COMMIT}\n")
    with pytest.raises(ConfigError, match="would install that git commit over the pin"):
        init_repo(root, VERSION, str(wheel), env=offline_pip_env(None))
    assert sorted(p.relative_to(root).as_posix() for p in root.rglob("*") if p.is_file()) == [
        GIT_REQUIREMENT
    ]


# --- the CLI ---------------------------------------------------------------------------------


def test_the_cli_refuses_a_bad_spec_in_one_line(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    spec = "git+https://git.example.com/ops/cms-reconciler.git@main"
    result = CliRunner().invoke(app, ["init", str(tmp_path / "ops"), "--requirement", spec])
    assert result.exit_code == 1
    assert result.output.startswith(f"error: --requirement {spec}: 'main' is a branch")
    assert result.output.count("\n") == 1
    assert not (tmp_path / "ops").exists()


def test_the_cli_exits_2_when_the_pin_is_missing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    hold_pip_offline(monkeypatch, tmp_path)
    result = CliRunner().invoke(app, ["init", str(tmp_path / "ops")])
    assert result.exit_code == 2, result.output
    assert f"pin      MISSING: {REQUIREMENTS} was not written: cms-reconciler=={__version__}" in (
        result.output
    )
    assert not (tmp_path / "ops" / REQUIREMENTS).exists()
