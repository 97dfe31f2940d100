"""`reconcile init` never writes outside DIR: a folder that resolves elsewhere (a symlinked
``.github`` or ``.github/workflows``) refuses the run before anything is written, anywhere; a
symbolic link where a file goes is kept and reported as a link, never as a file that differs."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from reconciler.cli import app
from reconciler.errors import ConfigError
from reconciler.init_repo import init_repo, render_report
from tests.support.trees import everything
from tests.support.wheels import make_wheel

VERSION = "1.2.3"


@pytest.fixture
def wheel(tmp_path_factory: pytest.TempPathFactory) -> str:
    """A cms-reconciler wheel to pin, outside the folders the tests look at."""
    return str(make_wheel(tmp_path_factory.mktemp("dist"), VERSION))


def with_link(tmp_path: Path, link: str) -> tuple[Path, Path]:
    """``ops/`` with ``link`` (and the folders above it) a symbolic link to ``elsewhere/``."""
    root, outside = tmp_path / "ops", tmp_path / "elsewhere"
    outside.mkdir()
    (root / link).parent.mkdir(parents=True, exist_ok=True)
    (root / link).symlink_to(outside, target_is_directory=True)
    return root, outside


@pytest.mark.reliability(
    section="truthful",
    case="init refuses a symlinked .github or .github/workflows out of DIR, writing nothing",
)
@pytest.mark.parametrize("link", [".github", ".github/workflows"])
def test_a_folder_leading_out_of_the_repository_is_refused_and_nothing_written(
    tmp_path: Path, wheel: str, link: str
) -> None:
    root, outside = with_link(tmp_path, link)
    before = everything(tmp_path)
    with pytest.raises(ConfigError) as refused:
        init_repo(root, VERSION, wheel)
    message = str(refused.value)
    assert "\n" not in message
    where, inside = outside.resolve(), root.resolve()
    assert message.startswith(f"{link} resolves to {where}, outside the repository {inside}")
    assert f"({link} is a symbolic link to {outside})" in message
    assert message.endswith("nothing was written")
    assert everything(tmp_path) == before  # not in DIR, not elsewhere, no git init either
    assert list(outside.iterdir()) == []


@pytest.mark.reliability(
    section="truthful", case="init's refusal of a path leading out of DIR: one line, exit 1"
)
def test_the_cli_refuses_in_one_line_with_exit_1(tmp_path: Path, wheel: str) -> None:
    root, outside = with_link(tmp_path, ".github")
    result = CliRunner().invoke(app, ["init", str(root), "--requirement", wheel])
    assert result.exit_code == 1, result.output
    assert result.stdout == ""
    assert result.stderr == (
        f"error: .github resolves to {outside.resolve()}, outside the repository {root.resolve()} "
        f"(.github is a symbolic link to {outside}); nothing was written\n"
    )
    assert list(outside.iterdir()) == []
    assert not (root / ".git").exists()


def test_a_folder_that_is_a_dangling_link_is_refused_before_writing(
    tmp_path: Path, wheel: str
) -> None:
    root = tmp_path / "ops"
    root.mkdir()
    (root / "certs").symlink_to("store/certs")  # inside DIR, but nothing there
    before = everything(tmp_path)
    with pytest.raises(ConfigError, match=r"^certs in .* is a symbolic link to store/certs, wh"):
        init_repo(root, VERSION, wheel)
    assert everything(tmp_path) == before


def test_a_folder_linked_inside_the_repository_is_written_through(
    tmp_path: Path, wheel: str
) -> None:
    root = tmp_path / "ops"
    (root / "ci" / "github").mkdir(parents=True)
    (root / ".github").symlink_to("ci/github", target_is_directory=True)
    report = init_repo(root, VERSION, wheel)
    assert {f.state for f in report.files} == {"created"}
    assert (root / "ci" / "github" / "workflows" / "plan.yml").is_file()
    assert (root / ".github").is_symlink()


@pytest.mark.reliability(
    section="truthful",
    case="init reports a symbolic link where a file goes as a link, never as a differing file",
)
def test_a_link_where_a_file_goes_is_kept_and_said_to_be_a_link(tmp_path: Path, wheel: str) -> None:
    root = tmp_path / "ops"
    root.mkdir()
    outside = tmp_path / "outside.txt"
    (root / ".gitignore").symlink_to(outside)  # dangling, pointing out of DIR
    (root / "README.md").symlink_to("docs/missing.md")  # dangling, inside DIR
    (root / "docs").mkdir()
    (root / "docs" / "known_hosts").write_text("# mine\n")
    (root / "clusters").mkdir()
    (root / "clusters" / "known_hosts").symlink_to("../docs/known_hosts")  # not dangling
    report = init_repo(root, VERSION, wheel)
    states = {f.path: f.state for f in report.files}
    assert states[".gitignore"] == states["README.md"] == "kept-link"
    assert states["clusters/known_hosts"] == "kept-link"
    text = render_report(report)
    assert f"kept     .gitignore (a symbolic link to {outside}, which does not exist; not " in text
    assert "kept     README.md (a symbolic link to docs/missing.md, which does not exist; " in text
    assert (
        "kept     clusters/known_hosts (a symbolic link to ../docs/known_hosts; not followed)"
        in text
    )
    assert "differs" not in text
    assert not outside.exists()
    assert not (root / "docs" / "missing.md").exists()
    assert (root / "docs" / "known_hosts").read_text() == "# mine\n"
