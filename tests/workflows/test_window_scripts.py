"""Maintenance windows in the apply and drift workflows (issue 26), run for real under bash
against the fake ``gh``: a merged change whose window is closed is deferred (left out of the
approval matrix, reported, marked pending), applied by the scheduled run once the window is
open, and not reported as drift meanwhile.

``pending.sh`` keeps the pending clusters as commit statuses on one anchor commit; only the
bot's own count. Plans are hand-written JSON with reconcile's ``clusters[].window`` object;
``reconcile`` itself, where a script runs it, is a stub that prints what the test gives it.
"""

from __future__ import annotations

import json
import subprocess
from pathlib import Path
from typing import Any

import git
import pytest

from tests.workflows import fake_gh
from tests.workflows.support import ANCHOR, APP_BOT, BOT, REPOSITORY, GitHub, lab_apply, mutating

SHA = "0123456789abcdef0123456789abcdef01234567"
CONTEXT = "cms-reconciler/pending/"
PLAN = '["self-hosted", "cms-plan"]'
APPLY = '["self-hosted", "cms-apply"]'
SAYS = (
    "deferred: outside the maintenance windows; the next opens Sat 02:00 CET (01:00 UTC), in 3 days"
)
PR_URL = f"https://github.com/{REPOSITORY}/pull/{{}}"


def window(*, applies_now: bool, says: str = SAYS) -> dict[str, Any]:
    """A plan's ``clusters[].window``, as reconcile writes it."""
    return {
        "needed": True,
        "open_now": applies_now,
        "next_start": "2026-12-12T01:00:00Z",
        "next_end": "2026-12-12T05:00:00Z",
        "timezone": "Europe/Berlin",
        "outside": "refuse",
        "expected_seconds": 900,
        "fits": True,
        "applies_now": applies_now,
        "says": says,
    }


def plan_json(name: str, window_: dict[str, Any] | None) -> str:
    return json.dumps({"clusters": [{"name": name, "steps": [{}], "window": window_}]})


def cluster(name: str) -> dict[str, object]:
    return {"name": name, "file": f"clusters/{name}.yaml", "env": [], "secrets": []}


def outputs(path: Path) -> dict[str, str]:
    return dict(line.split("=", 1) for line in path.read_text().splitlines())


def statuses(github: GitHub, sha: str = ANCHOR) -> list[dict[str, Any]]:
    found: list[dict[str, Any]] = github.state()["statuses"].get(sha, [])
    return found


def post(github: GitHub, name: str, state: str, description: str = "", **kwargs: Any) -> None:
    github.change(
        lambda data: fake_gh.add_status(data, ANCHOR, CONTEXT + name, state, description, **kwargs)
    )


def pending(github: GitHub, *args: str, **env: str | None) -> subprocess.CompletedProcess[str]:
    return github.run("pending.sh", *args, **env)


def read(github: GitHub, **env: str | None) -> dict[str, Any]:
    result = pending(github, "read", **env)
    assert result.returncode == 0, result.stderr
    found: dict[str, Any] = json.loads(result.stdout)
    return found


def stub_reconcile(github: GitHub) -> None:
    """``reconcile`` on the fake's PATH: ``clusters`` prints $FAKE_CLUSTERS; ``apply`` prints
    $FAKE_OUTCOME and exits $FAKE_EXIT."""
    stub = github.bin / "reconcile"
    stub.write_text(
        "#!/bin/sh\n"
        'case "$1" in\n'
        '  clusters) printf "%s\\n" "$FAKE_CLUSTERS" ;;\n'
        '  apply) printf "%s" "$FAKE_OUTCOME"; exit "$FAKE_EXIT" ;;\n'
        "  *) exit 99 ;;\n"
        "esac\n"
    )
    stub.chmod(0o755)


# --- pending.sh: the store --------------------------------------------------------------------


def test_a_deferred_cluster_is_a_pending_status_on_the_anchor(github: GitHub) -> None:
    result = pending(github, "set", "lab", SAYS, PR_URL.format(7))
    assert result.returncode == 0, result.stderr
    assert result.stdout == f"cluster lab: pending ({SAYS})\n"
    (status,) = statuses(github)
    assert status == {
        "state": "pending",
        "context": "cms-reconciler/pending/lab",
        "description": SAYS,
        "target_url": PR_URL.format(7),
        "creator": {"login": BOT, "type": "Bot"},
    }
    assert read(github) == {"lab": {"description": SAYS, "target_url": PR_URL.format(7)}}
    got = pending(github, "get", "lab")
    assert (got.returncode, got.stdout) == (0, SAYS + "\n")
    assert pending(github, "get", "other").stdout == ""


def test_the_same_sentence_a_day_later_posts_nothing_new(github: GitHub) -> None:
    assert pending(github, "set", "lab", SAYS, PR_URL.format(7)).returncode == 0
    later = SAYS.replace("in 3 days", "in 2 days 1 h")
    again = pending(github, "set", "lab", later)  # a scheduled run: no pull request to link
    assert again.returncode == 0, again.stderr
    assert again.stdout.startswith("cluster lab: still pending")
    assert len(statuses(github)) == 1
    moved = SAYS.replace("Sat 02:00 CET (01:00 UTC)", "Sun 02:00 CET (01:00 UTC)")
    assert pending(github, "set", "lab", moved).returncode == 0
    assert [s["description"] for s in statuses(github)] == [SAYS, moved]
    assert statuses(github)[-1]["target_url"] == PR_URL.format(7)  # the link is kept


def test_a_long_sentence_is_cut_to_what_github_takes(github: GitHub) -> None:
    long = "deferred: " + "é" * 200
    assert pending(github, "set", "lab", long).returncode == 0
    (status,) = statuses(github)
    assert len(status["description"]) == 140
    assert status["description"].endswith("…")
    assert pending(github, "set", "lab", long).stdout.startswith("cluster lab: still pending")
    assert len(statuses(github)) == 1


def test_end_clears_only_a_pending_cluster(github: GitHub) -> None:
    assert pending(github, "end", "lab", "success", "applied").stdout == ""
    assert statuses(github) == []  # nothing was pending: nothing posted
    assert pending(github, "set", "lab", SAYS, PR_URL.format(7)).returncode == 0
    ended = pending(github, "end", "lab", "success", "applied")
    assert ended.returncode == 0, ended.stderr
    assert ended.stdout == "cluster lab: no longer pending (applied)\n"
    assert statuses(github)[-1]["state"] == "success"
    assert statuses(github)[-1]["target_url"] == PR_URL.format(7)
    assert read(github) == {}
    assert pending(github, "get", "lab").stdout == ""
    assert pending(github, "end", "lab", "failure", "again").stdout == ""
    assert len(statuses(github)) == 2


def test_only_the_bots_own_statuses_count(github: GitHub) -> None:
    post(github, "forged", "pending", "hide my drift", login="mallory")
    assert pending(github, "set", "lab", SAYS).returncode == 0
    post(github, "lab", "success", "cleared", login="mallory")  # newer, but not the bot's
    post(github, "lab", "success", "cleared", login=APP_BOT)  # another bot's
    github.change(  # the bot's, but on another commit than the anchor
        lambda data: fake_gh.add_status(data, SHA, CONTEXT + "elsewhere", "pending", SAYS)
    )
    assert read(github) == {"lab": {"description": SAYS, "target_url": ""}}
    assert pending(github, "get", "forged").stdout == ""
    assert pending(github, "get", "elsewhere").stdout == ""


def test_with_a_github_app_the_apps_statuses_are_the_ones(github: GitHub) -> None:
    app = {"FAKE_GH_LOGIN": APP_BOT, "CMS_RECONCILER_BOT_LOGIN": APP_BOT}
    post(github, "lab", "pending", "by the workflow token")
    assert pending(github, "set", "other", SAYS, **app).returncode == 0
    assert statuses(github)[-1]["creator"]["login"] == APP_BOT
    assert list(read(github, **app)) == ["other"]
    assert list(read(github)) == ["lab"]


def test_the_newest_status_is_found_beyond_the_first_page(github: GitHub) -> None:
    assert pending(github, "set", "lab", SAYS).returncode == 0
    for number in range(105):
        post(github, f"c{number}", "success", "done")
    assert read(github) == {"lab": {"description": SAYS, "target_url": ""}}


def test_output_gives_the_pending_job_its_list(github: GitHub, tmp_path: Path) -> None:
    assert pending(github, "set", "lab", SAYS, PR_URL.format(7)).returncode == 0
    out = tmp_path / "github-output"
    result = pending(github, "output", GITHUB_OUTPUT=str(out))
    assert result.returncode == 0, result.stderr
    assert json.loads(outputs(out)["pending"]) == {
        "lab": {"description": SAYS, "target_url": PR_URL.format(7)}
    }
    assert result.stdout == f"cluster lab: pending ({SAYS})\n"
    assert pending(github, "end", "lab", "success", "applied").returncode == 0
    out.unlink()
    result = pending(github, "output", GITHUB_OUTPUT=str(out))
    assert (outputs(out), result.stdout) == ({"pending": "{}"}, "no cluster is pending\n")


def history(root: Path, commits: int) -> tuple[Path, list[str]]:
    work = root / "work"
    repository = git.Repo.init(work)
    shas = []
    for number in range(commits):
        (work / "file").write_text(str(number))
        repository.git.add(A=True)
        commit = repository.index.commit(f"c{number}", author=git.Actor("t", "t@example.com"))
        shas.append(commit.hexsha)
    return work, shas


def test_the_anchor_is_the_branchs_first_commit(github: GitHub, tmp_path: Path) -> None:
    work, shas = history(tmp_path, 3)
    result = github.run_in(work, "pending.sh", "set", "lab", SAYS, ANCHOR=None)
    assert result.returncode == 0, result.stderr
    assert list(github.state()["statuses"]) == [shas[0]]
    listed = github.run_in(work, "pending.sh", "read", ANCHOR=None)
    assert json.loads(listed.stdout) == {"lab": {"description": SAYS, "target_url": ""}}


def test_a_shallow_clone_has_no_anchor_and_posts_nothing(github: GitHub, tmp_path: Path) -> None:
    work, _ = history(tmp_path, 3)
    shallow = tmp_path / "shallow"
    subprocess.run(
        ["git", "clone", "-q", "--depth", "1", f"file://{work}", str(shallow)],
        check=True,
        timeout=60,
    )
    result = github.run_in(shallow, "pending.sh", "set", "lab", SAYS, ANCHOR=None)
    assert result.returncode == 1
    assert "fetch-depth: 0" in result.stderr
    assert github.state()["statuses"] == {}


@pytest.mark.parametrize("args", [[], ["nope"], ["get"], ["end", "lab", "pending", "x"]])
def test_bad_usage_exits_2(github: GitHub, args: list[str]) -> None:
    result = pending(github, *args)
    assert result.returncode == 2
    assert result.stderr.startswith("usage: pending.sh")
    assert mutating(github.calls()) == []


# --- apply-decide.sh: a deferred cluster asks no approver --------------------------------------


def decide(github: GitHub, tmp_path: Path, plans: dict[str, dict[str, str]]) -> Any:
    listing = tmp_path / "clusters.json"
    listing.write_text(json.dumps({"clusters": [cluster(name) for name in plans]}))
    for name, files in plans.items():
        folder = tmp_path / "plans" / f"apply-plan-{name}"
        folder.mkdir(parents=True)
        for file, text in files.items():
            (folder / file).write_text(text)
    out = tmp_path / "github-output"
    result = github.run(
        "apply-decide.sh",
        str(listing),
        str(tmp_path / "plans"),
        str(tmp_path / "decided"),
        GITHUB_OUTPUT=str(out),
    )
    assert result.returncode == 0, result.stderr
    return result, outputs(out)


def test_a_cluster_outside_its_window_is_deferred_not_sent_to_approval(
    github: GitHub, tmp_path: Path
) -> None:
    result, decided = decide(
        github,
        tmp_path,
        {
            "closed": {
                "exit-code": "2\n",
                "plan.json": plan_json("closed", window(applies_now=False)),
            },
            "open": {"exit-code": "2\n", "plan.json": plan_json("open", window(applies_now=True))},
            "nowindow": {"exit-code": "2\n", "plan.json": plan_json("nowindow", None)},
            "converged": {"exit-code": "0\n"},
        },
    )
    assert [c["name"] for c in json.loads(decided["matrix"])] == ["open", "nowindow"]
    assert (decided["count"], decided["failed"]) == ("2", "false")  # deferred is green
    assert f"::notice::cluster closed: {SAYS}; pending: the scheduled apply" in result.stdout
    deferred = tmp_path / "decided" / "apply-outcome-closed"
    assert (deferred / "deferred").read_text() == SAYS + "\n"
    comment = (deferred / "outcome.md").read_text()
    assert comment.split("\n")[:2] == [
        "<!-- cms-reconciler apply -->",
        "<!-- cms-reconciler apply: closed -->",
    ]
    assert f"- **Deferred:** {SAYS.removeprefix('deferred: ')}. Nothing was sent" in comment
    assert "scheduled apply (apply.yml on schedule)" in comment
    assert "approval in `cms-closed-apply`" in comment
    assert (tmp_path / "decided" / "apply-outcome-converged" / "converged").exists()
    assert sorted(p.name for p in (tmp_path / "decided").iterdir()) == [
        "apply-outcome-closed",
        "apply-outcome-converged",
    ]


def test_a_plan_file_that_cannot_be_read_fails_the_run(github: GitHub, tmp_path: Path) -> None:
    result, decided = decide(
        github, tmp_path, {"lab": {"exit-code": "2\n", "plan.json": "{not json"}}
    )
    assert decided == {"matrix": "[]", "count": "0", "failed": "true"}
    assert "::error::cluster lab: its plan file cannot be read" in result.stdout


def test_the_deferred_comment_goes_to_the_merged_pull_request(
    github: GitHub, tmp_path: Path
) -> None:
    decide(
        github,
        tmp_path,
        {"lab": {"exit-code": "2\n", "plan.json": plan_json("lab", window(applies_now=False))}},
    )
    pr = github.pull_request()
    github.change(lambda state: state["commit_pulls"].update({SHA: [pr]}))
    result = github.run("apply-comment.sh", SHA, str(tmp_path / "decided"), EVENT="push")
    assert result.returncode == 0, result.stderr
    (comment,) = github.comments(pr)
    assert SAYS.removeprefix("deferred: ") in comment["body"]
    assert comment["body"].startswith("<!-- cms-reconciler apply -->\n")


# --- apply-cluster.sh: exit 3 (the window closed while approving) is green ---------------------


@pytest.mark.parametrize(("reconcile_exit", "code"), [(3, 0), (0, 0), (1, 1)])
def test_an_apply_deferred_by_its_window_is_green_and_says_so(
    github: GitHub, tmp_path: Path, reconcile_exit: int, code: int
) -> None:
    stub_reconcile(github)
    out = tmp_path / "out"
    result = github.run(
        "apply-cluster.sh",
        "lab",
        str(tmp_path / "plan.json"),
        SHA,
        str(out),
        RECONCILE_STATE_DIR=str(tmp_path / "state"),
        FAKE_OUTCOME="outcome\n",
        FAKE_EXIT=str(reconcile_exit),
    )
    assert result.returncode == code, result.stderr
    assert (out / "exit-code").read_text() == f"{reconcile_exit}\n"
    assert (out / "outcome.md").read_text() == "outcome\n"
    if reconcile_exit == 3:
        assert (out / "deferred").read_text().startswith("deferred: the maintenance window closed")
        assert "::notice::cluster lab: deferred: " in result.stdout
        assert "stays pending" in result.stdout
    else:
        assert not (out / "deferred").exists()
        assert "deferred" not in result.stdout


# --- apply-pending.sh: the report job marks and clears -----------------------------------------


def outcome_dir(root: Path, name: str, **files: str) -> None:
    folder = root / f"apply-outcome-{name}"
    folder.mkdir(parents=True)
    for file, text in files.items():
        (folder / file.replace("_md", ".md").replace("_", "-")).write_text(text)


def test_the_report_marks_deferred_clusters_and_clears_applied_ones(
    github: GitHub, tmp_path: Path
) -> None:
    pr = github.pull_request()
    github.change(lambda state: state["commit_pulls"].update({SHA: [pr]}))
    for name in ("converged", "applied", "failed", "superseded", "cancelled"):
        post(github, name, "pending", f"{name} waited", target_url=PR_URL.format(3))
    outcomes = tmp_path / "outcomes"
    outcome_dir(outcomes, "deferred", deferred=SAYS + "\n", outcome_md="comment")
    outcome_dir(outcomes, "late", exit_code="3\n", deferred="deferred: closed\n")
    outcome_dir(outcomes, "converged", converged="")
    outcome_dir(outcomes, "applied", exit_code="0\n", outcome_md="done")
    outcome_dir(outcomes, "failed", exit_code="1\n", outcome_md="failed")
    outcome_dir(outcomes, "superseded", superseded="f" * 40 + "\n")
    outcome_dir(outcomes, "cancelled", exit_code="130\n")
    outcome_dir(outcomes, "fresh", converged="")  # never pending: nothing to post
    before = len(statuses(github))
    result = github.run("apply-pending.sh", SHA, str(outcomes), EVENT="push", GITHUB_RUN_ID="42")
    assert result.returncode == 0, result.stderr
    posted = {s["context"].removeprefix(CONTEXT): s for s in statuses(github)[before:]}
    assert sorted(posted) == ["applied", "converged", "deferred", "failed", "late"]
    assert posted["deferred"]["state"] == "pending"
    assert posted["deferred"]["description"] == SAYS
    assert posted["deferred"]["target_url"] == PR_URL.format(pr)
    assert posted["late"]["description"] == "deferred: closed"
    assert posted["converged"]["state"] == "success"
    assert posted["converged"]["description"].startswith("converged: nothing left to apply (")
    assert posted["applied"]["state"] == "success"
    assert "by apply run 42" in posted["applied"]["description"]
    assert posted["failed"]["state"] == "failure"
    assert posted["applied"]["target_url"] == PR_URL.format(3)  # the pending one's link
    assert sorted(read(github)) == ["cancelled", "deferred", "late", "superseded"]


def test_a_scheduled_run_keeps_the_link_to_the_deferred_pull_request(
    github: GitHub, tmp_path: Path
) -> None:
    post(github, "lab", "pending", SAYS, target_url=PR_URL.format(3))
    outcomes = tmp_path / "outcomes"
    outcome_dir(outcomes, "lab", deferred=SAYS.replace("in 3 days", "in 2 days") + "\n")
    result = github.run("apply-pending.sh", "f" * 40, str(outcomes), EVENT="schedule")
    assert result.returncode == 0, result.stderr
    assert "still pending" in result.stdout
    assert mutating(github.calls()) == []
    assert not any(call[1].endswith("/pulls") for call in github.calls())


# --- apply-clusters.sh: a scheduled run plans the pending clusters ------------------------------


def schedule_clusters(
    github: GitHub, tmp_path: Path, pending_: str | None
) -> tuple[subprocess.CompletedProcess[str], Path]:
    stub_reconcile(github)
    out = tmp_path / "github-output"
    listing = {"clusters": [cluster("lab"), cluster("other"), cluster("third")]}
    result = github.run(
        "apply-clusters.sh",
        str(tmp_path / "c"),
        EVENT="schedule",
        PENDING=pending_,
        BEFORE="",
        PLAN_RUNNER=PLAN,
        APPLY_RUNNER=APPLY,
        GITHUB_OUTPUT=str(out),
        FAKE_CLUSTERS=json.dumps(listing),
    )
    return result, out


def test_a_scheduled_run_selects_only_the_pending_clusters(github: GitHub, tmp_path: Path) -> None:
    waiting = {
        "third": {"description": SAYS, "target_url": ""},
        "lab": {"description": SAYS, "target_url": PR_URL.format(3)},
        "gone": {"description": SAYS, "target_url": ""},
    }
    result, out = schedule_clusters(github, tmp_path, json.dumps(waiting))
    assert result.returncode == 0, result.stderr
    assert [c["name"] for c in json.loads(outputs(out)["matrix"])] == ["lab", "third"]
    assert outputs(out)["count"] == "2"
    assert f"cluster lab: pending ({SAYS}): planned again" in result.stdout
    assert "::notice::cluster gone: pending, but clusters/gone.yaml is gone" in result.stdout
    assert json.loads((tmp_path / "c" / "clusters.json").read_text()) == {
        "clusters": [cluster("lab"), cluster("third")]
    }


def test_a_scheduled_run_with_nothing_pending_plans_nothing(github: GitHub, tmp_path: Path) -> None:
    result, out = schedule_clusters(github, tmp_path, "{}")
    assert result.returncode == 0, result.stderr
    assert outputs(out) == {"matrix": "[]", "count": "0"}


@pytest.mark.parametrize("unread", [None, "", "not json", "[]"])
def test_a_scheduled_run_without_the_pending_list_fails(
    github: GitHub, tmp_path: Path, unread: str | None
) -> None:
    result, out = schedule_clusters(github, tmp_path, unread)
    assert result.returncode == 1
    assert "::error::the pending clusters could not be read" in result.stderr
    assert not out.exists()


# --- apply-comment.sh on schedule: the deferred pull request hears the outcome -----------------


def test_a_scheduled_outcome_goes_to_the_pull_request_that_was_deferred(
    github: GitHub, tmp_path: Path
) -> None:
    tip_pr = github.pull_request()  # the branch tip's own pull request: not lab's
    github.change(lambda state: state["commit_pulls"].update({SHA: [tip_pr]}))
    lab_pr = github.pull_request()
    waiting = {
        "lab": {"description": SAYS, "target_url": PR_URL.format(lab_pr)},
        "again": {"description": SAYS, "target_url": PR_URL.format(lab_pr)},
        "elsewhere": {"description": SAYS, "target_url": "https://example.org/pull/1"},
    }
    outcomes = tmp_path / "outcomes"
    outcome_dir(outcomes, "lab", exit_code="0\n", outcome_md=lab_apply(fail_at=None))
    outcome_dir(outcomes, "again", deferred=SAYS, outcome_md="<!-- cms-reconciler apply: again -->")
    outcome_dir(outcomes, "elsewhere", exit_code="0\n", outcome_md="x")
    result = github.run(
        "apply-comment.sh", SHA, str(outcomes), EVENT="schedule", PENDING=json.dumps(waiting)
    )
    assert result.returncode == 0, result.stderr
    assert [c["body"] for c in github.comments(lab_pr)] == [lab_apply(fail_at=None)]
    assert github.comments(tip_pr) == []
    assert "cluster elsewhere: its pending status links to no pull request" in result.stdout
    assert not any(call[1].endswith("/pulls") for call in github.calls())


# --- drift-issue.sh: waiting for a window is not drift -----------------------------------------


def drift_title(name: str) -> str:
    return f"cms-reconciler: cluster {name} has drifted from git"


def test_a_pending_cluster_gets_no_drift_issue(github: GitHub) -> None:
    post(github, "lab", "pending", SAYS)
    body = str(github.file("plan.md", "lab differs"))
    result = github.run("drift-issue.sh", "lab", "2", body)
    assert result.returncode == 0, result.stderr
    assert result.stdout == f"cluster lab: waiting for its maintenance window: {SAYS}\n"
    assert github.issues() == []
    assert mutating(github.calls()) == []


def test_a_pending_clusters_open_drift_issue_is_left_alone(github: GitHub) -> None:
    number = github.issue(drift_title("lab"), body="old drift")
    post(github, "lab", "pending", SAYS)
    result = github.run("drift-issue.sh", "lab", "2", str(github.file("plan.md", "new")))
    assert result.returncode == 0, result.stderr
    (issue,) = github.issues()
    assert (issue["number"], issue["body"], issue["state"]) == (number, "old drift", "open")


@pytest.mark.parametrize(
    ("status", "login"),
    [
        (None, BOT),  # never pending
        ("success", BOT),  # applied since
        ("failure", BOT),  # its apply failed
        ("pending", "mallory"),  # someone else's status does not hide drift
    ],
)
def test_a_cluster_not_pending_still_gets_its_drift_issue(
    github: GitHub, status: str | None, login: str
) -> None:
    if status is not None:
        post(github, "lab", "pending", SAYS)
        post(github, "lab", status, "later", login=login)
        if login != BOT:
            github.change(lambda data: data["statuses"][ANCHOR].pop(0))  # only theirs is left
    result = github.run("drift-issue.sh", "lab", "2", str(github.file("plan.md", "drifted")))
    assert result.returncode == 0, result.stderr
    (issue,) = github.issues()
    assert (issue["title"], issue["body"]) == (drift_title("lab"), "drifted")


def test_drift_fails_rather_than_guess_when_pending_cannot_be_read(github: GitHub) -> None:
    result = github.run(
        "drift-issue.sh", "lab", "2", str(github.file("plan.md", "x")), GITHUB_REPOSITORY="a/b"
    )
    assert result.returncode != 0
    assert github.issues() == []


# --- runner-job-started.sh: the apply runner takes the scheduled apply -------------------------


def test_the_apply_runners_hook_lets_the_scheduled_apply_run(github: GitHub) -> None:
    result = github.run(
        "runner-job-started.sh",
        CMS_RECONCILER_REPOSITORY=REPOSITORY,
        CMS_RECONCILER_WORKFLOWS="apply.yml",
        GITHUB_REPOSITORY=REPOSITORY,
        GITHUB_WORKFLOW_REF=f"{REPOSITORY}/.github/workflows/apply.yml@refs/heads/main",
        GITHUB_EVENT_NAME="schedule",
    )
    assert (result.returncode, result.stderr) == (0, "")
