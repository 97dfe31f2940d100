"""A stand-in for the GitHub CLI, for running .github/scripts/*.sh without GitHub.

Run as ``gh`` (the tests put a two-line wrapper first on PATH). Its state is a JSON file
named by ``$FAKE_GH_STATE``::

    {"repo": "OWNER/REPO", "next_number": 1, "next_comment_id": 1001,
     "issues": [{"number": 1, "title": "...", "state": "open", "body": "...",
                 "pull_request": false, "comments": [{"id": 1001, "body": "...",
                                                      "user": {"login": "..."}}]}],
     "calls": [["api", "--paginate", ...], ...]}

Pull requests are ``issues`` entries with ``"pull_request": true`` (on GitHub they share
the numbers and the comment endpoints). Every call is logged in ``calls``, even a refused one.

Only the invocations the scripts make are understood, with exactly their flags:

- ``gh api --paginate repos/R/issues/N/comments --jq EXPR``
- ``gh api --method PATCH repos/R/issues/comments/ID -F body=@FILE``
- ``gh api --method POST repos/R/issues/N/comments -F body=@FILE``
- ``gh issue list --repo R --state open --search S --json number,title --jq EXPR``
- ``gh issue edit N --repo R --body-file F``
- ``gh issue create --repo R --title T --body-file F``
- ``gh issue close N --repo R --comment C``
- ``gh pr create --repo R --head BRANCH --title T --body-file F``

Anything else exits 2 with the arguments on stderr, so a script that starts calling gh
differently fails its tests instead of passing against a fake that guesses. As the real gh:
no ``GH_TOKEN``, exit 4; a repository or number that does not exist, exit 1; ``--jq`` is
applied with the real ``jq -r`` (gh embeds gojq, which takes the same language), to each page
separately with ``--paginate``, each page's output written as soon as it is "fetched"; and a
write to a closed stdout kills the process with SIGPIPE, as it does a Go program.

``gh issue list --search`` answers with every issue in the asked state, newest first: GitHub's
search is word-based and fuzzy, so this is the loosest answer it could give, and the script's
own exact check of the title is what gets tested.
"""

from __future__ import annotations

import json
import os
import re
import shlex
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

PAGE_SIZE = 30  # GitHub's default per_page
PAGE_DELAY = 0.3  # seconds "fetching" each page after the first, as over the network
LIST_LIMIT = 30  # gh issue list's default --limit
TOKEN_LOGIN = "github-actions[bot]"  # whom GH_TOKEN authenticates (the workflows' github.token)
ISSUE_FIELDS = ("number", "title", "state", "body", "url")

State = dict[str, Any]


class UnknownInvocation(Exception):
    """gh called in a way none of the scripts calls it."""


class GhError(Exception):
    """What gh would report and exit 1 for (not found, no such file, bad jq)."""


def new_state(repo: str) -> State:
    return {"repo": repo, "next_number": 1, "next_comment_id": 1001, "issues": [], "calls": []}


def load_state(path: Path) -> State:
    state: State = json.loads(path.read_text())
    return state


def save_state(path: Path, state: State) -> None:
    path.write_text(json.dumps(state, indent=2) + "\n")


def add_issue(
    state: State, title: str, body: str = "", *, state_: str = "open", pull_request: bool = False
) -> dict[str, Any]:
    """A new issue (or pull request, which takes the next number from the same sequence)."""
    issue = {
        "number": state["next_number"],
        "title": title,
        "state": state_,
        "body": body,
        "pull_request": pull_request,
        "comments": [],
    }
    state["next_number"] += 1
    state["issues"].append(issue)
    return issue


def add_comment(
    state: State, issue: dict[str, Any], body: str, login: str = TOKEN_LOGIN
) -> dict[str, Any]:
    comment = {"id": state["next_comment_id"], "body": body, "user": {"login": login}}
    state["next_comment_id"] += 1
    issue["comments"].append(comment)
    return comment


# --- the command line --------------------------------------------------------------------------
def parse(
    args: list[str], value_flags: set[str], bool_flags: set[str]
) -> tuple[dict[str, Any], list[str]]:
    """Flags (each at most once, ``--flag value`` form only) and positional arguments."""
    flags: dict[str, Any] = {}
    positional: list[str] = []
    rest = list(args)
    while rest:
        arg = rest.pop(0)
        if arg in value_flags and rest and arg not in flags:
            flags[arg] = rest.pop(0)
        elif arg in bool_flags and arg not in flags:
            flags[arg] = True
        elif arg.startswith("-"):
            raise UnknownInvocation
        else:
            positional.append(arg)
    return flags, positional


def run_jq(expression: str, data: Any) -> str:
    result = subprocess.run(
        ["jq", "-r", expression], input=json.dumps(data), capture_output=True, text=True
    )
    if result.returncode != 0:
        raise GhError(result.stderr.strip() or f"jq failed on {expression!r}")
    return result.stdout


def read_file(name: str) -> str:
    try:
        return Path(name).read_bytes().decode()  # as is: no newline translation
    except OSError as error:
        reason = error.strerror or str(error)
        raise GhError(f"open {name}: {reason.lower()}") from None


def find_issue(state: State, number: str, *, pull_requests: bool = True) -> dict[str, Any]:
    issues: list[dict[str, Any]] = state["issues"]
    for issue in issues:
        if str(issue["number"]) == number and (pull_requests or not issue["pull_request"]):
            return issue
    raise GhError(
        f"GraphQL: Could not resolve to an issue or pull request with the number of {number}."
    )


def check_repo(state: State, repo: str) -> None:
    if repo != state["repo"]:
        raise GhError(f"GraphQL: Could not resolve to a Repository with the name '{repo}'.")


def issue_url(state: State, issue: dict[str, Any]) -> str:
    kind = "pull" if issue["pull_request"] else "issues"
    return f"https://github.com/{state['repo']}/{kind}/{issue['number']}"


def comment_json(state: State, issue: dict[str, Any], comment: dict[str, Any]) -> dict[str, Any]:
    return {
        "id": comment["id"],
        "body": comment["body"],
        "user": comment["user"],
        "html_url": f"{issue_url(state, issue)}#issuecomment-{comment['id']}",
        "issue_url": f"https://api.github.com/repos/{state['repo']}/issues/{issue['number']}",
    }


def write(text: str) -> None:
    sys.stdout.write(text)
    sys.stdout.flush()


# --- gh api ------------------------------------------------------------------------------------
def api(state: State, args: list[str]) -> str | None:
    """What to print once the changed state is saved; None if nothing changed."""
    flags, positional = parse(args, {"--jq", "--method", "-F"}, {"--paginate"})
    if len(positional) != 1:
        raise UnknownInvocation
    (endpoint,) = positional
    comments = re.fullmatch(r"repos/([^/]+/[^/]+)/issues/(\d+)/comments", endpoint)
    one_comment = re.fullmatch(r"repos/([^/]+/[^/]+)/issues/comments/(\d+)", endpoint)
    method = flags.get("--method")
    if comments and method is None and set(flags) == {"--paginate", "--jq"}:
        list_comments(state, comments[1], comments[2], flags["--jq"])
        return None
    if set(flags) != {"--method", "-F"} or not flags["-F"].startswith("body=@"):
        raise UnknownInvocation
    body = read_file(flags["-F"].removeprefix("body=@"))
    if one_comment and method == "PATCH":
        return edit_comment(state, one_comment[1], one_comment[2], body)
    if comments and method == "POST":
        check_repo(state, comments[1])
        issue = find_issue(state, comments[2])
        comment = add_comment(state, issue, body)
        return json.dumps(comment_json(state, issue, comment)) + "\n"
    raise UnknownInvocation


def list_comments(state: State, repo: str, number: str, jq: str) -> None:
    """``--paginate --jq``: each page filtered and written as it is "fetched"."""
    check_repo(state, repo)
    issue = find_issue(state, number)
    listed = [comment_json(state, issue, comment) for comment in issue["comments"]]
    pages = [listed[start : start + PAGE_SIZE] for start in range(0, len(listed), PAGE_SIZE)]
    for index, page in enumerate(pages or [[]]):
        if index:
            time.sleep(PAGE_DELAY)
        write(run_jq(jq, page))


def edit_comment(state: State, repo: str, comment_id: str, body: str) -> str:
    """PATCH a comment by id, in whichever issue or pull request it is."""
    check_repo(state, repo)
    for issue in state["issues"]:
        for comment in issue["comments"]:
            if str(comment["id"]) == comment_id:
                comment["body"] = body
                return json.dumps(comment_json(state, issue, comment)) + "\n"
    raise GhError("Not Found (HTTP 404)")


# --- gh issue ----------------------------------------------------------------------------------
def issue_list(state: State, args: list[str]) -> str | None:
    flags, positional = parse(args, {"--repo", "--state", "--search", "--json", "--jq"}, set())
    if positional or set(flags) != {"--repo", "--state", "--search", "--json", "--jq"}:
        raise UnknownInvocation
    if flags["--state"] != "open" or flags["--json"] != "number,title":
        raise UnknownInvocation
    check_repo(state, flags["--repo"])
    fields = flags["--json"].split(",")
    found = [
        {field: issue[field] for field in fields}
        for issue in sorted(state["issues"], key=lambda issue: -issue["number"])
        if not issue["pull_request"] and issue["state"] == flags["--state"]
    ][:LIST_LIMIT]
    write(run_jq(flags["--jq"], found))
    return None


def issue_edit(state: State, args: list[str]) -> str | None:
    flags, positional = parse(args, {"--repo", "--body-file"}, set())
    if len(positional) != 1 or set(flags) != {"--repo", "--body-file"}:
        raise UnknownInvocation
    check_repo(state, flags["--repo"])
    issue = find_issue(state, positional[0])
    issue["body"] = read_file(flags["--body-file"])
    return issue_url(state, issue) + "\n"


def issue_create(state: State, args: list[str]) -> str | None:
    flags, positional = parse(args, {"--repo", "--title", "--body-file"}, set())
    if positional or set(flags) != {"--repo", "--title", "--body-file"}:
        raise UnknownInvocation
    check_repo(state, flags["--repo"])
    issue = add_issue(state, flags["--title"], read_file(flags["--body-file"]))
    return issue_url(state, issue) + "\n"


def issue_close(state: State, args: list[str]) -> str | None:
    flags, positional = parse(args, {"--repo", "--comment"}, set())
    if len(positional) != 1 or set(flags) != {"--repo", "--comment"}:
        raise UnknownInvocation
    check_repo(state, flags["--repo"])
    issue = find_issue(state, positional[0], pull_requests=False)
    if issue["state"] == "closed":
        print(f"! Issue #{issue['number']} ({issue['title']}) is already closed", file=sys.stderr)
        return None
    add_comment(state, issue, flags["--comment"])
    issue["state"] = "closed"
    print(f"✓ Closed issue #{issue['number']} ({issue['title']})", file=sys.stderr)
    return ""


def pr_create(state: State, args: list[str]) -> str | None:
    flags, positional = parse(args, {"--repo", "--head", "--title", "--body-file"}, set())
    if positional or set(flags) != {"--repo", "--head", "--title", "--body-file"}:
        raise UnknownInvocation
    check_repo(state, flags["--repo"])
    pull = add_issue(state, flags["--title"], read_file(flags["--body-file"]), pull_request=True)
    pull["head"] = flags["--head"]
    return issue_url(state, pull) + "\n"


COMMANDS = {
    ("api",): api,
    ("issue", "list"): issue_list,
    ("issue", "edit"): issue_edit,
    ("issue", "create"): issue_create,
    ("issue", "close"): issue_close,
    ("pr", "create"): pr_create,
}


def main(argv: list[str]) -> int:
    signal.signal(signal.SIGPIPE, signal.SIG_DFL)  # die on a closed stdout, as gh (Go) does
    name = os.environ.get("FAKE_GH_STATE")
    if not name:
        print("fake gh: FAKE_GH_STATE is not set", file=sys.stderr)
        return 2
    path = Path(name)
    state = load_state(path)
    state["calls"].append(argv)
    save_state(path, state)
    if not os.environ.get("GH_TOKEN"):
        print(
            "gh: To use GitHub CLI in a GitHub Actions workflow, set the GH_TOKEN environment "
            "variable.",
            file=sys.stderr,
        )
        return 4
    command = next((COMMANDS[key] for key in COMMANDS if tuple(argv[: len(key)]) == key), None)
    try:
        if command is None:
            raise UnknownInvocation
        args = argv[1:] if argv[0] == "api" else argv[2:]
        printed = command(state, args)
        if printed is not None:
            save_state(path, state)
            write(printed)
    except UnknownInvocation:
        print(f"fake gh: unknown invocation: gh {shlex.join(argv)}", file=sys.stderr)
        return 2
    except GhError as error:
        print(f"gh: {error}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
