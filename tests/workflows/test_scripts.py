"""The workflows' shell glue for comments and issues, sticky-comment.sh and drift-issue.sh, run
for real against a fake ``gh`` (tests/workflows/support.py), and the fake itself.

The comment bodies are real ``reconcile`` output (the plan and apply-outcome renderers), so
these tests also prove that the marker the renderer writes is the one the script looks for.
"""

from __future__ import annotations

import json
import shlex
import subprocess

import pytest

from reconciler.apply.render import APPLY_MARKER
from reconciler.plan.render import MARKER, cluster_marker, render_markdown_comments
from tests.unit.plan.test_render_plans import plan_of
from tests.workflows import fake_gh
from tests.workflows.support import (
    APP_BOT,
    BOT,
    REPOSITORY,
    GitHub,
    lab_apply,
    lab_converged,
    lab_plan,
    mutating,
    other_plan,
)


def test_the_renderers_write_the_markers_the_scripts_look_for() -> None:
    assert lab_plan().split("\n")[:2] == [MARKER, cluster_marker("lab")]
    assert lab_plan().split("\n")[1] == "<!-- cms-reconciler plan: lab -->"
    assert lab_converged().split("\n")[:2] == [MARKER, "<!-- cms-reconciler plan: lab -->"]
    assert other_plan().split("\n")[:2] == [MARKER, "<!-- cms-reconciler plan: other -->"]
    assert lab_apply().split("\n")[:2] == [APPLY_MARKER, "<!-- cms-reconciler apply: lab -->"]
    assert f"\n {MARKER}\n" in lab_apply()  # the error's output, quoted inside a fence
    assert lab_plan() != lab_converged()
    assert lab_apply() != lab_apply(fail_at=None)


# --- sticky-comment.sh -------------------------------------------------------------------------
def sticky(github: GitHub, number: int, body: str) -> subprocess.CompletedProcess[str]:
    return github.run("sticky-comment.sh", str(number), str(github.file("comment.md", body)))


def test_the_first_plan_creates_a_comment_whose_body_is_the_file(github: GitHub) -> None:
    pr = github.pull_request()
    result = sticky(github, pr, lab_plan())
    assert result.returncode == 0, result.stderr
    assert result.stdout == f"created a comment on #{pr}\n"
    (comment,) = github.comments(pr)
    assert comment["body"] == lab_plan()
    assert comment["user"]["login"] == BOT


def test_the_next_plan_of_the_same_cluster_edits_that_comment_in_place(github: GitHub) -> None:
    pr = github.pull_request()
    assert sticky(github, pr, lab_plan()).returncode == 0
    (first,) = github.comments(pr)
    result = sticky(github, pr, lab_converged())
    assert result.returncode == 0, result.stderr
    assert result.stdout == f"updated comment {first['id']}\n"
    (comment,) = github.comments(pr)
    assert comment["id"] == first["id"]
    assert comment["body"] == lab_converged()
    methods = [call[call.index("--method") + 1] for call in mutating(github.calls())]
    assert methods == ["POST", "PATCH"]


def test_another_clusters_plan_comment_is_separate_and_left_alone(github: GitHub) -> None:
    pr = github.pull_request()
    assert sticky(github, pr, other_plan()).returncode == 0  # the older comment, listed first
    assert sticky(github, pr, lab_plan()).returncode == 0
    assert sticky(github, pr, lab_converged()).returncode == 0
    other, lab = github.comments(pr)
    assert other["body"] == other_plan()
    assert lab["body"] == lab_converged()


def test_the_apply_outcome_is_a_separate_comment_from_the_plan(github: GitHub) -> None:
    pr = github.pull_request()
    assert sticky(github, pr, lab_plan()).returncode == 0
    result = sticky(github, pr, lab_apply())
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("created a comment")
    assert sticky(github, pr, lab_apply(fail_at=None)).returncode == 0  # a re-run of the apply
    plan, applied = github.comments(pr)
    assert plan["body"] == lab_plan()
    assert applied["body"] == lab_apply(fail_at=None)


def test_a_body_with_only_the_generic_marker_is_refused(github: GitHub) -> None:
    (no_clusters,) = render_markdown_comments(plan_of())  # "No clusters in this plan."
    assert no_clusters.startswith(f"{MARKER}\n")
    assert "plan:" not in no_clusters
    pr = github.pull_request()
    github.comment(pr, lab_plan())
    result = sticky(github, pr, no_clusters)
    assert result.returncode == 1
    assert result.stderr.startswith("::error::")
    assert "has no cms-reconciler marker" in result.stderr
    assert github.calls() == []  # refused before asking GitHub anything
    (comment,) = github.comments(pr)
    assert comment["body"] == lab_plan()


MENTIONS = {
    "mid-sentence": "Why does the raw text say <!-- cms-reconciler plan: lab --> at the top?",
    "on-its-own-line-further-down": (
        "The bot's comment starts with\n\n```\n<!-- cms-reconciler plan -->\n"
        "<!-- cms-reconciler plan: lab -->\n```\nis that expected?"
    ),
}


@pytest.mark.parametrize("mention", MENTIONS.values(), ids=MENTIONS.keys())
def test_a_comment_that_merely_mentions_the_marker_is_not_taken_over(
    github: GitHub, mention: str
) -> None:
    """The marker counts only as one of a comment's first two lines (where reconcile writes
    it): a comment quoting it, someone else's or another cluster's, is never overwritten."""
    pr = github.pull_request()
    github.comment(pr, mention, login="alice")
    result = sticky(github, pr, lab_plan())
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("created a comment")
    alice, bot = github.comments(pr)
    assert alice["body"] == mention
    assert bot["body"] == lab_plan()


def test_the_comment_is_found_on_a_later_page(github: GitHub) -> None:
    pr = github.pull_request()
    for number in range(35):
        github.comment(pr, f"review remark {number}", login="alice")
    ours = github.comment(pr, lab_plan())  # the 36th comment: page 2
    github.comment(pr, "one more remark", login="alice")
    result = sticky(github, pr, lab_converged())
    assert result.returncode == 0, result.stderr
    assert result.stdout == f"updated comment {ours}\n"
    comments = github.comments(pr)
    assert len(comments) == 37
    assert [c["body"] for c in comments if c["id"] == ours] == [lab_converged()]


def test_duplicate_comments_on_two_pages_update_the_first_and_succeed(github: GitHub) -> None:
    """gh writes each page's ids as the page arrives: the script must read them all (a reader
    that stops at the first line makes gh die of SIGPIPE, and pipefail fails the job)."""
    pr = github.pull_request()
    first = github.comment(pr, lab_plan())
    for number in range(40):
        github.comment(pr, f"review remark {number}", login="alice")
    duplicate = github.comment(pr, lab_plan())
    result = sticky(github, pr, lab_converged())
    assert result.returncode == 0, result.stderr
    assert result.stdout == f"updated comment {first}\n"
    bodies = {c["id"]: c["body"] for c in github.comments(pr)}
    assert bodies[first] == lab_converged()
    assert bodies[duplicate] == lab_plan()


def test_without_a_token_gh_fails_and_so_does_the_script(github: GitHub) -> None:
    pr = github.pull_request()
    result = github.run(
        "sticky-comment.sh", str(pr), str(github.file("c.md", lab_plan())), GH_TOKEN=None
    )
    assert result.returncode != 0
    assert "GH_TOKEN" in result.stderr
    assert github.comments(pr) == []
    assert len(github.calls()) == 1  # it stopped at the first failing gh


def test_a_humans_comment_that_starts_with_our_exact_markers_is_not_edited(
    github: GitHub,
) -> None:
    """Anyone can write our two marker lines: only the bot's own comment is ever edited."""
    pr = github.pull_request()
    forged = github.comment(pr, lab_plan().replace("27 steps", "0 steps"), login="alice")
    result = sticky(github, pr, lab_plan())
    assert result.returncode == 0, result.stderr
    assert result.stdout == f"created a comment on #{pr}\n"
    alice, bot = github.comments(pr)
    assert (alice["id"], alice["body"]) == (forged, lab_plan().replace("27 steps", "0 steps"))
    assert (bot["user"]["login"], bot["body"]) == (BOT, lab_plan())
    # The next push edits the bot's comment, still not alice's.
    assert sticky(github, pr, lab_converged()).stdout == f"updated comment {bot['id']}\n"
    assert github.bodies(pr) == {
        forged: lab_plan().replace("27 steps", "0 steps"),
        bot["id"]: lab_converged(),
    }


def test_another_bots_comment_is_not_ours_either(github: GitHub) -> None:
    pr = github.pull_request()
    theirs = github.comment(pr, lab_plan(), login="renovate[bot]")
    assert sticky(github, pr, lab_converged()).stdout.startswith("created a comment")
    assert github.bodies(pr)[theirs] == lab_plan()


def test_with_a_github_app_token_the_apps_login_is_the_bot(github: GitHub) -> None:
    """CMS_RECONCILER_BOT_LOGIN names the App's bot; github-actions' comments are then not
    ours (another workflow's), and the App's are."""
    pr = github.pull_request()
    actions = github.comment(pr, lab_plan(), login=BOT)
    app = {"CMS_RECONCILER_BOT_LOGIN": APP_BOT, "FAKE_GH_LOGIN": APP_BOT}
    first = github.run(
        "sticky-comment.sh", str(pr), str(github.file("c.md", lab_converged())), **app
    )
    assert first.returncode == 0, first.stderr
    assert first.stdout == f"created a comment on #{pr}\n"
    (created,) = [c for c in github.comments(pr) if c["id"] != actions]
    assert created["user"] == {"login": APP_BOT, "type": "Bot"}
    second = github.run("sticky-comment.sh", str(pr), str(github.file("c.md", lab_plan())), **app)
    assert second.stdout == f"updated comment {created['id']}\n"
    assert github.bodies(pr) == {actions: lab_plan(), created["id"]: lab_plan()}


@pytest.mark.parametrize("login", ['a"b', "x\\y", 'q") or true or ("', "$(touch pwned)", "\\(.id)"])
def test_a_login_with_jq_or_shell_syntax_matches_only_itself(github: GitHub, login: str) -> None:
    """The login goes into gh's --jq as a literal: no character of it is syntax."""
    pr = github.pull_request()
    other = github.comment(pr, lab_plan(), login=BOT)
    result = github.run(
        "sticky-comment.sh",
        str(pr),
        str(github.file("c.md", lab_converged())),
        CMS_RECONCILER_BOT_LOGIN=login,
        FAKE_GH_LOGIN=login,
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout == f"created a comment on #{pr}\n"
    assert github.bodies(pr)[other] == lab_plan()
    assert not (github.root / "pwned").exists()
    again = github.run(
        "sticky-comment.sh",
        str(pr),
        str(github.file("c.md", lab_plan())),
        CMS_RECONCILER_BOT_LOGIN=login,
    )
    assert again.stdout.startswith("updated comment")
    assert list(github.bodies(pr).values()) == [lab_plan(), lab_plan()]


# --- drift-issue.sh ----------------------------------------------------------------------------
def title(cluster: str) -> str:
    return f"cms-reconciler: cluster {cluster} has drifted from git"


def drift(
    github: GitHub, code: str, body: str = "", cluster: str = "lab"
) -> subprocess.CompletedProcess[str]:
    body_file = github.file("plan.md", body or lab_plan())
    return github.run("drift-issue.sh", cluster, code, str(body_file))


def test_drift_opens_an_issue_with_the_plan(github: GitHub) -> None:
    result = drift(github, "2")
    assert result.returncode == 0, result.stderr
    (issue,) = github.issues()
    assert issue["title"] == "cms-reconciler: cluster lab has drifted from git"
    assert issue["state"] == "open"
    assert issue["body"] == lab_plan()
    assert result.stdout == f"https://github.com/{REPOSITORY}/issues/{issue['number']}\n"


def test_drift_again_updates_the_open_issue(github: GitHub) -> None:
    assert drift(github, "2").returncode == 0
    body = lab_plan().replace("27 steps", "27 steps, still")
    result = drift(github, "2", body)
    assert result.returncode == 0, result.stderr
    (issue,) = github.issues()
    assert result.stdout == f"updated issue #{issue['number']}\n"
    assert issue["body"] == body
    assert issue["state"] == "open"


def test_convergence_closes_the_issue_with_a_comment(github: GitHub) -> None:
    assert drift(github, "2").returncode == 0
    result = drift(github, "0", lab_converged())
    assert result.returncode == 0, result.stderr
    (issue,) = github.issues()
    assert result.stdout == f"closed issue #{issue['number']}\n"
    assert issue["state"] == "closed"
    assert issue["body"] == lab_plan()  # the last drift it recorded
    (comment,) = issue["comments"]
    assert comment["body"] == "Converged again: `reconcile --plan --cluster lab` is empty."


def test_convergence_without_an_open_issue_does_nothing(github: GitHub) -> None:
    closed = github.issue(title("lab"), state="closed")
    result = drift(github, "0", lab_converged())
    assert result.returncode == 0, result.stderr
    assert result.stdout == ""
    assert mutating(github.calls()) == []
    (issue,) = github.issues()
    assert (issue["number"], issue["state"], issue["comments"]) == (closed, "closed", [])


def test_drift_after_convergence_opens_a_new_issue(github: GitHub) -> None:
    for code in ("2", "0", "2"):
        assert drift(github, code).returncode == 0
    first, second = github.issues()
    assert (first["state"], second["state"]) == ("closed", "open")
    assert second["title"] == title("lab")


@pytest.mark.parametrize("code", ["1", "130", ""], ids=["error", "interrupted", "no-code"])
def test_a_failed_plan_fails_the_job_and_changes_no_issue(github: GitHub, code: str) -> None:
    number = github.issue(title("lab"))
    before = github.issues()
    result = drift(github, code)
    assert result.returncode == 1
    assert result.stderr.startswith("::error::reconcile --plan --cluster lab failed")
    assert f"(exit {code})" in result.stderr
    assert result.stdout == ""
    assert mutating(github.calls()) == []
    assert github.issues() == before
    assert github.issues()[0]["number"] == number


def test_only_the_clusters_own_issue_counts_not_lab2s_or_a_quoting_one(github: GitHub) -> None:
    """The listing has every open issue, newest first: the exact title check alone tells
    lab's issue from lab2's and from one whose title contains lab's."""
    lab = github.issue(title("lab"))
    lab2 = github.issue(title("lab2"))
    quoting = github.issue(f"Re: {title('lab')}")
    result = drift(github, "2", "lab drifted again")
    assert result.returncode == 0, result.stderr
    assert result.stdout == f"updated issue #{lab}\n"
    assert drift(github, "2", "lab2 drifted again", cluster="lab2").stdout == (
        f"updated issue #{lab2}\n"
    )
    assert drift(github, "0").stdout == f"closed issue #{lab}\n"
    issues = {issue["number"]: issue for issue in github.issues()}
    assert [issues[n]["state"] for n in (lab, lab2, quoting)] == ["closed", "open", "open"]
    assert [issues[n]["body"] for n in (lab, lab2, quoting)] == [
        "lab drifted again",
        "lab2 drifted again",
        "body",
    ]


def test_a_new_clusters_drift_does_not_touch_a_similar_clusters_issue(github: GitHub) -> None:
    lab2 = github.issue(title("lab2"))
    result = drift(github, "2")
    assert result.returncode == 0, result.stderr
    by_title = {issue["title"]: issue for issue in github.issues()}
    assert by_title[title("lab2")]["number"] == lab2
    assert by_title[title("lab2")]["body"] == "body"
    assert by_title[title("lab")]["body"] == lab_plan()


def test_a_humans_issue_with_our_exact_title_is_never_edited_or_closed(github: GitHub) -> None:
    human = github.issue(title("lab"), login="alice", body="I think lab drifted?")
    drifted = drift(github, "2")
    assert drifted.returncode == 0, drifted.stderr
    ours = int(drifted.stdout.rsplit("/", 1)[1])
    assert ours != human
    assert drift(github, "2", "lab drifted again").stdout == f"updated issue #{ours}\n"
    converged = drift(github, "0")
    assert converged.stdout == f"closed issue #{ours}\n"
    issues = {issue["number"]: issue for issue in github.issues()}
    assert issues[human]["state"] == "open"
    assert issues[human]["body"] == "I think lab drifted?"
    assert issues[human]["comments"] == []
    assert (issues[ours]["state"], issues[ours]["user"]["login"]) == ("closed", BOT)
    assert [call[2] for call in mutating(github.calls()) if call[1] != "create"] == [
        str(ours),
        str(ours),
    ]


def test_a_pull_request_with_our_title_is_not_the_issue(github: GitHub) -> None:
    pull = github.change(
        lambda state: fake_gh.add_issue(state, title("lab"), "a PR", pull_request=True, login=BOT)
    )
    result = drift(github, "2")
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith(f"https://github.com/{REPOSITORY}/issues/")
    assert github.find(github.state(), pull["number"])["body"] == "a PR"


def test_the_bots_issue_is_found_beyond_the_first_hundred(github: GitHub) -> None:
    """The listing is read to its last page (100 a page): the bot's issue, opened long ago, is
    on the second."""
    ours = github.issue(title("lab"))
    for number in range(120):
        github.issue(f"something else {number}", login="alice")
    result = drift(github, "0")
    assert result.returncode == 0, result.stderr
    assert result.stdout == f"closed issue #{ours}\n"


def test_duplicate_issues_on_two_pages_update_the_newest_and_succeed(github: GitHub) -> None:
    """gh writes each page's numbers as the page arrives: the script reads them all (a reader
    that stops at the first line makes gh die of SIGPIPE writing the next page)."""
    older = github.issue(title("lab"))
    for number in range(110):
        github.issue(f"something else {number}", login="alice")
    newest = github.issue(title("lab"))
    result = drift(github, "2", "again")
    assert result.returncode == 0, result.stderr
    assert result.stdout == f"updated issue #{newest}\n"
    bodies = {issue["number"]: issue["body"] for issue in github.issues()}
    assert (bodies[newest], bodies[older]) == ("again", "body")


def test_with_a_github_app_token_the_apps_issue_is_the_one(github: GitHub) -> None:
    actions = github.issue(title("lab"), login=BOT)
    app = {"CMS_RECONCILER_BOT_LOGIN": APP_BOT, "FAKE_GH_LOGIN": APP_BOT}
    created = github.run("drift-issue.sh", "lab", "2", str(github.file("p.md", "drift")), **app)
    assert created.returncode == 0, created.stderr
    closed = github.run("drift-issue.sh", "lab", "0", str(github.file("p.md", "ok")), **app)
    assert closed.returncode == 0, closed.stderr
    issues = {issue["number"]: issue for issue in github.issues()}
    (app_issue,) = [n for n in issues if n != actions]
    assert closed.stdout == f"closed issue #{app_issue}\n"
    assert issues[app_issue]["user"]["login"] == APP_BOT
    assert (issues[actions]["state"], issues[actions]["body"]) == ("open", "body")


# --- the fake itself ---------------------------------------------------------------------------
POST_COMMENT = ["api", "--method", "POST", f"repos/{REPOSITORY}/issues/1/comments"]
ISSUES = f"repos/{REPOSITORY}/issues"
UNKNOWN = {
    "pr-comment": ["pr", "comment", "1", "--body", "x"],
    "api-without-paginate": ["api", f"repos/{REPOSITORY}/issues/1/comments", "--jq", ".[]"],
    "api-raw-field": [*POST_COMMENT, "-f", "body=x"],
    "api-delete": ["api", "--method", "DELETE", f"repos/{REPOSITORY}/issues/comments/1"],
    "issue-list": ["issue", "list", "--repo", REPOSITORY, "--state", "open", "--jq", ".[]"],
    "issues-unknown-parameter": ["api", "--paginate", f"{ISSUES}?creator=x", "--jq", ".[]"],
    "issues-twice-the-state": ["api", "--paginate", f"{ISSUES}?state=open&state=all", "--jq", "."],
    "issues-bad-state": ["api", "--paginate", f"{ISSUES}?state=merged", "--jq", ".[]"],
    "issues-without-paginate": ["api", f"{ISSUES}?state=open", "--jq", ".[]"],
    "pulls-without-owner": ["api", f"repos/{REPOSITORY}/pulls?state=open&head=b", "--jq", "."],
    "pulls-all": ["api", f"repos/{REPOSITORY}/pulls?state=all&head=o:b", "--jq", "."],
    "approvals-paginated": [
        "api",
        "--paginate",
        f"repos/{REPOSITORY}/actions/runs/1/approvals",
        "--jq",
        ".",
    ],
    "issue-reopen": ["issue", "reopen", "1", "--repo", REPOSITORY],
    "issue-close-short-repo": ["issue", "close", "1", "-R", REPOSITORY, "--comment", "x"],
}


@pytest.mark.parametrize("argv", UNKNOWN.values(), ids=UNKNOWN.keys())
def test_the_fake_refuses_what_the_scripts_do_not_run(github: GitHub, argv: list[str]) -> None:
    github.issue(title("lab"))
    before = github.state()
    result = github.gh(*argv)
    assert result.returncode == 2
    assert f"unknown invocation: gh {shlex.join(argv)}" in result.stderr
    after = github.state()
    assert after["calls"] == [argv]
    assert after["issues"] == before["issues"]


def test_the_fake_needs_a_token_and_the_repository_that_exists(github: GitHub) -> None:
    listing = ["api", "--paginate", f"{ISSUES}?state=open", "--jq", ".[]"]
    assert github.gh(*listing).returncode == 0
    assert github.gh(*listing, GH_TOKEN=None).returncode == 4
    elsewhere = ["api", "--paginate", "repos/someone/else/issues", "--jq", ".[]"]
    assert github.gh(*elsewhere).returncode == 1


def listed(github: GitHub, endpoint: str, jq: str = ".[] | .number") -> list[str]:
    result = github.gh("api", "--paginate", endpoint, "--jq", jq)
    assert result.returncode == 0, result.stderr
    return result.stdout.splitlines()


def test_the_fake_lists_issues_as_the_rest_api_does(github: GitHub) -> None:
    """Issues and pull requests (only those with a ``pull_request`` key), newest first, 30 a
    page unless per_page says otherwise (at most 100), open unless the state says otherwise."""
    for number in range(1, 106):
        github.issue(f"issue {number}", state="closed" if number == 3 else "open")
    pull = github.pull_request(login="bob")
    everything = listed(github, f"{ISSUES}?state=all&per_page=100", ".[] | .number")
    assert everything == [str(n) for n in range(pull, 0, -1)]
    assert listed(github, ISSUES, "length") == ["30", "30", "30", "15"]  # 105 open
    assert listed(github, f"{ISSUES}?per_page=100", "length") == ["100", "5"]
    assert listed(github, f"{ISSUES}?per_page=500&state=open", "length") == ["100", "5"]
    assert listed(github, f"{ISSUES}?state=closed") == ["3"]
    first = listed(github, f"{ISSUES}?per_page=100", ".[:2][] | @json")[:2]
    assert [json.loads(item)["number"] for item in first] == [pull, pull - 1]
    pull_json, issue_json = (json.loads(item) for item in first)
    assert pull_json["user"] == {"login": "bob", "type": "User"}
    assert pull_json["pull_request"]["html_url"] == f"https://github.com/{REPOSITORY}/pull/{pull}"
    assert "pull_request" not in issue_json
    assert issue_json["user"] == {"login": BOT, "type": "Bot"}
    assert set(issue_json) == {"number", "title", "state", "body", "user", "html_url", "url"}


def test_what_the_fake_creates_is_by_the_token_login(github: GitHub) -> None:
    body = str(github.file("b.md", "x"))
    create = ["issue", "create", "--repo", REPOSITORY, "--title", "t", "--body-file", body]
    assert github.gh(*create).returncode == 0
    assert github.gh(*create, FAKE_GH_LOGIN=APP_BOT).returncode == 0
    close = ["issue", "close", "2", "--repo", REPOSITORY, "--comment", "done"]
    assert github.gh(*close, FAKE_GH_LOGIN="carol").returncode == 0
    first, second = github.issues()
    assert first["user"] == {"login": BOT, "type": "Bot"}
    assert second["user"] == {"login": APP_BOT, "type": "Bot"}
    assert second["comments"][0]["user"] == {"login": "carol", "type": "User"}
