"""The small scripts that wire the workflows' jobs together, run for real under bash.

The scripts that talk to the nodes (plan-clusters, plan-cluster, superseded, apply-plan,
apply-cluster, apply-cancelled) run end to end in tests/e2e/test_workflow_jobs.py; these are the
ones between jobs: runner labels, the commit status, which clusters go on, the run's verdict and
the outcome comment.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import git
import pytest

from tests.support.lab import LAB_MATERIAL
from tests.workflows.support import REPOSITORY, GitHub, lab_apply

PLAN = '["self-hosted", "cms-plan"]'
APPLY = '["self-hosted", "cms-apply"]'
SHA = "0123456789abcdef0123456789abcdef01234567"


def outputs(path: Path) -> dict[str, str]:
    return dict(line.split("=", 1) for line in path.read_text().splitlines())


# --- runner-labels.sh ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("kind", "plan", "apply", "error"),
    [
        ("plan", None, None, "CMS_RECONCILER_PLAN_RUNNER is not set"),
        ("plan", "", None, "CMS_RECONCILER_PLAN_RUNNER is not set"),
        ("plan", "self-hosted", None, "is not a JSON list of labels"),
        ("plan", "[]", None, "is not a JSON list of labels"),
        ("plan", '["self-hosted", ""]', None, "is not a JSON list of labels"),
        ("apply", PLAN, None, "CMS_RECONCILER_APPLY_RUNNER is not set"),
        ("apply", PLAN, PLAN, "must each have a label the other lacks"),
        ("apply", PLAN, '["self-hosted", "cms-plan", "big"]', "must each have a label"),
        ("apply", '["self-hosted"]', APPLY, "must each have a label the other lacks"),
    ],
)
def test_a_runner_not_set_explicitly_is_refused(
    github: GitHub, kind: str, plan: str | None, apply: str | None, error: str
) -> None:
    result = github.run("runner-labels.sh", kind, PLAN_RUNNER=plan, APPLY_RUNNER=apply)
    assert result.returncode == 1
    assert result.stderr.startswith("::error::")
    assert error in result.stderr


@pytest.mark.parametrize(("kind", "apply"), [("plan", None), ("apply", APPLY)])
def test_separate_explicit_runners_pass(github: GitHub, kind: str, apply: str | None) -> None:
    result = github.run("runner-labels.sh", kind, PLAN_RUNNER=PLAN, APPLY_RUNNER=apply)
    assert (result.returncode, result.stderr) == (0, "")


# --- commit-status.sh ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("outcome", "state", "code"),
    [
        ("pending", "pending", 0),
        ("success", "success", 0),
        ("failure", "failure", 1),
        ("cancelled", "failure", 1),
        ("skipped", "failure", 1),
        ("", "failure", 1),
    ],
)
def test_plan_result_is_a_status_on_the_head_commit(
    github: GitHub, outcome: str, state: str, code: int
) -> None:
    result = github.run("commit-status.sh", SHA, outcome, RUN_URL="https://example/run/1")
    assert result.returncode == code, result.stderr
    (status,) = github.state()["statuses"][SHA]
    assert status["state"] == state
    assert status["context"] == "plan-result"
    assert status["target_url"] == "https://example/run/1"
    assert status["description"]


def test_a_status_that_cannot_be_posted_fails(github: GitHub) -> None:
    result = github.run("commit-status.sh", SHA, "success", GITHUB_REPOSITORY="someone/else")
    assert result.returncode != 0
    assert github.state()["statuses"] == {}


# --- apply-decide.sh -----------------------------------------------------------------------------


def cluster(name: str) -> dict[str, object]:
    return {"name": name, "file": f"clusters/{name}.yaml", "env": [], "secrets": []}


def plan_dir(root: Path, name: str, **files: str) -> None:
    folder = root / f"apply-plan-{name}"
    folder.mkdir(parents=True)
    for file, text in files.items():
        (folder / file.replace("_", "-").replace("-json", ".json")).write_text(text)


def test_only_clusters_with_changes_that_are_current_go_on_to_approval(
    github: GitHub, tmp_path: Path
) -> None:
    listing = tmp_path / "clusters.json"
    names = ["changes", "converged", "superseded", "failed", "missing"]
    listing.write_text(json.dumps({"clusters": [cluster(name) for name in names]}))
    plans = tmp_path / "plans"
    plan_dir(plans, "changes", exit_code="2\n", plan_json="{}")
    plan_dir(plans, "converged", exit_code="0\n")
    plan_dir(plans, "superseded", superseded="f" * 40 + "\n")
    plan_dir(plans, "failed", exit_code="1\n")
    out = tmp_path / "out"
    result = github.run(
        "apply-decide.sh",
        str(listing),
        str(plans),
        str(tmp_path / "decided"),
        GITHUB_OUTPUT=str(out),
    )
    assert result.returncode == 0, result.stderr
    decided = outputs(out)
    assert json.loads(decided["matrix"]) == [cluster("changes")]
    assert (decided["count"], decided["failed"]) == ("1", "true")
    assert "cluster converged: converged; nothing to apply" in result.stdout
    assert f"cluster superseded: superseded by {'f' * 40}" in result.stdout
    assert "::error::cluster failed: its plan failed (exit 1)" in result.stdout
    assert "::error::cluster missing: its plan failed (exit none)" in result.stdout


def test_nothing_to_apply_is_an_empty_matrix(github: GitHub, tmp_path: Path) -> None:
    listing = tmp_path / "clusters.json"
    listing.write_text(json.dumps({"clusters": [cluster("lab")]}))
    plans = tmp_path / "plans"
    plan_dir(plans, "lab", exit_code="0\n")
    out = tmp_path / "out"
    decided = str(tmp_path / "decided")
    assert (
        github.run(
            "apply-decide.sh", str(listing), str(plans), decided, GITHUB_OUTPUT=str(out)
        ).returncode
        == 0
    )
    assert outputs(out) == {"matrix": "[]", "count": "0", "failed": "false"}


# --- apply-result.sh -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("env", "code", "said"),
    [
        ({"DECIDE_RESULT": "success", "PLAN_FAILED": "false", "APPLY_RESULT": "success"}, 0, ""),
        ({"DECIDE_RESULT": "success", "PLAN_FAILED": "false", "APPLY_RESULT": "skipped"}, 0, ""),
        ({"DECIDE_RESULT": "success", "PLAN_FAILED": "true", "APPLY_RESULT": "success"}, 1, "plan"),
        (
            {"DECIDE_RESULT": "success", "PLAN_FAILED": "false", "APPLY_RESULT": "failure"},
            1,
            "apply",
        ),
        (
            {"DECIDE_RESULT": "success", "PLAN_FAILED": "false", "APPLY_RESULT": "cancelled"},
            1,
            "apply",
        ),
        ({"DECIDE_RESULT": "failure", "PLAN_FAILED": "", "APPLY_RESULT": "skipped"}, 1, "deciding"),
    ],
)
def test_the_run_fails_when_a_plan_or_an_apply_did(
    github: GitHub, env: dict[str, str], code: int, said: str
) -> None:
    result = github.run("apply-result.sh", **env)
    assert result.returncode == code
    assert said in result.stderr


# --- expiry-due.sh -------------------------------------------------------------------------------


def test_only_clusters_with_csrs_reach_the_ca(github: GitHub, tmp_path: Path) -> None:
    listing = tmp_path / "clusters.json"
    listing.write_text(json.dumps({"clusters": [cluster(n) for n in ("a", "b", "c", "d")]}))
    results = tmp_path / "results"
    for name, action in (("a", "csr"), ("b", "under-way"), ("d", "csr")):
        (results / f"expiry-{name}").mkdir(parents=True)
        (results / f"expiry-{name}" / "action").write_text(f"{action}\n")
    out = tmp_path / "out"
    result = github.run("expiry-due.sh", str(listing), str(results), GITHUB_OUTPUT=str(out))
    assert result.returncode == 0, result.stderr
    assert [c["name"] for c in json.loads(outputs(out)["matrix"])] == ["a", "d"]
    assert outputs(out)["count"] == "2"


# --- apply-comment.sh ----------------------------------------------------------------------------


def test_the_outcome_goes_to_the_merged_pull_request_by_the_bot_only(
    github: GitHub, tmp_path: Path
) -> None:
    pr = github.pull_request()
    github.change(lambda state: state["commit_pulls"].update({SHA: [pr]}))
    alice = github.comment(pr, lab_apply().replace("step 26", "step 99"), login="alice")
    outcome = tmp_path / "outcomes" / "apply-outcome-lab" / "outcome.md"
    outcome.parent.mkdir(parents=True)
    outcome.write_text(lab_apply())
    result = github.run("apply-comment.sh", SHA, str(tmp_path / "outcomes"))
    assert result.returncode == 0, result.stderr
    bodies = github.bodies(pr)
    assert bodies[alice] == lab_apply().replace("step 26", "step 99")  # never taken over
    assert [body for id_, body in bodies.items() if id_ != alice] == [lab_apply()]


def test_a_commit_without_a_pull_request_comments_nothing(github: GitHub, tmp_path: Path) -> None:
    result = github.run("apply-comment.sh", SHA, str(tmp_path / "none"))
    assert result.returncode == 0, result.stderr
    assert "came from no pull request" in result.stdout
    assert all(call[:1] == ["api"] and "--method" not in call for call in github.calls())


# --- expiry-clusters.sh: which renewals are under way, asked of origin ------------------------


def test_renewals_under_way_are_read_from_origin_branches(github: GitHub, tmp_path: Path) -> None:
    work = tmp_path / "work"
    work.mkdir()
    (work / "clusters").mkdir()
    (work / "clusters" / "lab.yaml").write_bytes(
        (LAB_MATERIAL / "clusters" / "lab.yaml").read_bytes()
    )
    other = (LAB_MATERIAL / "clusters" / "lab.yaml").read_text().replace("name: lab", "name: other")
    (work / "clusters" / "other.yaml").write_text(other)
    repository = git.Repo.init(work)
    repository.git.add(A=True)
    repository.index.commit("clusters", author=git.Actor("t", "t@example.com"))
    origin = tmp_path / "origin.git"
    git.Repo.clone_from(work, origin, bare=True)
    subprocess.run(
        ["git", "branch", "cms-reconciler/certs-other"], cwd=origin, check=True, timeout=30
    )
    repository.create_remote("origin", str(origin))
    out = tmp_path / "github-output"
    path = f"{Path(sys.executable).parent}{os.pathsep}{github.env()['PATH']}"  # reconcile
    result = github.run_in(
        work,
        "expiry-clusters.sh",
        str(tmp_path / "c"),
        GITHUB_OUTPUT=str(out),
        PLAN_RUNNER=PLAN,
        PATH=path,
    )
    assert result.returncode == 0, result.stderr
    under_way = {c["name"]: c["under_way"] for c in json.loads(outputs(out)["matrix"])}
    assert under_way == {"lab": False, "other": True}
    assert github.calls() == []  # origin was asked, not GitHub's API


# --- state-dir.sh --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("setting", "expected"),
    [
        (None, "{home}/.cms-reconciler/state/example-org/cms-gitops"),
        ("", "{home}/.cms-reconciler/state/example-org/cms-gitops"),
        ("/srv/cms-reconciler", "/srv/cms-reconciler"),
        ("~/cms-state", "{home}/cms-state"),
    ],
)
def test_the_state_dir_is_absolute_and_outside_the_workspace(
    github: GitHub, setting: str | None, expected: str
) -> None:
    result = github.run("state-dir.sh", RECONCILE_STATE_DIR=setting)
    assert result.returncode == 0, result.stderr
    assert result.stdout == expected.format(home=github.root) + "\n"


def test_a_relative_state_dir_is_refused(github: GitHub) -> None:
    result = github.run("state-dir.sh", RECONCILE_STATE_DIR="state")
    assert result.returncode == 1
    assert "must be an absolute path" in result.stderr
    assert result.stdout == ""


# --- runner-job-started.sh: the runner refuses every job but cms-reconciler's ------------------

HOOK = {
    "CMS_RECONCILER_REPOSITORY": REPOSITORY,
    "CMS_RECONCILER_WORKFLOWS": "plan.yml drift.yml expiry.yml",
}


def job(workflow: str, ref: str = "refs/heads/main", event: str = "schedule") -> dict[str, str]:
    return {
        "GITHUB_REPOSITORY": REPOSITORY,
        "GITHUB_WORKFLOW_REF": f"{REPOSITORY}/.github/workflows/{workflow}@{ref}",
        "GITHUB_EVENT_NAME": event,
    }


@pytest.mark.parametrize(
    "started",
    [
        job("plan.yml", event="pull_request_target"),
        job("drift.yml"),
        job("expiry.yml", event="workflow_dispatch"),
    ],
)
def test_the_hook_lets_the_runners_own_workflows_run(
    github: GitHub, started: dict[str, str]
) -> None:
    result = github.run("runner-job-started.sh", **HOOK, **started)
    assert (result.returncode, result.stderr) == (0, "")


@pytest.mark.parametrize(
    ("started", "why"),
    [
        (job("apply.yml", event="push"), "workflow apply.yml"),
        (job("steal.yml", event="push"), "workflow steal.yml"),
        (job("plan.yml", ref="refs/heads/feature"), "at refs/heads/feature"),
        (job("plan.yml", ref="refs/pull/7/merge", event="pull_request"), "at refs/pull/7/merge"),
        (job("plan.yml", event="pull_request"), "started by pull_request"),
        ({**job("plan.yml"), "GITHUB_REPOSITORY": "someone/fork"}, "a job of someone/fork"),
        (
            {
                **job("plan.yml"),
                "GITHUB_WORKFLOW_REF": "someone/fork/.github/workflows/plan.yml@refs/heads/main",
            },
            "workflow someone/fork",
        ),
    ],
)
def test_the_hook_refuses_any_other_job(github: GitHub, started: dict[str, str], why: str) -> None:
    result = github.run("runner-job-started.sh", **HOOK, **started)
    assert result.returncode == 1
    (line,) = result.stderr.splitlines()
    assert line.startswith("::error::this runner runs only cms-reconciler's")
    assert why in line


def test_an_unconfigured_hook_refuses_everything(github: GitHub) -> None:
    result = github.run("runner-job-started.sh", **job("plan.yml"))
    assert result.returncode == 1
    assert "the hook is not configured" in result.stderr
