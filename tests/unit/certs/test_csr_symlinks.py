"""`certs csr` never writes keys outside the repository: a symlinked ``certs/NAME/csr`` (or a
link on the way) leading elsewhere refuses before any key is made, writing nothing anywhere;
``--out`` still names a folder anywhere, on purpose."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from reconciler.certs.csr import CsrRequest, run_csr
from reconciler.cli import app
from reconciler.errors import ConfigError
from tests.support.trees import everything
from tests.unit.certs.support import Repo
from tests.unit.desired.labrepo import CERTS, CLUSTER

PENDING = f"{CERTS}/csr"


def csr(repo: Repo, out: Path | None = None) -> None:
    run_csr(CsrRequest(repo.root, CLUSTER, out, key_size=2048), repo.env)


@pytest.mark.reliability(
    section="truthful",
    case="certs csr refuses a symlinked certs/NAME/csr leading out of the repository",
)
@pytest.mark.parametrize("made", [True, False], ids=["to a folder", "dangling"])
def test_a_pending_folder_leading_out_of_the_repository_is_refused(
    repo: Repo, tmp_path: Path, made: bool
) -> None:
    outside = tmp_path / "elsewhere"
    if made:
        outside.mkdir()
    (repo.root / PENDING).symlink_to(outside, target_is_directory=True)
    before = everything(tmp_path)
    with pytest.raises(ConfigError) as refused:
        csr(repo)
    message = str(refused.value)
    assert "\n" not in message
    assert message == (
        f"{PENDING}/server.key resolves to {outside.resolve()}/server.key, outside the "
        f"repository {repo.root.resolve()} ({PENDING} is a symbolic link to {outside}); "
        "nothing was written"
    )
    assert everything(tmp_path) == before  # the repository and elsewhere alike
    assert not made or list(outside.iterdir()) == []


@pytest.mark.reliability(
    section="truthful", case="certs csr's refusal of a folder leading out: one line, exit 1"
)
def test_the_cli_refuses_in_one_line_with_exit_1(repo: Repo, tmp_path: Path) -> None:
    outside = tmp_path / "elsewhere"
    outside.mkdir()
    (repo.root / CERTS).rename(tmp_path / "moved")
    (repo.root / CERTS).symlink_to(tmp_path / "moved", target_is_directory=True)
    before = everything(tmp_path)
    result = CliRunner(env=repo.env).invoke(
        app, ["certs", "csr", "--cluster", CLUSTER, "--repo", str(repo.root)]
    )
    assert result.exit_code == 1, result.output
    assert result.stdout == ""
    assert result.stderr.count("\n") == 1
    moved = (tmp_path / "moved").resolve()
    assert result.stderr.startswith(f"error: {PENDING}/server.key resolves to {moved}/csr/")
    assert f"({CERTS} is a symbolic link to {tmp_path / 'moved'})" in result.stderr
    assert everything(tmp_path) == before


def test_a_pending_folder_linked_inside_the_repository_is_written_through(
    repo: Repo,
) -> None:
    (repo.root / "pending").mkdir()
    (repo.root / PENDING).symlink_to("../../pending", target_is_directory=True)
    csr(repo)
    assert sorted(path.name for path in (repo.root / "pending").iterdir()) == [
        "client.csr",
        "client.key",
        "server.csr",
        "server.key",
    ]


def test_out_still_names_a_folder_anywhere(repo: Repo, tmp_path: Path) -> None:
    out = tmp_path / "keys"
    csr(repo, out)
    assert (out / "server.key").is_file()
    assert not (repo.root / PENDING).exists()
