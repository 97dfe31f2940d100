"""plan-report.sh: the plan workflow's required check, which alone writes to the pull request.

Run for real against the fake GitHub, with the plan jobs' results as they upload them and real
``reconcile`` comments (the plan renderer), so what is tested is what a reviewer sees: the
plan of the head commit, or a notice that no current plan exists, never a stale plan shown as
if it were current, and never a comment of someone else's edited.
"""

from __future__ import annotations

import json
import re
import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from reconciler.plan.render import render_markdown_comments
from tests.unit.plan.test_render_plans import huge_plan
from tests.workflows.support import (
    APP_BOT,
    BOT,
    GitHub,
    error_lines,
    lab_apply,
    lab_converged,
    lab_plan,
    mutating,
    named_plan,
    other_plan,
)

HEAD = "0123456789abcdef0123456789abcdef01234567"
NEXT = "fedcba9876543210fedcba9876543210fedcba98"
OLD = "1111111111111111111111111111111111111111"
RUN_URL = "https://github.com/example-org/cms-gitops/actions/runs/77"
TAG = "<!-- cms-reconciler plan-not-current -->"
SUMMARY = "<details><summary>The earlier plan (not current)</summary>"
LIMIT = 65_000


def markers(name: str) -> str:
    return f"<!-- cms-reconciler plan -->\n<!-- cms-reconciler plan: {name} -->\n"


def without_markers(body: str) -> str:
    return body.split("\n", 2)[2]


@dataclass
class Run:
    """One run of the plan workflow: what the clusters and plan jobs left for plan-result."""

    github: GitHub
    head: str = HEAD

    @property
    def listing(self) -> Path:
        return self.github.root / "clusters.json"

    @property
    def results(self) -> Path:
        return self.github.root / f"results-{self.head}"

    def clusters(self, *names: str, removed: tuple[str, ...] = ()) -> None:
        """The clusters job's JSON, as `reconcile clusters --format json` writes it."""
        document = {
            "clusters": [
                {
                    "name": name,
                    "file": f"clusters/{name}.yaml",
                    "env": [f"CMS_{name.upper()}_PASSWORD"],
                    "secrets": [
                        {
                            "secret": "CMS_SSH_PASSWORD",
                            "env": f"CMS_{name.upper()}_PASSWORD",
                            "file": False,
                        }
                    ],
                    "trusted": True,
                    "access_changes": [],
                }
                for name in names
            ],
            "removed": list(removed),
        }
        self.listing.write_text(json.dumps(document))

    def planned(
        self,
        name: str,
        comment: str | None,
        *,
        code: int | None = 2,
        validate: int | None = 0,
        head: str | None = None,
    ) -> None:
        """The plan job's artifact plan-NAME/ (a None leaves that file out)."""
        folder = self.results / f"plan-{name}"
        folder.mkdir(parents=True, exist_ok=True)
        files = {
            "head": f"{head or self.head}\n",
            "validate-code": None if validate is None else f"{validate}\n",
            "exit-code": None if code is None else f"{code}\n",
            "comment.md": comment,
            "plan.json": "{}" if comment is not None else None,
        }
        for file, text in files.items():
            if text is not None:
                (folder / file).write_text(text)

    def report(
        self, pr: int, *, result: str = "success", fork: str = "false", **env: str | None
    ) -> subprocess.CompletedProcess[str]:
        self.results.mkdir(parents=True, exist_ok=True)
        return self.github.run(
            "plan-report.sh",
            str(pr),
            self.head,
            str(self.listing),
            str(self.results),
            RUN_URL=RUN_URL,
            CLUSTERS_RESULT=result,
            FORK=fork,
            GITHUB_STEP_SUMMARY=str(self.github.root / "summary.md"),
            **env,
        )


def plan_comments(github: GitHub, pr: int, login: str = BOT) -> dict[str, dict[str, Any]]:
    """The bot's plan comment of each cluster, by cluster name."""
    found: dict[str, dict[str, Any]] = {}
    for comment in github.comments(pr):
        second = comment["body"].split("\n")[1:2]
        match = re.fullmatch(r"<!-- cms-reconciler plan: (\S+) -->", second[0] if second else "")
        if comment["user"]["login"] == login and match:
            assert match[1] not in found, f"two comments for {match[1]}"
            found[match[1]] = comment
    return found


def folded(body: str) -> str:
    """The earlier plan a notice folds."""
    assert body.count(SUMMARY) == 1, body
    inner = body.split(f"\n{SUMMARY}\n\n", 1)[1]
    assert inner.endswith("\n</details>\n")
    return inner.removesuffix("\n</details>\n")


def summary(github: GitHub) -> str:
    return (github.root / "summary.md").read_text()


# --- the plan of the head commit ---------------------------------------------------------------
def test_the_heads_plan_is_posted_and_the_check_passes(github: GitHub) -> None:
    pr = github.pull_request()
    run = Run(github)
    run.clusters("lab")
    run.planned("lab", lab_plan(), code=2)
    result = run.report(pr)
    assert result.returncode == 0, result.stderr
    assert result.stderr == ""
    (comment,) = github.comments(pr)
    assert (comment["body"], comment["user"]["login"]) == (lab_plan(), BOT)
    assert summary(github) == (
        "### cms-reconciler plan of commit `0123456789ab`\n\n"
        "| cluster | validate | plan | result |\n| --- | --- | --- | --- |\n"
        "| `lab` | 0 | changes (2) | planned |\n"
    )


def test_a_later_push_edits_the_same_comment(github: GitHub) -> None:
    pr = github.pull_request()
    first = Run(github)
    first.clusters("lab")
    first.planned("lab", lab_plan())
    assert first.report(pr).returncode == 0
    second = Run(github, NEXT)
    second.clusters("lab")
    second.planned("lab", lab_converged(), code=0)
    result = second.report(pr)
    assert result.returncode == 0, result.stderr
    (comment,) = github.comments(pr)
    assert comment["body"] == lab_converged()
    assert "| `lab` | 0 | converged (0) | planned |" in summary(github)


def test_every_cluster_gets_its_own_comment(github: GitHub) -> None:
    pr = github.pull_request()
    run = Run(github)
    run.clusters("lab", "other")
    run.planned("lab", lab_plan())
    run.planned("other", other_plan(), code=0)
    assert run.report(pr).returncode == 0
    comments = plan_comments(github, pr)
    assert {name: c["body"] for name, c in comments.items()} == {
        "lab": lab_plan(),
        "other": other_plan(),
    }


# --- no plan for the head ----------------------------------------------------------------------
def stale_notice(run_head: str, earlier: str | None) -> str:
    """What the lab's comment must say when commit run_head has no plan."""
    text = (
        f"{markers('lab')}{TAG}\n### cms-reconciler plan for `lab`: not current\n\n"
        f"Planning commit `{run_head[:12]}` failed before a plan was made ([the run]({RUN_URL}))."
    )
    if earlier is None:
        return text + " No earlier plan of this cluster is on this pull request.\n"
    return (
        text + " The plan below was made for an earlier commit: it is not what merging would do "
        f"now.\n\n{SUMMARY}\n\n{earlier}\n</details>\n"
    )


def test_a_failed_push_marks_the_old_comment_as_stale(github: GitHub) -> None:
    pr = github.pull_request()
    first = Run(github, OLD)
    first.clusters("lab")
    first.planned("lab", lab_plan())
    assert first.report(pr).returncode == 0
    (old,) = github.comments(pr)

    failed = Run(github)
    failed.clusters("lab")
    failed.planned("lab", None, code=None, validate=None)  # setup failed: only `head`
    result = failed.report(pr)
    assert result.returncode == 1
    assert error_lines(result.stderr) == [
        "::error::cluster lab: no plan was made for commit 0123456789ab (the plan job failed "
        "before planning): see its log"
    ]
    (comment,) = github.comments(pr)
    assert comment["id"] == old["id"]
    assert comment["body"] == stale_notice(HEAD, without_markers(lab_plan()))
    assert folded(comment["body"]) == without_markers(lab_plan())
    assert "| `lab` | — | — | no plan |" in summary(github)


def test_a_missing_plan_folder_is_no_plan_either(github: GitHub) -> None:
    pr = github.pull_request()
    github.comment(pr, lab_plan())
    run = Run(github)
    run.clusters("lab")  # the plan job never ran (no runner came): no plan-lab/ at all
    result = run.report(pr)
    assert result.returncode == 1
    (comment,) = github.comments(pr)
    assert comment["body"] == stale_notice(HEAD, without_markers(lab_plan()))


def test_a_second_failure_does_not_nest_notices(github: GitHub) -> None:
    pr = github.pull_request()
    github.comment(pr, lab_plan())
    for head in (HEAD, NEXT):
        run = Run(github, head)
        run.clusters("lab")
        assert run.report(pr).returncode == 1
    (comment,) = github.comments(pr)
    assert comment["body"] == stale_notice(NEXT, without_markers(lab_plan()))
    assert comment["body"].count(TAG) == 1
    assert HEAD[:12] not in comment["body"]


def test_a_later_success_replaces_the_notice_by_the_new_plan(github: GitHub) -> None:
    pr = github.pull_request()
    github.comment(pr, lab_plan())
    failed = Run(github)
    failed.clusters("lab")
    assert failed.report(pr).returncode == 1
    fixed = Run(github, NEXT)
    fixed.clusters("lab")
    fixed.planned("lab", lab_converged(), code=0)
    result = fixed.report(pr)
    assert result.returncode == 0, result.stderr
    (comment,) = github.comments(pr)
    assert comment["body"] == lab_converged()


def test_without_an_earlier_plan_the_notice_stands_alone(github: GitHub) -> None:
    pr = github.pull_request()
    run = Run(github)
    run.clusters("lab")
    run.planned("lab", None, code=None, validate=None)
    assert run.report(pr).returncode == 1
    (comment,) = github.comments(pr)
    assert comment["body"] == stale_notice(HEAD, None)
    # and a second failure keeps it so, with the newer commit
    again = Run(github, NEXT)
    again.clusters("lab")
    assert again.report(pr).returncode == 1
    (comment,) = github.comments(pr)
    assert comment["body"] == stale_notice(NEXT, None)


def test_a_plan_of_another_commit_counts_as_no_plan(github: GitHub) -> None:
    """An artifact of an earlier run (or a plan job that checked out something else) is not the
    plan of the head: it is not posted as if it were."""
    pr = github.pull_request()
    github.comment(pr, lab_plan())
    run = Run(github)
    run.clusters("lab")
    run.planned("lab", lab_converged(), code=0, head=OLD)
    result = run.report(pr)
    assert result.returncode == 1
    assert error_lines(result.stderr) == [
        "::error::cluster lab: no plan was made for commit 0123456789ab (the plan job's result "
        "is for commit 111111111111): see the run"
    ]
    (comment,) = github.comments(pr)
    assert comment["body"] == stale_notice(HEAD, without_markers(lab_plan()))


def test_a_comment_for_another_cluster_is_not_posted_as_this_ones(github: GitHub) -> None:
    pr = github.pull_request()
    run = Run(github)
    run.clusters("lab")
    run.planned("lab", other_plan(), code=2)
    result = run.report(pr)
    assert result.returncode == 1
    assert list(plan_comments(github, pr)) == ["lab"]
    assert plan_comments(github, pr)["lab"]["body"] == stale_notice(HEAD, None)


# --- a plan that was made but failed -----------------------------------------------------------
def test_a_failed_plan_is_posted_and_fails_the_check(github: GitHub) -> None:
    """An untrusted (new) cluster's plan exits 1 today: it is reported by its codes, like any."""
    pr = github.pull_request()
    run = Run(github)
    run.clusters("lab", "other")
    run.planned("lab", lab_plan(), code=2)
    run.planned("other", other_plan(), code=1)
    result = run.report(pr)
    assert result.returncode == 1
    assert error_lines(result.stderr) == [
        "::error::cluster other: the plan failed (exit 1): see its comment"
    ]
    comments = plan_comments(github, pr)
    assert comments["other"]["body"] == other_plan()
    assert comments["lab"]["body"] == lab_plan()
    assert "| `other` | 0 | failed (1) | plan failed |" in summary(github)


@pytest.mark.parametrize("comment", [True, False], ids=["with-comment", "without-comment"])
def test_a_failed_validate_fails_the_check(github: GitHub, comment: bool) -> None:
    pr = github.pull_request()
    run = Run(github)
    run.clusters("lab")
    run.planned("lab", lab_plan() if comment else None, validate=1, code=2 if comment else None)
    result = run.report(pr)
    assert result.returncode == 1
    (line,) = error_lines(result.stderr)
    assert line.startswith("::error::cluster lab: reconcile validate failed (exit 1)")
    body = github.comments(pr)[0]["body"]
    assert body == (lab_plan() if comment else stale_notice(HEAD, None))


@pytest.mark.parametrize("code", [None, 3, 130], ids=["no-exit-code", "exit-3", "interrupted"])
def test_any_other_plan_exit_fails_the_check(github: GitHub, code: int | None) -> None:
    pr = github.pull_request()
    run = Run(github)
    run.clusters("lab")
    run.planned("lab", lab_plan(), code=code)
    result = run.report(pr)
    assert result.returncode == 1
    (line,) = error_lines(result.stderr)
    shown = "unknown" if code is None else code
    assert line == f"::error::cluster lab: the plan failed (exit {shown}): see its comment"


# --- clusters that left the pull request -------------------------------------------------------
def test_a_cluster_dropped_from_the_pull_request_gets_the_no_longer_note(github: GitHub) -> None:
    pr = github.pull_request()
    first = Run(github, OLD)
    first.clusters("lab", "other")
    first.planned("lab", lab_plan())
    first.planned("other", other_plan())
    assert first.report(pr).returncode == 0
    later = Run(github)
    later.clusters("lab")  # the push reverted the change to other
    later.planned("lab", lab_converged(), code=0)
    result = later.report(pr)
    assert result.returncode == 0, result.stderr
    comments = plan_comments(github, pr)
    assert comments["lab"]["body"] == lab_converged()
    assert comments["other"]["body"] == (
        f"{markers('other')}{TAG}\n"
        "### cms-reconciler plan for `other`: no longer in this pull request\n\n"
        "As of commit `0123456789ab` this pull request no longer changes cluster `other`; "
        "merging does not apply anything to it. The plan below was made for an earlier commit."
        f"\n\n{SUMMARY}\n\n{without_markers(other_plan())}\n</details>\n"
    )
    # The change comes back: the new plan replaces the note.
    back = Run(github, NEXT)
    back.clusters("lab", "other")
    back.planned("lab", lab_converged(), code=0)
    back.planned("other", other_plan())
    assert back.report(pr).returncode == 0
    assert plan_comments(github, pr)["other"]["body"] == other_plan()


def test_a_pull_request_that_changes_no_cluster_any_more_passes(github: GitHub) -> None:
    pr = github.pull_request()
    github.comment(pr, lab_plan())
    run = Run(github)
    run.clusters()
    result = run.report(pr)
    assert result.returncode == 0, result.stderr
    (comment,) = github.comments(pr)
    assert "no longer changes cluster `lab`" in comment["body"]
    assert folded(comment["body"]) == without_markers(lab_plan())
    assert summary(github).endswith("This pull request changes no cluster.\n")


def removed_note(name: str) -> str:
    return (
        f"{markers(name)}### cms-reconciler plan for `{name}`: cluster file deleted\n\n"
        f"As of commit `0123456789ab` this pull request deletes `clusters/{name}.yaml`, so once "
        f"it is merged cms-reconciler no longer manages cluster `{name}`: nothing is sent to its "
        "nodes, which keep running as they are, and their certificates still expire. Watch them "
        "by other means, or keep the file.\n"
    )


def test_a_removed_cluster_gets_its_note(github: GitHub) -> None:
    pr = github.pull_request()
    earlier = github.comment(pr, named_plan("old"))  # an earlier push changed it
    run = Run(github)
    run.clusters("lab", removed=("old",))
    run.planned("lab", lab_plan())
    result = run.report(pr)
    assert result.returncode == 0, result.stderr
    comments = plan_comments(github, pr)
    assert comments["old"]["id"] == earlier
    assert comments["old"]["body"] == removed_note("old")
    assert comments["lab"]["body"] == lab_plan()
    assert "| `old` | — | — | file deleted: no longer managed |" in summary(github)


def test_a_removed_cluster_without_a_comment_gets_a_new_one(github: GitHub) -> None:
    pr = github.pull_request()
    run = Run(github)
    run.clusters(removed=("old", "gone"))
    assert run.report(pr).returncode == 0
    assert [c["body"] for c in github.comments(pr)] == [removed_note("old"), removed_note("gone")]


# --- no list of clusters -----------------------------------------------------------------------
@pytest.mark.parametrize("result", ["failure", "cancelled", "skipped"])
def test_without_the_list_every_plan_comment_is_marked_not_current(
    github: GitHub, result: str
) -> None:
    pr = github.pull_request()
    lab = github.comment(pr, lab_plan())
    applied = github.comment(pr, lab_apply())  # an apply outcome is not a plan: left alone
    other = github.comment(pr, other_plan())
    run = Run(github)  # no clusters.json: the clusters job wrote nothing
    outcome = run.report(pr, result=result)
    assert outcome.returncode == 1
    assert error_lines(outcome.stderr) == [
        f"::error::the clusters job did not succeed ({result}): the list of changed clusters "
        "could not be made; see its log"
    ]
    bodies = github.bodies(pr)
    assert bodies[applied] == lab_apply()
    for comment, name, plan in ((lab, "lab", lab_plan()), (other, "other", other_plan())):
        assert bodies[comment] == (
            f"{markers(name)}{TAG}\n### cms-reconciler plan for `{name}`: not current\n\n"
            "Planning commit `0123456789ab` failed: the list of changed clusters could not be "
            f"made ([the run]({RUN_URL})). The plan below was made for an earlier commit: it is "
            f"not what merging would do now.\n\n{SUMMARY}\n\n{without_markers(plan)}\n"
            "</details>\n"
        )
    assert summary(github) == (
        "### cms-reconciler plan of commit `0123456789ab`\n\nNo plan: the clusters job did not "
        f"succeed ({result}): the list of changed clusters could not be made; see its log.\n"
    )


UNREADABLE = {
    "empty": "",
    "not-json": "not json",
    "two-documents": '{"clusters": []} {"clusters": []}',
    "not-a-list": '{"clusters": "lab"}',
    "no-clusters": '{"removed": []}',
    "a-name-with-a-newline": '{"clusters": [{"name": "lab\\nevil"}]}',
    "a-name-with-a-space": '{"clusters": [{"name": "lab evil"}]}',
    "an-empty-name": '{"clusters": [{"name": ""}]}',
    "a-removed-name-with-markup": '{"clusters": [], "removed": ["a -->"]}',
}


@pytest.mark.parametrize("listing", UNREADABLE.values(), ids=UNREADABLE.keys())
def test_a_listing_that_cannot_be_read_counts_as_no_list(github: GitHub, listing: str) -> None:
    pr = github.pull_request()
    github.comment(pr, lab_plan())
    run = Run(github)
    run.listing.write_text(listing)
    result = run.report(pr)
    assert result.returncode == 1
    (line,) = error_lines(result.stderr)
    assert "is not the clusters job's listing" in line
    assert "the list of changed clusters could not be made" in github.comments(pr)[0]["body"]


# --- forks -------------------------------------------------------------------------------------
def test_a_fork_is_not_planned_and_nothing_is_posted(github: GitHub) -> None:
    pr = github.pull_request()
    run = Run(github)
    run.clusters("lab")
    run.planned("lab", lab_plan())
    result = run.report(pr, fork="true")
    assert result.returncode == 1
    (line,) = error_lines(result.stderr)
    assert line.startswith("::error::pull requests from forks are not planned")
    assert "Push the branch to this repository instead" in line
    assert github.calls() == []
    assert github.comments(pr) == []


# --- other people's comments -------------------------------------------------------------------
def test_comments_by_others_are_never_touched(github: GitHub) -> None:
    """On every path (plan posted, plan stale, cluster dropped, cluster removed, no list), a
    comment by someone else that starts with our exact markers stays byte-identical, and the
    bot writes its own comment instead."""
    pr = github.pull_request()
    forged = {
        name: github.comment(pr, named_plan(name), login=login)
        for name, login in (
            ("posted", "alice"),
            ("stale", "bob"),
            ("dropped", "renovate[bot]"),
            ("removed", "carol"),
        )
    }
    run = Run(github)
    run.clusters("posted", "stale", removed=("removed",))
    run.planned("posted", named_plan("posted").replace("27 steps", "28 steps"))
    assert run.report(pr).returncode == 1  # stale has no plan
    again = Run(github, NEXT)
    assert again.report(pr, result="failure").returncode == 1
    bodies = github.bodies(pr)
    assert {name: bodies[comment] for name, comment in forged.items()} == {
        name: named_plan(name) for name in forged
    }
    ours = plan_comments(github, pr)
    assert sorted(ours) == ["posted", "removed", "stale"]  # none for "dropped": not ours
    for comment in ours.values():
        assert "the list of changed clusters could not be made" in comment["body"]
    edited = [call[3] for call in mutating(github.calls()) if call[2] == "PATCH"]
    assert not {f"repos/example-org/cms-gitops/issues/comments/{c}" for c in forged.values()} & set(
        edited
    )


def test_with_a_github_app_token_the_apps_comments_are_the_bots(github: GitHub) -> None:
    pr = github.pull_request()
    actions = github.comment(pr, lab_plan(), login=BOT)
    app = github.comment(pr, lab_plan(), login=APP_BOT)
    run = Run(github)
    run.clusters("lab")
    result = run.report(pr, CMS_RECONCILER_BOT_LOGIN=APP_BOT, FAKE_GH_LOGIN=APP_BOT)
    assert result.returncode == 1
    bodies = github.bodies(pr)
    assert bodies[actions] == lab_plan()
    assert bodies[app] == stale_notice(HEAD, without_markers(lab_plan()))


# --- size --------------------------------------------------------------------------------------
def balanced(text: str) -> bool:
    """Every fence closed and as many </details> as <details> outside fences."""
    fence: str | None = None
    depth = 0
    for line in text.split("\n"):
        opening = re.match(r" {0,3}(`{3,}|~{3,})", line)
        if fence is None and opening:
            fence = opening[1]
        elif fence is not None:
            if re.fullmatch(rf" {{0,3}}{re.escape(fence)}{re.escape(fence[0])}*[ \t]*", line):
                fence = None
        else:
            depth += len(re.findall(r"<details[ >]", line)) - line.count("</details>")
    return fence is None and depth == 0


def test_a_plan_too_big_to_fold_whole_is_cut_under_the_limit(github: GitHub) -> None:
    (huge,) = render_markdown_comments(huge_plan())
    assert LIMIT - 100 < len(huge.encode()) <= LIMIT  # as big as reconcile makes a comment
    assert "—" in huge  # bytes are not characters
    pr = github.pull_request()
    github.comment(pr, huge)
    for head in (HEAD, NEXT):  # and folding a cut plan again stays under it
        run = Run(github, head)
        run.clusters("lab")
        assert run.report(pr).returncode == 1
        (comment,) = github.comments(pr)
        body = comment["body"]
        assert len(body.encode()) < LIMIT
        assert balanced(body)
        inner = folded(body)
        kept = inner.split("\n*The rest of the earlier plan was cut here")[0]
        assert without_markers(huge).startswith(kept.rsplit("</details>", 1)[0].rstrip("\n"))
        assert inner.endswith(
            "\n*The rest of the earlier plan was cut here: GitHub takes comments of up to "
            "65,536 bytes.*\n"
        )
        assert inner.count("The rest of the earlier plan was cut here") == 1


def test_a_cut_inside_a_fence_closes_it(github: GitHub) -> None:
    big = markers("lab") + "### plan\n\n<details><summary>JSON</summary>\n\n````json\n"
    big += "".join(f'  "line {n}": "{"é" * 40}",\n' for n in range(2000)) + "````\n\n</details>\n"
    assert len(big.encode()) > LIMIT
    pr = github.pull_request()
    github.comment(pr, big)
    run = Run(github)
    run.clusters("lab")
    assert run.report(pr).returncode == 1
    body = github.comments(pr)[0]["body"]
    assert len(body.encode()) < LIMIT
    assert balanced(body)
    assert "\n````\n\n</details>\n\n*The rest of the earlier plan was cut here" in body


# --- arguments ---------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("pr", "head"), [("12a", HEAD), ("1", "HEAD"), ("1", HEAD[:12]), ("1", f"{HEAD};x")]
)
def test_bad_arguments_are_refused_before_anything_is_asked(
    github: GitHub, pr: str, head: str
) -> None:
    result = github.run(
        "plan-report.sh",
        pr,
        head,
        "clusters.json",
        "results",
        RUN_URL=RUN_URL,
        CLUSTERS_RESULT="success",
    )
    assert result.returncode == 1
    assert error_lines(result.stderr)[0].startswith("::error::usage: plan-report.sh")
    assert github.calls() == []
