"""`reconcile demo`: the built-in lab end to end, in a folder of its own, leaving nothing when
it fails (here on free addresses and with fast operations)."""

from __future__ import annotations

import io
import os
import socket
import tempfile
from pathlib import Path

import pytest
from rich.console import Console

from reconciler.demo import DemoOptions, run_demo
from reconciler.errors import ReconcileError
from reconciler.simulator.builtin_lab import LAB_PATHS, LabPlace
from tests.e2e.conftest import LAB_ENV, until_stopped
from tests.support import cli
from tests.support.lab import FAST, LabAddresses

pytestmark = pytest.mark.e2e


def console() -> tuple[Console, io.StringIO]:
    buffer = io.StringIO()
    return Console(file=buffer, width=200, force_terminal=False, color_system=None), buffer


def place(addresses: LabAddresses) -> LabPlace:
    return LabPlace(addresses.cms1.rsplit(".", 1)[0], addresses.port)


@pytest.fixture
def temporary(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Where the demo's temporary folders go, so a test can see what it left."""
    folder = tmp_path / "tmp"
    folder.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(folder))
    return folder


def test_the_demo_rehearses_applies_and_converges(lab_repo: Path) -> None:
    shown_to, buffer = console()
    outcome = run_demo(LAB_ENV, shown_to, DemoOptions(repo=lab_repo, durations=FAST))
    assert outcome == 0, buffer.getvalue()
    shown = buffer.getvalue()
    for section in ("1. the lab", "2. reconcile --plan --rehearse", "3. reconcile --apply"):
        assert section in shown
    assert "Rehearsed on a twin: converges in 27 steps" in shown
    assert "lab: healthy" in shown
    assert shown.rstrip().endswith("Demo complete: the lab is converged.")
    assert "Traceback" not in shown


def test_without_a_folder_the_demo_copies_the_lab_and_keeps_it_on_success(
    temporary: Path, lab_addresses: LabAddresses
) -> None:
    """No variable set: the lab's published credentials; the copy is where the demo says."""
    shown_to, buffer = console()
    options = DemoOptions(place=place(lab_addresses), durations=FAST)
    env = {key: value for key, value in os.environ.items() if not key.startswith("CMS_LAB_")}
    assert run_demo(env, shown_to, options) == 0, buffer.getvalue()
    (copy,) = temporary.iterdir()
    shown = buffer.getvalue()
    assert f"The demo works in {copy}" in shown
    assert f"Kept in {copy}" in shown
    assert f"{lab_addresses.cms1}" in (copy / "clusters" / "lab.yaml").read_text()
    assert list((copy / ".reconcile" / "demo" / "journal").iterdir())


def test_a_demo_that_cannot_listen_says_so_in_one_line_and_leaves_nothing(
    temporary: Path, lab_addresses: LabAddresses
) -> None:
    with socket.socket() as taken:
        taken.bind((lab_addresses.cms2, lab_addresses.port))
        taken.listen()
        with pytest.raises(ReconcileError) as refused:
            run_demo(LAB_ENV, console()[0], DemoOptions(place=place(lab_addresses)))
    message = str(refused.value)
    assert "\n" not in message
    assert f"port {lab_addresses.port} are in use" in message
    assert "--subnet" in message
    assert list(temporary.iterdir()) == []


def test_a_demo_that_fails_in_a_given_folder_removes_only_what_it_wrote(
    tmp_path: Path, lab_addresses: LabAddresses
) -> None:
    """A wrong key passphrase stops the demo at its first read of the bundle."""
    repo = tmp_path / "mine"
    (repo / "clusters").mkdir(parents=True)
    (repo / "clusters" / "other.yaml").write_text("kept: yes\n")
    env = {**LAB_ENV, "CMS_LAB_KEY_PASSPHRASE": "not-the-lab-passphrase"}
    shown_to, buffer = console()
    try:
        outcome = run_demo(env, shown_to, DemoOptions(repo=repo, place=place(lab_addresses)))
    except ReconcileError:
        outcome = 1
    assert outcome == 1, buffer.getvalue()
    assert sorted(p.relative_to(repo).as_posix() for p in repo.rglob("*")) == [
        "clusters",
        "clusters/other.yaml",
    ]


def test_the_demo_refuses_to_write_over_a_lab_file_it_did_not_make(
    tmp_path: Path, lab_addresses: LabAddresses
) -> None:
    repo = tmp_path / "mine"
    (repo / "certs" / "lab").mkdir(parents=True)
    (repo / "certs" / "lab" / "mine.cer").write_text("mine\n")
    with pytest.raises(ReconcileError, match="already has certs/lab"):
        run_demo(LAB_ENV, console()[0], DemoOptions(repo=repo, place=place(lab_addresses)))
    assert [p.name for p in repo.rglob("*")] == ["certs", "lab", "mine.cer"]
    assert set(LAB_PATHS) >= {"certs/lab"}


def test_cli_demo_on_busy_addresses_exits_1_with_one_line(
    tmp_path: Path, lab_addresses: LabAddresses
) -> None:
    subnet = place(lab_addresses).subnet
    with socket.socket() as taken:
        taken.bind((lab_addresses.cms1, lab_addresses.port))
        taken.listen()
        done = cli.run(
            ["demo", "--subnet", subnet, "--port", str(lab_addresses.port)],
            cwd=tmp_path,
            env={**os.environ, "TMPDIR": str(tmp_path)},
        )
    assert done.returncode == 1
    assert done.stderr.count("\n") == 1, done.stderr
    assert "are in use" in done.stderr
    assert "Errno" not in done.stderr + done.stdout
    assert list(tmp_path.iterdir()) == []


def test_sim_serves_the_built_in_lab_where_no_lab_is_and_removes_its_copy(
    tmp_path: Path, lab_addresses: LabAddresses
) -> None:
    subnet = place(lab_addresses).subnet
    env = {k: v for k, v in os.environ.items() if not k.startswith("CMS_LAB_")}
    process = cli.start(
        ["sim", "--cluster", "lab", "--subnet", subnet, "--port", str(lab_addresses.port)],
        cwd=tmp_path,
        env={**env, "TMPDIR": str(tmp_path)},
    )
    with until_stopped(process) as lines:
        assert lines[0].startswith("no clusters/lab.yaml here: serving the built-in lab"), lines
        (copy,) = tmp_path.iterdir()
        assert f"copied to {copy}" in lines[0]
        assert f"{lab_addresses.cms1} -p {lab_addresses.port}" in "".join(lines)
        status = cli.run(["status", "--repo", str(copy)], env={**env, **LAB_ENV})
        # The tech note's state: certificates in use expired (exit 2), every node read.
        assert status.returncode == 2, status.stdout + status.stderr
        assert lab_addresses.cms3 in status.stdout
    assert list(tmp_path.iterdir()) == []
