"""The workflows' jobs as the runner would run them, against a git origin and the simulated lab.

Each test builds an origin (a bare repository with the lab and this project's GitOps
`.github/`, as `reconcile init` writes it), a workspace cloned from it the way
actions/checkout clones the default branch, and runs the job's scripts from that workspace,
exactly the command lines of the workflow YAML (tests/workflows/test_workflow_policy.py holds
the YAML to those lines). Only GitHub itself is missing: the runner, its environments and gh.
"""

from __future__ import annotations

import json
import os
import shlex
import shutil
import signal
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import pytest
import yaml

from reconciler.ci.github import FOLDER, NOT_COPIED
from reconciler.simulator.service import SimulatedCluster
from tests.e2e.conftest import LAB_ENV, wait_idle
from tests.support.lab import REPO

pytestmark = pytest.mark.e2e

RUNNERS = {"PLAN_RUNNER": '["self-hosted", "cms-plan"]', "APPLY_RUNNER": '["self-hosted", "x"]'}
BIN = str(Path(sys.executable).parent)  # this checkout's `reconcile`, as setup installs it


def git(*args: str, cwd: Path) -> str:
    result = subprocess.run(
        ["git", *args], cwd=cwd, capture_output=True, text=True, check=True, timeout=60
    )
    return result.stdout.strip()


@dataclass
class Runner:
    """A job's machine: a workspace cloned from origin, its environment, and its outputs."""

    root: Path
    origin: Path
    workspace: Path
    env: dict[str, str] = field(default_factory=dict)

    @property
    def outputs_file(self) -> Path:
        return self.root / "github-output"

    def outputs(self) -> dict[str, str]:
        lines = self.outputs_file.read_text().splitlines() if self.outputs_file.exists() else []
        return dict(line.split("=", 1) for line in lines)

    def run(self, script: str, *args: str, **extra: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [f".github/scripts/{script}", *args],
            cwd=self.workspace,
            env={**self.env, **extra},
            capture_output=True,
            text=True,
            timeout=180,
            check=False,
        )

    def start(self, script: str, *args: str) -> subprocess.Popen[str]:
        """The script under bash, in a process group of its own."""
        return self.step(shlex.join([f".github/scripts/{script}", *args]))

    def step(self, run: str, **extra: str) -> subprocess.Popen[str]:
        """A workflow step as the runner starts it: the `run:` text in a file, under
        `bash --noprofile --norc -e -o pipefail`, in a process group of its own."""
        path = self.root / f"step-{time.monotonic_ns()}.sh"
        path.write_text(run + "\n")
        return subprocess.Popen(
            ["bash", "--noprofile", "--norc", "-e", "-o", "pipefail", str(path)],
            cwd=self.workspace,
            env={**self.env, **extra},
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            start_new_session=True,
        )


def apply_step() -> str:
    """The `run:` of apply.yml's step that applies the approved plan, exactly."""
    document = yaml.safe_load((REPO / ".github" / "workflows" / "apply.yml").read_text())
    (run,) = [
        step["run"]
        for step in document["jobs"]["apply"]["steps"]
        if step.get("name") == "Apply exactly the approved plan"
    ]
    return str(run)


@pytest.fixture
def origin(lab_repo: Path, tmp_path: Path) -> Path:
    """A bare origin whose main holds the lab and the GitOps .github/ of `reconcile init`."""
    shutil.copytree(REPO / FOLDER, lab_repo / FOLDER)
    for path in NOT_COPIED:
        (lab_repo / FOLDER / path).unlink()
    git("init", "--quiet", "--initial-branch", "main", cwd=lab_repo)
    git("add", "-A", cwd=lab_repo)
    git(
        "-c",
        "user.name=ops",
        "-c",
        "user.email=ops@example.com",
        "commit",
        "-qm",
        "base",
        cwd=lab_repo,
    )
    bare = tmp_path / "origin.git"
    git("clone", "--quiet", "--bare", str(lab_repo), str(bare), cwd=tmp_path)
    return bare


def commit_on(
    origin: Path,
    branch: str,
    message: str,
    change: dict[str, str],
    tmp: Path,
    *,
    start: str = "main",
) -> str:
    """A commit on `branch` (from `start`) that appends text to files, pushed to origin."""
    work = tmp / f"edit-{branch.replace('/', '-')}-{time.monotonic_ns()}"
    git("clone", "--quiet", str(origin), str(work), cwd=tmp)
    git("checkout", "--quiet", "-B", branch, f"origin/{start}", cwd=work)
    for path, text in change.items():
        target = work / path
        target.write_text(target.read_text() + text)
    git("add", "-A", cwd=work)
    git(
        "-c",
        "user.name=dev",
        "-c",
        "user.email=dev@example.com",
        "commit",
        "-qm",
        message,
        cwd=work,
    )
    git("push", "--quiet", "origin", f"HEAD:refs/heads/{branch}", cwd=work)
    return git("rev-parse", "HEAD", cwd=work)


def merge_ref(origin: Path, number: int, branch: str, tmp: Path) -> str:
    """GitHub's refs/pull/N/merge: the pull request merged into main (first parent main)."""
    work = tmp / f"merge-{number}"
    git("clone", "--quiet", str(origin), str(work), cwd=tmp)
    git(
        "-c",
        "user.name=github",
        "-c",
        "user.email=noreply@github.com",
        "merge",
        "--quiet",
        "--no-ff",
        "--no-edit",
        f"origin/{branch}",
        cwd=work,
    )
    git("push", "--quiet", "origin", f"HEAD:refs/pull/{number}/merge", cwd=work)
    return git("rev-parse", "HEAD", cwd=work)


@pytest.fixture
def runner(origin: Path, tmp_path: Path) -> Runner:
    root = tmp_path / "runner"
    root.mkdir()
    workspace = root / "work"
    git("clone", "--quiet", str(origin), str(workspace), cwd=root)  # actions/checkout's default
    env = {
        "PATH": f"{BIN}{os.pathsep}{os.environ['PATH']}",
        "HOME": str(root / "home"),
        "LANG": "C.UTF-8",
        "RUNNER_TEMP": str(root / "temp"),
        "GITHUB_OUTPUT": str(root / "github-output"),
        "GITHUB_REPOSITORY": "example-org/cms-gitops",
        "DEFAULT_BRANCH": "main",
        "BASE_REF": "main",
        **RUNNERS,
        **LAB_ENV,
    }
    (root / "home").mkdir()
    (root / "temp").mkdir()
    return Runner(root, origin, workspace, env)


# --- plan: the pull request is data -------------------------------------------------------------

HOSTILE_SCRIPT = '\ntouch "$HOME/pwned-by-the-pull-request"\n'


def test_a_pull_request_that_edits_github_changes_nothing_that_runs(
    lab_sim: SimulatedCluster, runner: Runner, origin: Path, tmp_path: Path
) -> None:
    head = commit_on(
        origin,
        "rotate",
        "rotate, and make the plan job do something else",
        {
            "clusters/lab.yaml": "# rotation notes\n",
            ".github/scripts/plan-cluster.sh": HOSTILE_SCRIPT,
            ".github/scripts/plan-clusters.sh": HOSTILE_SCRIPT,
            ".github/scripts/git-origin.sh": HOSTILE_SCRIPT,
            ".github/scripts/install-reconcile.sh": HOSTILE_SCRIPT,
            ".github/actions/setup/action.yml": "# the pull request's setup action\n",
        },
        tmp_path,
    )
    merge = merge_ref(origin, 7, "rotate", tmp_path)
    main = git("rev-parse", "HEAD", cwd=runner.workspace)

    # Job `clusters` (GitHub's runner): the pull request's merge commit, as data.
    listed = runner.run("plan-clusters.sh", "7", head, str(runner.root / "clusters"))
    assert listed.returncode == 0, listed.stderr
    outputs = runner.outputs()
    assert (outputs["merge"], outputs["base"], outputs["count"]) == (merge, main, "1")
    assert outputs["trusted"] == main  # the default branch's tip, as fetched
    (lab,) = json.loads(outputs["matrix"])
    assert (lab["name"], lab["trusted"]) == ("lab", True)
    assert [slot["secret"] for slot in lab["secrets"]] == ["CMS_SSH_PASSWORD", "CMS_KEY_PASSPHRASE"]

    # Job `plan` (the plan runner): fetch the merge commit, validate and plan it.
    assert runner.run("git-origin.sh", "fetch", merge).returncode == 0
    result = runner.root / "temp" / "results" / "plan-lab"
    planned = runner.run("plan-cluster.sh", "lab", merge, outputs["trusted"], head, str(result))
    assert planned.returncode == 0, planned.stderr
    assert (result / "exit-code").read_text() == "2\n"
    assert (result / "validate-code").read_text() == "0\n"
    assert (result / "head").read_text() == f"{head}\n"
    assert "<!-- cms-reconciler plan: lab -->" in (result / "comment.md").read_text()

    # The pull request did change the scripts, and none of its changes ran.
    assert "pwned" in git("show", f"{merge}:.github/scripts/plan-cluster.sh", cwd=runner.workspace)
    assert not (runner.root / "home" / "pwned-by-the-pull-request").exists()
    assert git("rev-parse", "HEAD", cwd=runner.workspace) == main
    assert git("status", "--porcelain", cwd=runner.workspace) == ""
    wait_idle(lab_sim)


def test_a_head_that_moved_on_is_left_to_its_own_run(
    runner: Runner, origin: Path, tmp_path: Path
) -> None:
    first = commit_on(origin, "rotate", "first push", {"clusters/lab.yaml": "# 1\n"}, tmp_path)
    commit_on(
        origin, "rotate", "second push", {"clusters/lab.yaml": "# 2\n"}, tmp_path, start="rotate"
    )
    merge_ref(origin, 8, "rotate", tmp_path)  # GitHub already merged the second push
    result = runner.run("plan-clusters.sh", "8", first, str(runner.root / "clusters"))
    assert result.returncode == 1
    assert "a newer push moved the pull request on" in result.stderr
    assert runner.outputs() == {}


def test_only_pull_requests_into_the_default_branch_are_planned(
    runner: Runner, origin: Path, tmp_path: Path
) -> None:
    """A pull request into another branch (say, one left at an old commit of main) would make
    that commit the merge's first parent: access must never be read there."""
    head = commit_on(origin, "rotate", "rotate", {"clusters/lab.yaml": "# r\n"}, tmp_path)
    merge_ref(origin, 10, "rotate", tmp_path)
    result = runner.run(
        "plan-clusters.sh", "10", head, str(runner.root / "c"), BASE_REF="old-release"
    )
    assert result.returncode == 1
    assert "this pull request is into 'old-release', not main" in result.stderr
    assert runner.outputs() == {}


def test_access_is_the_default_branchs_tip_even_when_the_merge_is_older(
    runner: Runner, origin: Path, tmp_path: Path
) -> None:
    head = commit_on(origin, "rotate", "rotate", {"clusters/lab.yaml": "# r\n"}, tmp_path)
    merge = merge_ref(origin, 11, "rotate", tmp_path)
    tip = commit_on(origin, "main", "main moves on", {".github/dependabot.yml": "# x\n"}, tmp_path)
    result = runner.run("plan-clusters.sh", "11", head, str(runner.root / "c"))
    assert result.returncode == 0, result.stderr
    outputs = runner.outputs()
    assert (outputs["merge"], outputs["trusted"]) == (merge, tip)
    assert outputs["base"] == git("rev-parse", f"{merge}^1", cwd=runner.workspace)
    assert outputs["base"] != tip


def test_no_plan_runner_no_plan(runner: Runner, origin: Path, tmp_path: Path) -> None:
    head = commit_on(origin, "rotate", "rotate", {"clusters/lab.yaml": "# r\n"}, tmp_path)
    merge_ref(origin, 9, "rotate", tmp_path)
    result = runner.run("plan-clusters.sh", "9", head, str(runner.root / "c"), PLAN_RUNNER="")
    assert result.returncode == 1
    assert "CMS_RECONCILER_PLAN_RUNNER is not set" in result.stderr


# --- apply: never an older commit -----------------------------------------------------------------


def test_apply_of_a_superseded_commit_changes_nothing_and_says_by_which(
    lab_sim: SimulatedCluster, runner: Runner, origin: Path, tmp_path: Path
) -> None:
    older = commit_on(origin, "main", "rotate", {"clusters/lab.yaml": "# rotate\n"}, tmp_path)
    newer = commit_on(origin, "main", "fix", {"clusters/lab.yaml": "# fix\n"}, tmp_path)
    commit_on(
        origin,
        "main",
        "a later commit that changes no cluster",
        {".github/dependabot.yml": "# weekly\n"},
        tmp_path,
    )
    git("fetch", "--quiet", "origin", cwd=runner.workspace)
    git("checkout", "--quiet", older, cwd=runner.workspace)  # the run of the older push
    before = sum(lab_sim.connections(name) for name in ("cms1", "cms2", "cms3"))
    out = runner.root / "temp" / "plans" / "apply-plan-lab"

    checked = runner.run("superseded.sh", "lab", older, str(out))
    assert checked.returncode == 0, checked.stderr
    assert f"superseded by {newer}" in checked.stdout
    assert (out / "superseded").read_text() == f"{newer}\n"
    planned = runner.run("apply-plan.sh", "lab", older, str(out))
    assert planned.returncode == 0, planned.stderr
    assert not (out / "plan.json").exists()
    applied = runner.run("apply-cluster.sh", "lab", str(out / "plan.json"), older, str(out))
    assert applied.returncode == 0, applied.stderr
    assert "nothing is applied" in applied.stdout
    assert sum(lab_sim.connections(name) for name in ("cms1", "cms2", "cms3")) == before

    current = runner.root / "temp" / "current"
    again = runner.run("superseded.sh", "lab", newer, str(current))
    assert again.returncode == 0, again.stderr
    assert not (current / "superseded").exists()  # later commits change other things only


def test_a_commit_no_longer_on_main_is_refused(
    runner: Runner, origin: Path, tmp_path: Path
) -> None:
    stray = commit_on(origin, "elsewhere", "not merged", {"clusters/lab.yaml": "# x\n"}, tmp_path)
    git("fetch", "--quiet", "origin", cwd=runner.workspace)
    result = runner.run("superseded.sh", "lab", stray, str(runner.root / "out"))
    assert result.returncode == 1
    assert "is not on main any more" in result.stderr


# --- apply: a cancelled run stops safely -------------------------------------------------------


def lock_files(sim: SimulatedCluster) -> list[str]:
    return [
        node["name"] for node in sim.snapshot()["nodes"] if "reconcile-apply.lock" in node["files"]
    ]


RUNNER_CANCEL = {
    # What the runner does on cancel or timeout: SIGINT to the step's process, SIGTERM 7.5 s
    # later, then SIGKILL (here a second apart: reconcile's safe stop must not need the grace).
    "sigint": [signal.SIGINT],
    "sigint-sigterm-sigkill": [signal.SIGINT, signal.SIGTERM, signal.SIGKILL],
    "sigterm": [signal.SIGTERM],
}


def start_hung_apply(lab_sim: SimulatedCluster, runner: Runner, run: str) -> subprocess.Popen[str]:
    """apply.yml's apply step, started once planned, and run until it waits on a join that
    never ends (cms3's), every node locked."""
    sha = git("rev-parse", "HEAD", cwd=runner.workspace)
    plans = runner.root / "temp" / "plans" / "apply-plan-lab"
    planned = runner.run("apply-plan.sh", "lab", sha, str(plans))
    assert planned.returncode == 0, planned.stderr
    lab_sim.hang_operation("cms3", "join")
    step = runner.step(run, CLUSTER="lab", GITHUB_SHA=sha)
    deadline = time.monotonic() + 90
    while not any(c.startswith("database cluster join") for c in lab_sim.commands("cms3")):
        if step.poll() is not None or time.monotonic() > deadline:
            os.killpg(step.pid, signal.SIGKILL)
            pytest.fail(f"the apply never reached cms3's join: {step.communicate()}")
        time.sleep(0.2)
    assert lock_files(lab_sim) == ["cms1", "cms2", "cms3"]
    return step


@pytest.mark.parametrize("signals", RUNNER_CANCEL.values(), ids=RUNNER_CANCEL.keys())
def test_a_cancelled_apply_stops_at_a_safe_point_and_releases_its_locks(
    lab_sim: SimulatedCluster, runner: Runner, signals: list[signal.Signals]
) -> None:
    """The runner signals only the step's process: apply.yml's step execs apply-cluster.sh,
    which passes the first signal on to reconcile, once; killed, it leaves reconcile to reach
    its safe point, and the cancelled() step waits for that."""
    step = start_hung_apply(lab_sim, runner, apply_step())
    try:
        for number in signals:
            os.kill(step.pid, number)  # the step's process only, not its process group
            time.sleep(1)
        _, stderr = step.communicate(timeout=60)
    finally:
        if step.poll() is None:
            os.killpg(step.pid, signal.SIGKILL)
            step.communicate()
    assert stderr.count("asking reconcile to stop at a safe point") == 1
    after = runner.run("apply-cancelled.sh", "lab", APPLY_STOP_WAIT="60")
    assert after.returncode == 0, after.stderr
    assert "reconcile ended and cleared its lock record" in after.stdout
    assert lock_files(lab_sim) == []
    state = runner.root / "home" / ".cms-reconciler" / "state" / "example-org" / "cms-gitops"
    assert (state / "locks" / "lab.lock").read_text() == ""
    journal = max((state / "journal").glob("lab-*.jsonl"), key=lambda path: path.stat().st_mtime)
    assert "apply.end" in journal.read_text()
    if signal.SIGKILL not in signals:
        assert step.returncode == 130, stderr
        outcome = runner.root / "temp" / "out" / "apply-outcome-lab"
        assert [path.name for path in (outcome / "journal").iterdir()] == [journal.name]
    lab_sim.hang_operation("cms3", "join", hang=False)


def test_without_exec_the_runners_signal_never_reaches_reconcile(
    lab_sim: SimulatedCluster, runner: Runner
) -> None:
    """The control: the same step without `exec` (the shell the runner signals is then not the
    script that forwards), so nothing asks reconcile to stop."""
    run = apply_step()
    assert run.startswith("exec ")
    step = start_hung_apply(lab_sim, runner, run.removeprefix("exec "))
    try:
        os.kill(step.pid, signal.SIGINT)
        time.sleep(3)
        assert step.poll() is None  # the step's shell still waits on the script
        assert lock_files(lab_sim) == ["cms1", "cms2", "cms3"]
    finally:
        os.killpg(step.pid, signal.SIGKILL)
        _, stderr = step.communicate()
    assert "asking reconcile to stop" not in stderr
    lab_sim.hang_operation("cms3", "join", hang=False)


def test_an_apply_killed_before_it_could_release_names_the_unlock_command(
    lab_sim: SimulatedCluster, runner: Runner
) -> None:
    sha = git("rev-parse", "HEAD", cwd=runner.workspace)
    plans = runner.root / "temp" / "plans" / "apply-plan-lab"
    assert runner.run("apply-plan.sh", "lab", sha, str(plans)).returncode == 0
    lab_sim.hang_operation("cms3", "join")
    step = runner.start(
        "apply-cluster.sh", "lab", str(plans / "plan.json"), sha, str(runner.root / "o")
    )
    deadline = time.monotonic() + 90
    while not any(c.startswith("database cluster join") for c in lab_sim.commands("cms3")):
        assert time.monotonic() < deadline
        time.sleep(0.2)
    os.killpg(step.pid, signal.SIGKILL)  # nothing gets a chance to clean up
    step.communicate(timeout=30)
    after = runner.run("apply-cancelled.sh", "lab")
    assert after.returncode == 1
    assert "reconcile unlock --cluster lab --lock-id " in after.stderr
    lock_id = after.stderr.split("--lock-id ", 1)[1].split()[0]
    unlocked = subprocess.run(
        [
            f"{BIN}/reconcile",
            "unlock",
            "--cluster",
            "lab",
            "--lock-id",
            lock_id,
            "--repo",
            str(runner.workspace),
        ],
        env=runner.env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert unlocked.returncode == 0, unlocked.stderr
    assert lock_files(lab_sim) == []
    lab_sim.hang_operation("cms3", "join", hang=False)
