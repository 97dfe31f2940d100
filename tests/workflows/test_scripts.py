"""The workflows' shell glue, .github/scripts/*.sh, run for real against a fake ``gh``.

Each script is executed as the workflows execute it (by path, so through its shebang and its
executable bit) by bash, with ``tests/workflows/fake_gh.py`` first on PATH as ``gh``. The fake
keeps issues, pull requests and comments in a JSON file, evaluates the scripts' ``--jq``
expressions with the real jq, and refuses any invocation the scripts are not known to make.

The comment bodies are real ``reconcile`` output (the plan and apply-outcome renderers), so
these tests also prove that the marker the renderer writes is the one the script looks for.
"""

from __future__ import annotations

import functools
import os
import re
import shlex
import shutil
import subprocess
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import pytest

from reconciler.plan.render import (
    APPLY_MARKER,
    MARKER,
    cluster_marker,
    render_apply_markdown_comments,
    render_markdown_comments,
)
from tests.support.lab import REPO
from tests.unit.plan.test_render_outcome import converged_after, outcome, report_of
from tests.unit.plan.test_render_plans import (
    converged_cluster,
    lab_seed_cluster,
    lab_seed_plan,
    plan_of,
    renamed,
)
from tests.workflows import fake_gh

T = TypeVar("T")
SCRIPTS = REPO / ".github" / "scripts"
REPOSITORY = "example-org/cms-gitops"
BOT = fake_gh.TOKEN_LOGIN
SECRET_NAMES = ["CMS_LAB_PASSWORD", "CMS_LAB_KEY_PASSPHRASE"]


# --- the fake GitHub ---------------------------------------------------------------------------
@dataclass
class GitHub:
    """One repository on the fake GitHub, and a way to run a script against it."""

    root: Path

    @property
    def state_path(self) -> Path:
        return self.root / "gh-state.json"

    @property
    def bin(self) -> Path:
        return self.root / "bin"

    def state(self) -> fake_gh.State:
        return fake_gh.load_state(self.state_path)

    def change(self, edit: Callable[[fake_gh.State], T]) -> T:
        state = self.state()
        result = edit(state)
        fake_gh.save_state(self.state_path, state)
        return result

    def pull_request(self) -> int:
        issue = self.change(lambda state: fake_gh.add_issue(state, "Rotate lab", pull_request=True))
        return int(issue["number"])

    def issue(self, title: str, *, state: str = "open") -> int:
        issue = self.change(lambda data: fake_gh.add_issue(data, title, "body", state_=state))
        return int(issue["number"])

    def comment(self, number: int, body: str, login: str = BOT) -> int:
        def add(state: fake_gh.State) -> dict[str, Any]:
            return fake_gh.add_comment(state, self.find(state, number), body, login)

        return int(self.change(add)["id"])

    @staticmethod
    def find(state: fake_gh.State, number: int) -> dict[str, Any]:
        issues: list[dict[str, Any]] = state["issues"]
        (issue,) = [issue for issue in issues if issue["number"] == number]
        return issue

    def comments(self, number: int) -> list[dict[str, Any]]:
        comments: list[dict[str, Any]] = self.find(self.state(), number)["comments"]
        return comments

    def issues(self) -> list[dict[str, Any]]:
        return [issue for issue in self.state()["issues"] if not issue["pull_request"]]

    def calls(self) -> list[list[str]]:
        calls: list[list[str]] = self.state()["calls"]
        return calls

    def file(self, name: str, text: str) -> Path:
        path = self.root / name
        path.write_text(text)
        return path

    def env(self, **extra: str | None) -> dict[str, str]:
        env = {
            "PATH": f"{self.bin}{os.pathsep}{os.environ['PATH']}",
            "HOME": str(self.root),
            "LANG": "C.UTF-8",
            "GH_TOKEN": "ghs_fake",
            "GITHUB_REPOSITORY": REPOSITORY,
            "FAKE_GH_STATE": str(self.state_path),
        }
        env.update({name: value for name, value in extra.items() if value is not None})
        for name in [name for name, value in extra.items() if value is None]:
            env.pop(name, None)
        return env

    def run(self, script: str, *args: str, **env: str | None) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [str(SCRIPTS / script), *args],
            env=self.env(**env),
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )

    def gh(self, *args: str, **env: str | None) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [str(self.bin / "gh"), *args],
            env=self.env(**env),
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )


@pytest.fixture
def github(tmp_path: Path) -> GitHub:
    for tool in ("bash", "jq"):
        assert shutil.which(tool), f"{tool} is required to test .github/scripts (see Makefile)"
    github = GitHub(tmp_path)
    github.bin.mkdir()
    wrapper = github.bin / "gh"
    wrapper.write_text(
        f'#!/bin/sh\nexec {shlex.quote(sys.executable)} {shlex.quote(str(fake_gh.__file__))} "$@"\n'
    )
    wrapper.chmod(0o755)
    fake_gh.save_state(github.state_path, fake_gh.new_state(REPOSITORY))
    return github


def mutating(calls: list[list[str]]) -> list[list[str]]:
    """The calls that can change something on GitHub."""
    return [
        call
        for call in calls
        if call[:2] in (["issue", "edit"], ["issue", "create"], ["issue", "close"])
        or (call[0] == "api" and "--method" in call)
    ]


# --- real reconcile output ---------------------------------------------------------------------
@functools.cache
def lab_plan() -> str:
    """The lab's 27-step re-form, as the plan job's comment.md."""
    (comment,) = render_markdown_comments(lab_seed_plan())
    return comment


@functools.cache
def lab_converged() -> str:
    """The lab's plan after a later push: converged."""
    (comment,) = render_markdown_comments(plan_of(converged_cluster("lab")))
    return comment


@functools.cache
def other_plan() -> str:
    (comment,) = render_markdown_comments(lab_seed_plan(renamed(lab_seed_cluster(), "other")))
    return comment


@functools.cache
def lab_apply(*, fail_at: int | None = 26) -> str:
    """The apply job's outcome.md for lab: failed at step 26 (its error quotes MARKER), or
    converged."""
    plan = lab_seed_plan()
    final = converged_after(plan) if fail_at is None else None
    report = report_of(plan, [outcome(plan.clusters[0], fail_at=fail_at)], final)
    (comment,) = render_apply_markdown_comments(report, plan)
    return comment


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
    """The search is fuzzy (the fake answers with every open issue, newest first): the exact
    title check alone tells lab's issue from lab2's and from one whose title contains lab's."""
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


# --- export-cluster-env.sh ---------------------------------------------------------------------
def parse_github_env(text: str) -> list[tuple[str, str]]:
    """$GITHUB_ENV as the runner reads it (FileCommandManager): ``NAME=VALUE`` lines, and
    ``NAME<<DELIM``, the value being every line up to a line equal to DELIM."""
    entries: list[tuple[str, str]] = []
    lines = text.splitlines(keepends=True)
    index = 0
    while index < len(lines):
        line = lines[index].rstrip("\r\n")
        index += 1
        if not line:
            continue
        equals, heredoc = line.find("="), line.find("<<")
        if equals >= 0 and (heredoc < 0 or equals < heredoc):
            entries.append((line[:equals], line[equals + 1 :]))
            continue
        assert heredoc > 0, f"invalid line {line!r}"
        name, delimiter = line[:heredoc], line[heredoc + 2 :]
        value: list[str] = []
        while True:
            assert index < len(lines), f"matching delimiter not found: {delimiter!r}"
            current = lines[index]
            index += 1
            assert current.endswith("\n"), "EOF marker missing new line"
            if current.rstrip("\r\n") == delimiter:
                break
            value.append(current)
        entries.append((name, "".join(value).removesuffix("\n")))
    return entries


def export(
    github: GitHub, names: str, *secrets: str | None, earlier: str = ""
) -> tuple[subprocess.CompletedProcess[str], str]:
    env_file = github.file("github-env", earlier)
    values = {f"SECRET_{n}": value for n, value in enumerate(secrets, start=1)}
    result = github.run(
        "export-cluster-env.sh", ENV_NAMES=names, GITHUB_ENV=str(env_file), **values
    )
    return result, env_file.read_bytes().decode()


def json_list(names: list[str]) -> str:
    return "[" + ",".join(f'"{name}"' for name in names) + "]"


PEM = "-----BEGIN ENCRYPTED PRIVATE KEY-----\nMIIFHzBJBgkqhkiG9w0BBQ0w\n-----END-----"


def test_each_secret_is_appended_in_heredoc_form(github: GitHub) -> None:
    result, text = export(github, json_list(SECRET_NAMES), "cms-lab", PEM, earlier="EARLIER=1\n")
    assert result.returncode == 0, result.stderr
    assert text.startswith("EARLIER=1\n")
    assert re.fullmatch(
        r"EARLIER=1\n"
        r"CMS_LAB_PASSWORD<<(EOF_[0-9a-f]{32})\ncms-lab\n\1\n"
        r"CMS_LAB_KEY_PASSPHRASE<<(EOF_[0-9a-f]{32})\n(?s:.*)\n\2\n",
        text,
    ), text
    assert parse_github_env(text) == [
        ("EARLIER", "1"),
        ("CMS_LAB_PASSWORD", "cms-lab"),
        ("CMS_LAB_KEY_PASSPHRASE", PEM),
    ]


TRICKY = {
    "CMS_A": "EOF",
    "CMS_B": "first\nEOF\nEOF_0123456789abcdef0123456789abcdef\nlast",
    "CMS_C": "CMS_D<<EOF\nFOO=bar\n",  # looks like the start of another entry; ends in \n
    "CMS_D": "  spaces  and = signs <<  ",
}


def test_values_that_look_like_delimiters_or_entries_survive(github: GitHub) -> None:
    result, text = export(github, json_list(list(TRICKY)), *TRICKY.values())
    assert result.returncode == 0, result.stderr
    assert parse_github_env(text) == list(TRICKY.items())


@pytest.mark.parametrize("missing", ["", None], ids=["empty", "unset"])
def test_a_secret_without_a_value_stops_the_job_naming_it(
    github: GitHub, missing: str | None
) -> None:
    result, text = export(github, json_list(SECRET_NAMES), "cms-lab", missing)
    assert result.returncode == 1
    assert result.stderr.startswith("::error::missing secrets: CMS_LAB_KEY_PASSPHRASE (")
    assert parse_github_env(text) == [("CMS_LAB_PASSWORD", "cms-lab")]


def test_every_missing_secret_is_named(github: GitHub) -> None:
    result, text = export(github, json_list(SECRET_NAMES), "", "")
    assert result.returncode == 1
    assert "missing secrets: CMS_LAB_PASSWORD CMS_LAB_KEY_PASSPHRASE (" in result.stderr
    assert text == ""


def test_more_than_four_secrets_are_refused(github: GitHub) -> None:
    names = [f"CMS_{n}" for n in range(5)]
    result, text = export(github, json_list(names), "1", "2", "3", "4", earlier="EARLIER=1\n")
    assert result.returncode == 1
    assert "::error::this cluster needs 5 secrets; the setup action passes at most 4" in (
        result.stderr
    )
    assert text == "EARLIER=1\n"


def test_an_empty_list_exports_nothing(github: GitHub) -> None:
    result, text = export(github, "[]", "stray", earlier="EARLIER=1\n")
    assert result.returncode == 0, result.stderr
    assert (result.stdout, result.stderr) == ("", "")
    assert text == "EARLIER=1\n"


@pytest.mark.parametrize("names", ["not json", "null", ""])
def test_env_names_that_are_not_a_json_list_fail_the_step(github: GitHub, names: str) -> None:
    result, text = export(github, names, "cms-lab")
    assert result.returncode != 0
    assert text == ""


# --- the fake itself ---------------------------------------------------------------------------
POST_COMMENT = ["api", "--method", "POST", f"repos/{REPOSITORY}/issues/1/comments"]
LIST_TAIL = ["--search", "x", "--json", "number,title", "--jq", ".[]"]
UNKNOWN = {
    "pr-comment": ["pr", "comment", "1", "--body", "x"],
    "api-without-paginate": ["api", f"repos/{REPOSITORY}/issues/1/comments", "--jq", ".[]"],
    "api-raw-field": [*POST_COMMENT, "-f", "body=x"],
    "api-delete": ["api", "--method", "DELETE", f"repos/{REPOSITORY}/issues/comments/1"],
    "issue-list-all": ["issue", "list", "--repo", REPOSITORY, "--state", "all", *LIST_TAIL],
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
    listing = ["--state", "open", "--search", "x", "--json", "number,title", "--jq", ".[]"]
    assert github.gh("issue", "list", "--repo", REPOSITORY, *listing).returncode == 0
    assert github.gh("issue", "list", "--repo", REPOSITORY, *listing, GH_TOKEN=None).returncode == 4
    assert github.gh("issue", "list", "--repo", "someone/else", *listing).returncode == 1
