"""Apply and git: dirty trees, saved plans from another commit, and the approval prompt."""

from __future__ import annotations

import os
import pty
import subprocess
import time
from pathlib import Path

import git
import pytest

from reconciler.simulator.service import SimulatedCluster
from tests.e2e.conftest import LAB_ENV, RECONCILE, reconcile

pytestmark = pytest.mark.e2e
NODES = ("cms1", "cms2", "cms3")  # the simulator finds nodes by name too


def commit_all(repo: Path, message: str) -> str:
    repository = git.Repo.init(repo) if not (repo / ".git").exists() else git.Repo(repo)
    (repo / ".gitignore").write_text(".reconcile/\nplan.json\n")
    repository.git.add(A=True)
    repository.index.commit(message, author=git.Actor("t", "t@example.com"))
    return repository.head.commit.hexsha


def only_reads(lab_sim: SimulatedCluster) -> bool:
    return all(cmd == "database cluster status" for n in NODES for cmd in lab_sim.commands(n))


def test_a_dirty_tree_is_refused_unless_allowed(lab_sim: SimulatedCluster, lab_repo: Path) -> None:
    commit_all(lab_repo, "lab")
    (lab_repo / "clusters" / "notes.txt").write_text("uncommitted\n")
    result = reconcile("--apply", "--auto-approve", repo=lab_repo)
    assert result.returncode == 1
    assert "uncommitted changes" in result.stderr
    assert only_reads(lab_sim)


def test_a_plan_from_another_commit_is_stale(lab_sim: SimulatedCluster, lab_repo: Path) -> None:
    first = commit_all(lab_repo, "lab")
    plan_file = lab_repo / "plan.json"
    made = reconcile("--plan", "--out", str(plan_file), repo=lab_repo)
    assert made.returncode == 2, made.stderr
    cluster_file = lab_repo / "clusters" / "lab.yaml"
    cluster_file.write_text(cluster_file.read_text().replace("join: 600s", "join: 900s"))
    second = commit_all(lab_repo, "longer join timeout")
    result = reconcile("--apply", "--auto-approve", "--plan-file", str(plan_file), repo=lab_repo)
    assert result.returncode == 1
    assert f"made from commit {first}" in result.stderr
    assert second in result.stderr
    assert only_reads(lab_sim)


def _run_on_terminal(repo: Path, answer: str) -> tuple[int, str]:
    """Run `reconcile --apply` on a pseudo-terminal and answer its question."""
    controller, terminal = pty.openpty()
    process = subprocess.Popen(
        [*RECONCILE, "--apply", "--cluster", "lab", "--repo", str(repo)],
        stdin=terminal,
        stdout=terminal,
        stderr=terminal,
        env={**os.environ, **LAB_ENV, "COLUMNS": "200"},
        close_fds=True,
    )
    os.close(terminal)
    seen = b""
    deadline = time.monotonic() + 60
    answered = False
    while time.monotonic() < deadline:
        try:
            chunk = os.read(controller, 65536)
        except OSError:
            break
        if not chunk:
            break
        seen += chunk
        # The whole prompt, its closing space included: click writes that space apart, and an
        # answer typed before it would be echoed first.
        if not answered and b"Only 'yes' is accepted: " in seen:
            os.write(controller, answer.encode() + b"\r")
            answered = True
    code = process.wait(timeout=120)
    os.close(controller)
    assert answered, seen.decode(errors="replace")[-2000:]
    return code, seen.decode(errors="replace")


def test_on_a_terminal_only_yes_applies(lab_sim: SimulatedCluster, lab_repo: Path) -> None:
    code, output = _run_on_terminal(lab_repo, "y")
    assert code == 1
    assert "Apply this plan? Only 'yes' is accepted: y" in output  # one colon (issue 23)
    assert "apply cancelled" in output
    assert only_reads(lab_sim)
    code, output = _run_on_terminal(lab_repo, "yes")
    assert code == 0, output[-3000:]
    assert "Apply complete" in output
    # Converged as a plan judges it, and said so (issue 23, item 6).
    assert "Note: certificates are judged from the files on each node" in output
