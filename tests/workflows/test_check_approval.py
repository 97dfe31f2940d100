"""check-approval.sh: the apply job goes on only when a person approved this run for the job's
environment (an environment without required reviewers lets the job start unapproved)."""

from __future__ import annotations

import subprocess

import pytest

from tests.workflows import fake_gh
from tests.workflows.support import REPOSITORY, GitHub, error_lines

RUN = "4242"
ENVIRONMENT = "cms-lab-apply"
OPT_OUT = "CMS_RECONCILER_ALLOW_UNREVIEWED_APPLY"


def check(
    github: GitHub, environment: str = ENVIRONMENT, **env: str | None
) -> subprocess.CompletedProcess[str]:
    return github.run("check-approval.sh", environment, GITHUB_RUN_ID=RUN, **env)


def approve(
    github: GitHub,
    environments: list[str],
    *,
    approved: bool = True,
    login: str = "alice",
    comment: str = "",
    run: str = RUN,
) -> None:
    github.change(
        lambda state: fake_gh.add_approval(
            state, run, environments, approved=approved, login=login, comment=comment
        )
    )


def no_reviews(github: GitHub, run: str = RUN) -> None:
    github.change(lambda state: state["approvals"].setdefault(run, []))


def test_approved_for_this_environment_goes_on_saying_who(github: GitHub) -> None:
    approve(github, ["cms-other-apply", ENVIRONMENT], comment="Window agreed\nwith the NOC")
    result = check(github)
    assert result.returncode == 0, result.stderr
    assert result.stdout == (
        f"environment {ENVIRONMENT}: this run was approved\n"
        '  approved by alice: "Window agreed\\nwith the NOC"\n'
    )
    assert result.stderr == ""
    assert github.calls() == [
        ["api", f"repos/{REPOSITORY}/actions/runs/{RUN}/approvals", "--jq", github.calls()[0][3]]
    ]


def test_every_approval_is_listed(github: GitHub) -> None:
    approve(github, [ENVIRONMENT], login="alice")
    approve(github, ["cms-other-apply"], login="bob")
    approve(github, [ENVIRONMENT], login="carol", comment="ok")
    result = check(github)
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines()[1:] == ["  approved by alice", '  approved by carol: "ok"']


REFUSED = {
    "only-another-environment": [(["cms-other-apply"], True)],
    "a-prefix-of-the-name": [(["cms-lab"], True)],
    "rejected": [([ENVIRONMENT], False)],
    "none": [],
}


@pytest.mark.parametrize("reviews", REFUSED.values(), ids=REFUSED.keys())
def test_without_an_approval_for_this_environment_nothing_is_applied(
    github: GitHub, reviews: list[tuple[list[str], bool]]
) -> None:
    no_reviews(github)
    for environments, approved in reviews:
        approve(github, environments, approved=approved)
    result = check(github)
    assert result.returncode == 1
    assert result.stdout == ""
    (line,) = error_lines(result.stderr)
    assert line.startswith(f"::error::nobody approved this run for environment {ENVIRONMENT}")
    assert f"Add required reviewers to environment {ENVIRONMENT} (Settings > Environments)" in line
    assert f"set the repository variable {OPT_OUT}=true to apply without review" in line


@pytest.mark.parametrize("value", ["false", "yes", "TRUE", "1", ""])
def test_only_true_opts_out(github: GitHub, value: str) -> None:
    no_reviews(github)
    result = check(github, **{OPT_OUT: value})
    assert result.returncode == 1
    assert len(error_lines(result.stderr)) == 1


def test_the_opt_out_applies_unreviewed_with_a_warning(github: GitHub) -> None:
    no_reviews(github)
    result = check(github, **{OPT_OUT: "true"})
    assert result.returncode == 0, result.stderr
    assert result.stdout == ""
    assert result.stderr.splitlines() == [
        f"::warning::nobody approved this run for environment {ENVIRONMENT}; applying anyway, "
        f"because the repository variable {OPT_OUT} is true"
    ]


def test_with_the_opt_out_an_approval_is_still_shown(github: GitHub) -> None:
    approve(github, [ENVIRONMENT])
    result = check(github, **{OPT_OUT: "true"})
    assert result.returncode == 0, result.stderr
    assert result.stdout.endswith("  approved by alice\n")
    assert result.stderr == ""


def test_a_history_that_cannot_be_read_fails(github: GitHub) -> None:
    """No such run (or, on GitHub, a token without actions: read): the job stops."""
    result = check(github)  # the fake knows no review history for this run: 404
    assert result.returncode == 1
    assert "gh: Not Found (HTTP 404)" in result.stderr
    (line,) = error_lines(result.stderr)
    assert "needs the permission actions: read" in line


def test_with_the_opt_out_an_unreadable_history_only_warns(github: GitHub) -> None:
    result = check(github, **{OPT_OUT: "true"})
    assert result.returncode == 0
    assert error_lines(result.stderr) == []
    assert "::warning::could not read the review history of this run" in result.stderr


@pytest.mark.parametrize("name", ['cms"lab', "cms\\lab", 'x") or true or ("', "cms-lab\\(1)"])
def test_an_environment_name_with_jq_syntax_matches_only_itself(github: GitHub, name: str) -> None:
    approve(github, ["cms-other-apply"])
    assert check(github, name).returncode == 1
    approve(github, [name], login="dave")
    result = check(github, name)
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines()[1:] == ["  approved by dave"]


def test_without_a_run_id_the_step_fails(github: GitHub) -> None:
    result = github.run("check-approval.sh", ENVIRONMENT, GITHUB_RUN_ID=None)
    assert result.returncode != 0
    assert "GITHUB_RUN_ID is not set" in result.stderr
    assert github.calls() == []
