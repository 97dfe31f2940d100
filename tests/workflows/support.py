"""What the tests of .github/scripts share: a fake GitHub to run a script against, and real
``reconcile`` output (the plan and apply-outcome renderers) to post.

Each script is executed as the workflows execute it (by path, so through its shebang and its
executable bit) by bash, with ``tests/workflows/fake_gh.py`` first on PATH as ``gh``. The fake
keeps issues, pull requests, comments and review histories in a JSON file, evaluates the
scripts' ``--jq`` expressions with the real jq, and refuses any invocation the scripts are not
known to make.
"""

from __future__ import annotations

import functools
import os
import shlex
import shutil
import subprocess
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

from reconciler.apply.render import render_apply_markdown_comments
from reconciler.plan.render import render_markdown_comments
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
APP_BOT = "cms-reconciler-app[bot]"  # the login of a GitHub App's token
ANCHOR = "a0" * 20  # the default branch's first commit, where pending.sh keeps its statuses


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

    def pull_request(
        self, *, login: str = "alice", head: str | None = None, state: str = "open"
    ) -> int:
        issue = self.change(
            lambda data: fake_gh.add_issue(
                data, "Rotate lab", pull_request=True, login=login, head=head, state_=state
            )
        )
        return int(issue["number"])

    def issue(
        self, title: str, *, state: str = "open", login: str = BOT, body: str = "body"
    ) -> int:
        issue = self.change(
            lambda data: fake_gh.add_issue(data, title, body, state_=state, login=login)
        )
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

    def bodies(self, number: int) -> dict[int, str]:
        """Each comment's body, by id."""
        return {comment["id"]: comment["body"] for comment in self.comments(number)}

    def issues(self) -> list[dict[str, Any]]:
        return [issue for issue in self.state()["issues"] if not issue["pull_request"]]

    def pulls(self) -> list[dict[str, Any]]:
        return [issue for issue in self.state()["issues"] if issue["pull_request"]]

    def calls(self) -> list[list[str]]:
        calls: list[list[str]] = self.state()["calls"]
        return calls

    def file(self, name: str, text: str) -> Path:
        path = self.root / name
        path.parent.mkdir(parents=True, exist_ok=True)
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
            "ANCHOR": ANCHOR,  # pending.sh: no git history here (None: find it with git)
        }
        env.update({name: value for name, value in extra.items() if value is not None})
        for name in [name for name, value in extra.items() if value is None]:
            env.pop(name, None)
        return env

    def run(self, script: str, *args: str, **env: str | None) -> subprocess.CompletedProcess[str]:
        return self.run_in(self.root, script, *args, **env)

    def run_in(
        self, cwd: Path, script: str, *args: str, **env: str | None
    ) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [str(SCRIPTS / script), *args],
            cwd=cwd,
            env=self.env(**env),
            capture_output=True,
            text=True,
            timeout=120,
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


def make_github(root: Path) -> GitHub:
    """An empty repository on a fresh fake GitHub, its ``gh`` in ``root/bin``."""
    for tool in ("bash", "jq"):
        assert shutil.which(tool), f"{tool} is required to test .github/scripts (see Makefile)"
    github = GitHub(root)
    github.bin.mkdir(parents=True)
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
        if call[:2]
        in (["issue", "edit"], ["issue", "create"], ["issue", "close"], ["pr", "create"])
        or (call[0] == "api" and "--method" in call)
    ]


def error_lines(stderr: str) -> list[str]:
    """The workflow commands that annotate the run as failed, one a line."""
    return [line for line in stderr.splitlines() if line.startswith("::error")]


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
def named_plan(name: str) -> str:
    """The lab's re-form as the comment of a cluster called ``name``."""
    (comment,) = render_markdown_comments(lab_seed_plan(renamed(lab_seed_cluster(), name)))
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
