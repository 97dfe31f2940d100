"""Terraform's habits against the simulated lab: `reconcile plan` / `reconcile apply` are the
flags, `--out` prints the command that applies exactly that plan (and that command works), and
a subfolder of the repository is as good as `--repo`."""

from __future__ import annotations

import json
import os
import re
import shlex
import subprocess
from pathlib import Path
from typing import Any

import pytest

from reconciler.simulator.service import SimulatedCluster
from tests.e2e.conftest import LAB_ENV, RunningSim, reconcile
from tests.support import cli

pytestmark = pytest.mark.e2e


def without_time(output: str) -> dict[str, Any]:
    """Two plans of the same state differ only in when they were made (and their backups'
    names, which carry that time)."""
    plan: dict[str, Any] = json.loads(re.sub(r"\b\d{8}T\d{4,6}Z\b", "TIME", output))
    del plan["created_at"]
    return plan


def run_in(folder: Path, *args: str, **env: str) -> subprocess.CompletedProcess[str]:
    """The real CLI run from ``folder``, without --repo."""
    return cli.run(args, cwd=folder, env={**os.environ, **LAB_ENV, **env})


def test_plan_command_and_flag_agree(running_lab: RunningSim, lab_repo: Path) -> None:
    results = [
        reconcile(*mode, "--cluster", "lab", "--format", "json", repo=lab_repo)
        for mode in (["--plan"], ["plan"], [])
    ]
    assert [result.returncode for result in results] == [2, 2, 2], results[1].stderr
    flag, command, default = (without_time(result.stdout) for result in results)
    assert command == flag == default
    assert flag["clusters"][0]["steps"]


def test_apply_command_without_approval_refuses_like_the_flag(
    lab_sim: SimulatedCluster, lab_repo: Path
) -> None:
    for mode in ("--apply", "apply"):
        result = reconcile(mode, "--cluster", "lab", repo=lab_repo)
        assert result.returncode == 1, mode
        assert "no terminal to ask for approval: pass --auto-approve" in result.stderr, mode
    for node in ("cms1", "cms2", "cms3"):
        assert set(lab_sim.commands(node)) == {"database cluster status"}


def test_out_prints_the_apply_command_and_it_applies_exactly_that_plan(
    lab_sim: SimulatedCluster, lab_repo: Path, tmp_path: Path
) -> None:
    plan_file = tmp_path / "plan.json"
    made = reconcile(
        "plan",
        "--cluster",
        "lab",
        "--format",
        "json",
        "--out",
        str(plan_file),
        repo=lab_repo,
        env={"COLUMNS": "40"},  # a narrow terminal must not wrap the command
    )
    assert made.returncode == 2, made.stderr
    assert json.loads(made.stdout) == json.loads(plan_file.read_text())  # stdout: the plan only
    expected = (
        f"Saved the plan to {plan_file}. Apply exactly this plan with: "
        f"reconcile apply --plan-file {plan_file} --repo {lab_repo} --cluster lab"
    )
    assert made.stderr.splitlines()[-1] == expected
    assert len(expected) > 160  # longer than any width the CLI would wrap at

    command = shlex.split(expected.split("Apply exactly this plan with: ")[1])
    assert command[:2] == ["reconcile", "apply"]
    applied = cli.run(
        [*command[1:], "--auto-approve", "--format", "json"], env={**os.environ, **LAB_ENV}
    )
    assert applied.returncode == 0, applied.stderr
    report = json.loads(applied.stdout)
    assert report["converged"] is True
    steps = json.loads(plan_file.read_text())["clusters"][0]["steps"]
    assert len(report["clusters"][0]["steps"]) == len(steps)


def test_out_with_apply_saves_the_plan_it_applies(
    lab_sim: SimulatedCluster, lab_repo: Path, tmp_path: Path
) -> None:
    plan_file = tmp_path / "applied.json"
    result = reconcile(
        "apply", "--cluster", "lab", "--auto-approve", "--out", str(plan_file), repo=lab_repo
    )
    assert result.returncode == 0, result.stderr
    assert f"Saved the plan to {plan_file}." in result.stderr.splitlines()
    assert json.loads(plan_file.read_text())["clusters"][0]["steps"]


def test_a_subfolder_is_as_good_as_repo(running_lab: RunningSim, lab_repo: Path) -> None:
    with_repo = reconcile("plan", "--cluster", "lab", "--format", "json", repo=lab_repo)
    assert with_repo.returncode == 2, with_repo.stderr
    inside = run_in(lab_repo / "certs" / "lab", "plan", "--cluster", "lab", "--format", "json")
    assert inside.returncode == 2, inside.stderr
    assert without_time(inside.stdout) == without_time(with_repo.stdout)
    status = run_in(lab_repo / "clusters", "status", "--cluster", "lab", "--format", "json")
    assert status.returncode in (0, 2), status.stderr  # 2: the seed's certificates are expired
    assert json.loads(status.stdout)["clusters"][0]["name"] == "lab"
