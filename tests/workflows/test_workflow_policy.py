"""The trust model of the workflows (docs/design.md), checked on the YAML itself.

GitHub cannot be reached from here, so what only GitHub would run is read as data: every
workflow under .github/workflows (the GitOps ones are what `reconcile init` writes). Each
rule below is one a security reviewer would otherwise check by eye, and each can fail: the
last tests feed the checks a workflow that breaks the rule.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from reconciler.ci.github import written_files
from tests.support.lab import REPO

WORKFLOWS = REPO / ".github" / "workflows"
GITOPS = ("plan.yml", "apply.yml", "drift.yml", "expiry.yml")  # what `reconcile init` copies
USES = re.compile(r"\s*(- )?uses:")
PINNED = re.compile(r"[\w.-]+/[\w.-]+(/[\w./-]+)?@[0-9a-f]{40}")
VERSION_COMMENT = re.compile(r"uses: \S+@[0-9a-f]{40} # v\d+\.\d+\.\d+$")
SELF_HOSTED = re.compile(r"\$\{\{ fromJSON\(vars\.CMS_RECONCILER_(PLAN|APPLY)_RUNNER\) \}\}")
CLUSTER_SECRETS = {
    "CMS_SSH_PASSWORD",
    "CMS_SSH_KEY",
    "CMS_KEY_PASSPHRASE",
    "CMS_KEY_PASSPHRASE_2",
    "CMS_KEY_PASSPHRASE_3",
}
CA_SECRETS = {"CMS_RECONCILER_CA_KEY", "CMS_RECONCILER_CA_KEY_PASSPHRASE"}
BOT_SECRETS = {"CMS_RECONCILER_APP_KEY", "CMS_RECONCILER_PR_TOKEN"}  # cms-reconciler-bot
DEFAULT_BRANCH = "github.ref == format('refs/heads/{0}', github.event.repository.default_branch)"
# A schedule runs the default branch's workflow only, and its payload has no repository:
# github.event.repository.default_branch is empty on schedule, so the test above alone would
# skip every scheduled run.
SCHEDULE_OR_DEFAULT_BRANCH = f"github.event_name == 'schedule' || {DEFAULT_BRANCH}"
WRITE_SCOPES = {"contents", "pull-requests", "issues", "statuses", "actions", "packages"}


def load(path: Path) -> dict[str, Any]:
    raw: dict[Any, Any] = yaml.safe_load(path.read_text())
    # YAML 1.1 reads the key `on` as True.
    return {("on" if key is True else str(key)): value for key, value in raw.items()}


def workflow_files() -> list[Path]:
    return sorted(WORKFLOWS.glob("*.yml"))


def jobs(document: dict[str, Any]) -> Iterator[tuple[str, dict[str, Any]]]:
    yield from document["jobs"].items()


def steps(job: dict[str, Any]) -> list[dict[str, Any]]:
    found: list[dict[str, Any]] = job.get("steps", [])
    return found


def secrets_used(value: Any) -> set[str]:
    return set(re.findall(r"secrets\.([A-Za-z0-9_]+)", str(value)))


def self_hosted(job: dict[str, Any]) -> str | None:
    """PLAN or APPLY for a job on a self-hosted runner, None for GitHub's."""
    runs_on = str(job["runs-on"])
    match = SELF_HOSTED.fullmatch(runs_on)
    if match:
        return match.group(1)
    assert runs_on.startswith("ubuntu-"), f"runs-on {runs_on!r} is neither GitHub's nor a variable"
    return None


def write_scopes(job: dict[str, Any]) -> set[str]:
    permissions = job.get("permissions", {})
    return {scope for scope, level in permissions.items() if level == "write"}


# --- every workflow ------------------------------------------------------------------------------


def test_init_writes_the_gitops_workflows_and_no_other() -> None:
    written = {
        path.removeprefix("workflows/"): data
        for path, data in written_files().items()
        if path.startswith("workflows/")
    }
    assert sorted(written) == sorted(GITOPS)
    for name in GITOPS:
        assert written[name] == (WORKFLOWS / name).read_bytes(), name


@pytest.mark.parametrize("path", workflow_files(), ids=lambda path: path.name)
def test_no_secret_is_looked_up_by_a_computed_name(path: Path) -> None:
    text = path.read_text()
    assert "secrets[" not in text
    assert "toJSON(secrets" not in text
    assert "secrets: inherit" not in text


@pytest.mark.parametrize(
    "path",
    [*workflow_files(), *sorted((REPO / ".github" / "actions").glob("*/action.yml"))],
    ids=lambda path: path.name,
)
def test_every_action_is_pinned_by_sha_with_its_version(path: Path) -> None:
    for line in path.read_text().splitlines():
        if USES.match(line) is None:
            continue
        target = line.split("uses:", 1)[1].split("#", 1)[0].strip()
        if target.startswith("$/"):
            continue  # this repository, at the workflow's own commit
        assert not target.startswith("./"), f"{path.name}: {line.strip()} (use $/...)"
        assert PINNED.fullmatch(target), f"{path.name}: {line.strip()} is not pinned by SHA"
        assert VERSION_COMMENT.search(line.strip()), f"{path.name}: {line.strip()} lacks # vX.Y.Z"


@pytest.mark.parametrize("path", workflow_files(), ids=lambda path: path.name)
def test_no_token_by_default_and_every_job_says_what_it_may_do(path: Path) -> None:
    document = load(path)
    if path.name != "test.yml":  # the project's own tests: read-only, no secret, GitHub's runner
        assert document["permissions"] == {}
    for name, job in jobs(document):
        assert "permissions" in job or path.name == "test.yml", f"{path.name}: job {name}"
        assert "timeout-minutes" in job, f"{path.name}: job {name} has no timeout"


@pytest.mark.parametrize("path", workflow_files(), ids=lambda path: path.name)
def test_no_default_self_hosted_runner(path: Path) -> None:
    text = path.read_text()
    assert "self-hosted" not in text
    for name, job in jobs(load(path)):
        kind = self_hosted(job)
        if kind is not None:
            assert f"vars.CMS_RECONCILER_{kind}_RUNNER != ''" in job["if"], f"{path.name}: {name}"


@pytest.mark.parametrize("path", workflow_files(), ids=lambda path: path.name)
def test_checkouts_keep_no_credential_but_the_one_that_pushes(path: Path) -> None:
    for name, job in jobs(load(path)):
        for step in steps(job):
            if not str(step.get("uses", "")).startswith("actions/checkout@"):
                continue
            options = step.get("with", {})
            if (path.name, name) == ("expiry.yml", "publish"):
                assert options["persist-credentials"] is True  # it pushes the renewal branch
                continue
            assert options.get("persist-credentials") is False, f"{path.name}: job {name}"


def test_only_the_projects_own_tests_run_on_pull_request() -> None:
    """`pull_request` runs the pull request's code: only test.yml, with no secret and no
    self-hosted runner, and `reconcile init` does not copy it."""
    for path in workflow_files():
        triggers = load(path)["on"]
        if path.name == "test.yml":
            assert "pull_request" in triggers
            assert "secrets." not in path.read_text()
            continue
        assert "pull_request" not in triggers, path.name
        assert "workflow_run" not in triggers, path.name
        assert "issue_comment" not in triggers, path.name


# --- secrets by literal name, scoped to environments --------------------------------------------


@pytest.mark.parametrize("name", GITOPS)
def test_secrets_come_from_environments_by_literal_names(name: str) -> None:
    for job_name, job in jobs(load(WORKFLOWS / name)):
        used = secrets_used(job)
        if not used:
            continue
        environment = str(job.get("environment", ""))
        if used & BOT_SECRETS:
            assert used <= BOT_SECRETS, f"{name}: {job_name} mixes the bot's and others"
            assert environment == "cms-reconciler-bot", f"{name}: {job_name}"
            assert self_hosted(job) is None
            continue
        if used & CA_SECRETS:
            assert (name, job_name, environment) == ("expiry.yml", "sign", "cms-ca")
            assert used <= CA_SECRETS
            assert self_hosted(job) is None  # the CA job never runs where the nodes are
            continue
        assert used <= CLUSTER_SECRETS, f"{name}: {job_name} uses {used - CLUSTER_SECRETS}"
        assert environment in (
            "cms-${{ matrix.cluster.name }}-plan",
            "cms-${{ matrix.cluster.name }}-apply",
        ), f"{name}: {job_name}"


@pytest.mark.parametrize("name", GITOPS)
def test_a_job_that_may_write_to_github_holds_no_cluster_secret(name: str) -> None:
    for job_name, job in jobs(load(WORKFLOWS / name)):
        scopes = write_scopes(job)
        if scopes:
            assert self_hosted(job) is None, f"{name}: {job_name}"
            assert not secrets_used(job) - BOT_SECRETS, f"{name}: {job_name}"
            assert scopes <= WRITE_SCOPES


def test_apply_secrets_only_in_apply_jobs_on_the_apply_runner() -> None:
    for name in GITOPS:
        for job_name, job in jobs(load(WORKFLOWS / name)):
            environment = str(job.get("environment", ""))
            if environment.endswith("-apply"):
                assert (name, job_name) == ("apply.yml", "apply")
                assert self_hosted(job) == "APPLY"
            if self_hosted(job) == "APPLY":
                assert name == "apply.yml", f"{name}: {job_name} on the apply runner"


# --- plan: pull-request code never runs with secrets ---------------------------------------------


def test_plan_runs_the_default_branchs_workflow_and_reads_the_pull_request_as_data() -> None:
    document = load(WORKFLOWS / "plan.yml")
    assert set(document["on"]) == {"pull_request_target"}
    # Only pull requests into the default branch: a base elsewhere would make an arbitrary
    # commit the merge's first parent (plan-clusters.sh refuses it as well).
    assert document["on"]["pull_request_target"]["branches"] == ["main"]
    for job_name, job in jobs(document):
        for step in steps(job):
            uses = str(step.get("uses", ""))
            if uses.startswith("actions/checkout@"):
                options = step.get("with", {})
                # No ref, no repository: the default branch of this repository, always.
                assert not {"ref", "repository"} & set(options), f"plan: {job_name}"
            if "run" in step:
                command = str(step["run"]).strip()
                assert command.startswith(".github/scripts/"), f"plan: {job_name}: {command}"
                assert "\n" not in command, f"plan: {job_name}: one script per step"
            if uses and not uses.startswith("$/"):
                assert uses.split("@")[0] in (
                    "actions/checkout",
                    "actions/upload-artifact",
                    "actions/download-artifact",
                ), uses


def test_plan_never_sends_a_fork_to_a_self_hosted_runner() -> None:
    for job_name, job in jobs(load(WORKFLOWS / "plan.yml")):
        if self_hosted(job) is not None:
            assert self_hosted(job) == "PLAN"
            assert (
                "github.event.pull_request.head.repo.full_name == github.repository" in (job["if"])
            ), job_name


def test_plan_result_is_one_job_of_a_fixed_name_that_always_runs() -> None:
    document = load(WORKFLOWS / "plan.yml")
    result = document["jobs"]["plan-result"]
    assert result["if"] == "always()"
    assert set(result["needs"]) == set(document["jobs"]) - {"plan-result"}
    assert "paths" not in document["on"]["pull_request_target"]
    assert "matrix" not in str(result.get("strategy", ""))


# --- apply ---------------------------------------------------------------------------------------


def test_apply_runs_only_from_the_default_branch_and_one_cluster_at_a_time() -> None:
    document = load(WORKFLOWS / "apply.yml")
    for job_name in ("decide", "apply"):  # a run cancelled while planning applies nothing
        assert str(document["jobs"][job_name]["if"]).startswith("!cancelled()"), job_name
    first = document["jobs"]["clusters"]
    assert first["if"] == (
        "(github.event_name == 'schedule' && needs.pending.outputs.pending != '{}')"
        f" || (github.event_name != 'schedule' && {DEFAULT_BRANCH})"
    )
    # The pending job (the scheduled run's list) runs first, from the default branch only too.
    assert document["jobs"]["pending"]["if"] == SCHEDULE_OR_DEFAULT_BRANCH
    for job_name in ("plan", "apply"):  # superseded.sh's branch, also on schedule
        branch = document["jobs"][job_name]["env"]["DEFAULT_BRANCH"]
        assert branch == "${{ github.event.repository.default_branch || github.ref_name }}"
    assert first["needs"] == "pending"
    for job_name, job in jobs(document):
        if job_name not in ("clusters", "pending"):
            assert "clusters" in job["needs"], job_name  # skipped off the default branch
    for job_name in ("plan", "apply"):
        group = document["jobs"][job_name]["concurrency"]
        assert group == {"group": "apply-${{ matrix.cluster.name }}", "cancel-in-progress": False}


def test_apply_checks_approval_and_supersession_then_applies_the_saved_plan() -> None:
    apply = load(WORKFLOWS / "apply.yml")["jobs"]["apply"]
    commands = [str(step.get("run", "")) for step in steps(apply)]
    order = [
        next(i for i, c in enumerate(commands) if "check-approval.sh" in c),
        next(i for i, c in enumerate(commands) if "superseded.sh" in c),
        next(i for i, c in enumerate(commands) if "apply-cluster.sh" in c),
    ]
    assert order == sorted(order)
    assert "plan.json" in commands[order[2]]
    # exec: the script is the step's own process, the one the runner signals on cancel.
    assert commands[order[2]].startswith("exec .github/scripts/apply-cluster.sh ")
    cancelled = [step for step in steps(apply) if step.get("if") == "cancelled()"]
    assert [step["run"] for step in cancelled] == ['.github/scripts/apply-cancelled.sh "$CLUSTER"']


def test_the_scheduled_apply_is_apply_yml_itself_with_its_gates() -> None:
    """Maintenance windows: the same jobs, environments and checks run on schedule, for the
    pending clusters only; the pending list is read as the bot, and only the report job, on
    GitHub's runner, writes it."""
    document = load(WORKFLOWS / "apply.yml")
    assert set(document["on"]) == {"push", "schedule", "workflow_dispatch"}
    assert document["concurrency"]["cancel-in-progress"] is False
    assert "github.event_name == 'schedule'" in document["concurrency"]["group"]
    pending = document["jobs"]["pending"]
    assert pending["permissions"] == {"contents": "read", "statuses": "read"}
    assert pending["environment"] == "cms-reconciler-bot"
    assert self_hosted(pending) is None
    # Its steps, not the job, are skipped on other events: a skipped job skips what needs it.
    assert all(step["if"] == "github.event_name == 'schedule'" for step in steps(pending))
    clusters = document["jobs"]["clusters"]
    assert "needs.pending.outputs.pending" in str(clusters["steps"])
    # Nothing pending: clusters is skipped, and so is every job after it (an empty count is
    # not '0': the jobs that run whatever came before must ask for clusters' success).
    for name in ("decide", "report"):
        assert "needs.clusters.result == 'success'" in document["jobs"][name]["if"], name
    report = document["jobs"]["report"]
    assert report["permissions"]["statuses"] == "write"
    assert "pending" in report["needs"]
    writers = {name for name, job in jobs(document) if "statuses" in write_scopes(job)}
    assert writers == {"report"}
    for job in (pending, report):  # pending.sh finds its anchor in the full history
        (checkout,) = [s for s in steps(job) if str(s.get("uses", "")).startswith("actions/che")]
        assert checkout["with"]["fetch-depth"] == 0
    drift = load(WORKFLOWS / "drift.yml")["jobs"]["report"]
    assert drift["permissions"]["statuses"] == "read"


@pytest.mark.parametrize("name", ["drift.yml", "expiry.yml"])
def test_scheduled_jobs_run_from_the_default_branch_one_run_at_a_time(name: str) -> None:
    document = load(WORKFLOWS / name)
    assert document["concurrency"]["cancel-in-progress"] is False
    assert document["jobs"]["clusters"]["if"] == SCHEDULE_OR_DEFAULT_BRANCH


# --- the checks themselves can fail ---------------------------------------------------------------


def test_a_computed_secret_name_and_an_unpinned_action_are_caught(tmp_path: Path) -> None:
    bad = tmp_path / "bad.yml"
    bad.write_text(
        "jobs:\n  x:\n    steps:\n      - uses: actions/checkout@v4\n"
        "      - run: echo ${{ secrets[matrix.cluster.env[0]] }}\n"
    )
    with pytest.raises(AssertionError):
        test_no_secret_is_looked_up_by_a_computed_name(bad)
    with pytest.raises(AssertionError, match="not pinned by SHA"):
        test_every_action_is_pinned_by_sha_with_its_version(bad)


def test_a_default_self_hosted_runner_is_caught(tmp_path: Path) -> None:
    bad = tmp_path / "bad.yml"
    bad.write_text(
        "permissions: {}\njobs:\n  x:\n"
        "    runs-on: ${{ fromJSON(vars.CMS_RECONCILER_PLAN_RUNNER || '[\"self-hosted\"]') }}\n"
    )
    with pytest.raises(AssertionError):
        test_no_default_self_hosted_runner(bad)
