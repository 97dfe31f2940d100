"""A stand-in for the GitHub CLI, for running .github/scripts/*.sh without GitHub.

Run as ``gh`` (the tests put a two-line wrapper first on PATH). Its state is a JSON file
named by ``$FAKE_GH_STATE``::

    {"repo": "OWNER/REPO", "next_number": 1, "next_comment_id": 1001,
     "issues": [{"number": 1, "title": "...", "state": "open", "body": "...",
                 "pull_request": false, "user": {"login": "...", "type": "Bot"},
                 "comments": [{"id": 1001, "body": "...",
                               "user": {"login": "...", "type": "User"}}]}],
     "approvals": {"RUN_ID": [{"state": "approved", "comment": "...",
                               "environments": [{"name": "..."}], "user": {"login": "..."}}]},
     "actions_can_create_pull_requests": true,
     "calls": [["api", "--paginate", ...], ...]}

Pull requests are ``issues`` entries with ``"pull_request": true`` and a ``"head"`` branch
(on GitHub they share the numbers and the comment endpoints). Every call is logged in
``calls``, even a refused one.

Whom the token authenticates: ``github-actions[bot]`` (the workflows' ``github.token``), or
``$FAKE_GH_LOGIN`` (a GitHub App's ``name[bot]``, a person's token). Everything created
through the fake (issues, pull requests, comments, the comment of ``issue close``) is
authored by that login, as on GitHub.

Only the invocations the scripts make are understood, with exactly their flags:

- ``gh api --paginate repos/R/issues/N/comments --jq EXPR``
- ``gh api --method PATCH repos/R/issues/comments/ID -F body=@FILE``
- ``gh api --method POST repos/R/issues/N/comments -F body=@FILE``
- ``gh api --paginate repos/R/issues?state=S&per_page=K --jq EXPR`` (both parameters
  optional; the REST listing: issues and pull requests, newest first, 30 a page unless
  ``per_page`` says otherwise, at most 100)
- ``gh api repos/R/pulls?state=open&head=OWNER:BRANCH --jq EXPR``
- ``gh api repos/R/actions/runs/ID/approvals --jq EXPR``
- ``gh api repos/R/commits/SHA/pulls --jq EXPR`` (the pull requests of ``commit_pulls[SHA]``)
- ``gh api --method POST repos/R/statuses/SHA --input FILE`` (a JSON body; kept in
  ``statuses[SHA]``, every one posted, as GitHub keeps them; a description over 140
  characters is refused, as GitHub refuses it)
- ``gh api --paginate repos/R/commits/SHA/statuses?per_page=K --jq EXPR`` (that commit's
  statuses, newest first, each with its ``creator``)
- ``gh issue edit N --repo R --body-file F``
- ``gh issue create --repo R --title T --body-file F``
- ``gh issue close N --repo R --comment C``
- ``gh pr create --repo R --head BRANCH --title T --body-file F``; with
  ``"actions_can_create_pull_requests": false`` in the state it fails for
  ``github-actions[bot]`` as GitHub does when an organisation or repository does not let
  GitHub Actions create pull requests (any other login still may).
- ``gh release create TAG FILE... --repo R --verify-tag --title T --notes-file F``: a release
  of a tag in ``tags`` (kept in ``releases``, each asset's name, size and sha256); a tag not
  there, a release the tag already has, or a file that cannot be read fails, as on GitHub.

Anything else exits 2 with the arguments on stderr, so a script that starts calling gh
differently fails its tests instead of passing against a fake that guesses. As the real gh:
no ``GH_TOKEN``, exit 4; a repository, number or run that does not exist, exit 1; ``--jq`` is
applied with the real ``jq -r`` (gh embeds gojq, which takes the same language), to each page
separately with ``--paginate``, each page's output written as soon as it is "fetched"; and a
write to a closed stdout kills the process with SIGPIPE, as it does a Go program.
"""

from __future__ import annotations

import hashlib
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
from urllib.parse import parse_qsl

PAGE_SIZE = 30  # GitHub's default per_page
MAX_PAGE_SIZE = 100  # GitHub's largest per_page; more is served as 100
PAGE_DELAY = 0.3  # seconds "fetching" each page after the first, as over the network
TOKEN_LOGIN = "github-actions[bot]"  # whom GH_TOKEN authenticates (the workflows' github.token)
LOGIN_VARIABLE = "FAKE_GH_LOGIN"  # another login for the token (an App's `name[bot]`)
ACTIONS_MAY_NOT_CREATE_PULL_REQUESTS = (
    "pull request create failed: GraphQL: GitHub Actions is not permitted to create or approve "
    "pull requests (createPullRequest)"
)

State = dict[str, Any]


class UnknownInvocation(Exception):
    """gh called in a way none of the scripts calls it."""


class GhError(Exception):
    """What gh would report and exit 1 for (not found, no such file, bad jq, refused)."""

    def __init__(self, message: str, *, prefixed: bool = True) -> None:
        super().__init__(message)
        self.prefixed = prefixed  # `gh: ...` (gh api), or the message alone (gh pr create)


def new_state(repo: str) -> State:
    return {
        "repo": repo,
        "next_number": 1,
        "next_comment_id": 1001,
        "issues": [],
        "approvals": {},
        "statuses": {},
        "commit_pulls": {},
        "actions_can_create_pull_requests": True,
        "tags": [],
        "releases": [],
        "calls": [],
    }


def load_state(path: Path) -> State:
    state: State = json.loads(path.read_text())
    return state


def save_state(path: Path, state: State) -> None:
    path.write_text(json.dumps(state, indent=2) + "\n")


def user(login: str) -> dict[str, str]:
    """A REST ``user`` object: bots' logins end in ``[bot]``."""
    return {"login": login, "type": "Bot" if login.endswith("[bot]") else "User"}


def acting_login() -> str:
    """Whom this invocation's token authenticates."""
    return os.environ.get(LOGIN_VARIABLE) or TOKEN_LOGIN


def add_issue(
    state: State,
    title: str,
    body: str = "",
    *,
    state_: str = "open",
    pull_request: bool = False,
    login: str = TOKEN_LOGIN,
    head: str | None = None,
) -> dict[str, Any]:
    """A new issue (or pull request, which takes the next number from the same sequence)."""
    issue: dict[str, Any] = {
        "number": state["next_number"],
        "title": title,
        "state": state_,
        "body": body,
        "pull_request": pull_request,
        "user": user(login),
        "comments": [],
    }
    if pull_request:
        issue["head"] = head or f"branch-{issue['number']}"
    state["next_number"] += 1
    state["issues"].append(issue)
    return issue


def add_comment(
    state: State, issue: dict[str, Any], body: str, login: str = TOKEN_LOGIN
) -> dict[str, Any]:
    comment = {"id": state["next_comment_id"], "body": body, "user": user(login)}
    state["next_comment_id"] += 1
    issue["comments"].append(comment)
    return comment


def add_approval(
    state: State,
    run_id: str,
    environments: list[str],
    *,
    approved: bool = True,
    login: str = "alice",
    comment: str = "",
) -> None:
    """One entry of a run's review history (a reviewer approving or rejecting environments)."""
    state["approvals"].setdefault(run_id, []).append(
        {
            "state": "approved" if approved else "rejected",
            "comment": comment,
            "environments": [
                {"id": index, "name": name} for index, name in enumerate(environments)
            ],
            "user": user(login),
        }
    )


def add_status(
    state: State,
    sha: str,
    context: str,
    state_: str,
    description: str = "",
    *,
    login: str = TOKEN_LOGIN,
    target_url: str | None = None,
) -> None:
    """A commit status someone posted (the newest of its context, until another is)."""
    status: dict[str, Any] = {"state": state_, "context": context, "description": description}
    if target_url is not None:
        status["target_url"] = target_url
    state["statuses"].setdefault(sha, []).append({**status, "creator": user(login)})


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


def query(text: str, allowed: set[str]) -> dict[str, str]:
    """A query string's parameters: each known and at most once, or the call is unknown."""
    try:
        pairs = parse_qsl(text, keep_blank_values=True, strict_parsing=bool(text))
    except ValueError:
        raise UnknownInvocation from None
    params = dict(pairs)
    if len(params) != len(pairs) or not set(params) <= allowed:
        raise UnknownInvocation
    return params


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


def check_api_repo(state: State, repo: str) -> None:
    if repo != state["repo"]:
        raise GhError("Not Found (HTTP 404)")


def issue_url(state: State, issue: dict[str, Any]) -> str:
    kind = "pull" if issue["pull_request"] else "issues"
    return f"https://github.com/{state['repo']}/{kind}/{issue['number']}"


def api_url(state: State, path: str) -> str:
    return f"https://api.github.com/repos/{state['repo']}/{path}"


def comment_json(state: State, issue: dict[str, Any], comment: dict[str, Any]) -> dict[str, Any]:
    return {
        "id": comment["id"],
        "body": comment["body"],
        "user": comment["user"],
        "html_url": f"{issue_url(state, issue)}#issuecomment-{comment['id']}",
        "issue_url": api_url(state, f"issues/{issue['number']}"),
    }


def issue_json(state: State, issue: dict[str, Any]) -> dict[str, Any]:
    """An issue as the REST API lists it; only a pull request has the ``pull_request`` key."""
    listed = {
        "number": issue["number"],
        "title": issue["title"],
        "state": issue["state"],
        "body": issue["body"],
        "user": issue["user"],
        "html_url": issue_url(state, issue),
        "url": api_url(state, f"issues/{issue['number']}"),
    }
    if issue["pull_request"]:
        listed["pull_request"] = {
            "url": api_url(state, f"pulls/{issue['number']}"),
            "html_url": issue_url(state, issue),
        }
    return listed


def pull_json(state: State, pull: dict[str, Any]) -> dict[str, Any]:
    owner = state["repo"].split("/")[0]
    return {
        "number": pull["number"],
        "title": pull["title"],
        "state": pull["state"],
        "body": pull["body"],
        "user": pull["user"],
        "html_url": issue_url(state, pull),
        "head": {"ref": pull["head"], "label": f"{owner}:{pull['head']}"},
    }


def write(text: str) -> None:
    sys.stdout.write(text)
    sys.stdout.flush()


def write_pages(listed: list[Any], size: int, jq: str) -> None:
    """``--paginate --jq``: each page filtered and written as it is "fetched"."""
    pages = [listed[start : start + size] for start in range(0, len(listed), size)]
    for index, page in enumerate(pages or [[]]):
        if index:
            time.sleep(PAGE_DELAY)
        write(run_jq(jq, page))


# --- gh api ------------------------------------------------------------------------------------
ENDPOINTS = {
    "comments": re.compile(r"repos/([^/?]+/[^/?]+)/issues/(\d+)/comments"),
    "comment": re.compile(r"repos/([^/?]+/[^/?]+)/issues/comments/(\d+)"),
    "issues": re.compile(r"repos/([^/?]+/[^/?]+)/issues(?:\?(.*))?"),
    "pulls": re.compile(r"repos/([^/?]+/[^/?]+)/pulls\?(.*)"),
    "approvals": re.compile(r"repos/([^/?]+/[^/?]+)/actions/runs/(\d+)/approvals"),
    "statuses": re.compile(r"repos/([^/?]+/[^/?]+)/statuses/([0-9a-f]{40})"),
    "commit_pulls": re.compile(r"repos/([^/?]+/[^/?]+)/commits/([0-9a-f]{40})/pulls"),
    "commit_statuses": re.compile(
        r"repos/([^/?]+/[^/?]+)/commits/([0-9a-f]{40})/statuses(?:\?(.*))?"
    ),
}
STATUS_DESCRIPTION_MAX = 140  # characters; GitHub answers 422 to a longer description
STATUS_STATES = ("error", "failure", "pending", "success")


def api(state: State, args: list[str]) -> str | None:
    """What to print once the changed state is saved; None if nothing changed."""
    flags, positional = parse(args, {"--jq", "--method", "-F", "--input"}, {"--paginate"})
    if len(positional) != 1:
        raise UnknownInvocation
    (endpoint,) = positional
    match = {kind: pattern.fullmatch(endpoint) for kind, pattern in ENDPOINTS.items()}
    if "--method" not in flags:
        read(state, flags, match)
        return None
    if (statuses := match["statuses"]) and set(flags) == {"--method", "--input"}:
        if flags["--method"] != "POST":
            raise UnknownInvocation
        return create_status(state, statuses[1], statuses[2], read_file(flags["--input"]))
    if set(flags) != {"--method", "-F"} or not flags["-F"].startswith("body=@"):
        raise UnknownInvocation
    body = read_file(flags["-F"].removeprefix("body=@"))
    method = flags["--method"]
    if (one := match["comment"]) and method == "PATCH":
        return edit_comment(state, one[1], one[2], body)
    if (comments := match["comments"]) and method == "POST":
        check_api_repo(state, comments[1])
        issue = find_issue(state, comments[2])
        comment = add_comment(state, issue, body, acting_login())
        return json.dumps(comment_json(state, issue, comment)) + "\n"
    raise UnknownInvocation


def read(state: State, flags: dict[str, Any], match: dict[str, re.Match[str] | None]) -> None:
    """The GET endpoints: each with exactly the flags the scripts give it."""
    paginated = set(flags) == {"--paginate", "--jq"}
    single = set(flags) == {"--jq"}
    if (comments := match["comments"]) and paginated:
        list_comments(state, comments[1], comments[2], flags["--jq"])
    elif (issues := match["issues"]) and paginated:
        list_issues(state, issues[1], issues[2] or "", flags["--jq"])
    elif (pulls := match["pulls"]) and single:
        list_pulls(state, pulls[1], pulls[2], flags["--jq"])
    elif (approvals := match["approvals"]) and single:
        list_approvals(state, approvals[1], approvals[2], flags["--jq"])
    elif (commit := match["commit_pulls"]) and single:
        check_api_repo(state, commit[1])
        numbers = state["commit_pulls"].get(commit[2], [])
        found = [find_issue(state, str(number)) for number in numbers]
        write(run_jq(flags["--jq"], [pull_json(state, pull) for pull in found]))
    elif (statuses := match["commit_statuses"]) and paginated:
        list_statuses(state, statuses[1], statuses[2], statuses[3] or "", flags["--jq"])
    else:
        raise UnknownInvocation


def list_statuses(state: State, repo: str, sha: str, text: str, jq: str) -> None:
    """A commit's statuses as GitHub lists them: newest first, every one posted."""
    params = query(text, {"per_page"})
    per_page = params.get("per_page", str(PAGE_SIZE))
    if not per_page.isdigit() or per_page == "0":
        raise UnknownInvocation
    check_api_repo(state, repo)
    listed = list(reversed(state["statuses"].get(sha, [])))
    write_pages(listed, min(int(per_page), MAX_PAGE_SIZE), jq)


def create_status(state: State, repo: str, sha: str, text: str) -> str:
    """POST a commit status: GitHub requires ``state`` and keeps every status posted."""
    check_api_repo(state, repo)
    try:
        body = json.loads(text)
    except ValueError:
        raise GhError("Problems parsing JSON (HTTP 400)") from None
    if not isinstance(body, dict) or body.get("state") not in STATUS_STATES:
        raise GhError("Validation Failed (HTTP 422)")
    allowed = {"state", "context", "description", "target_url"}
    if not set(body) <= allowed:
        raise UnknownInvocation
    if len(str(body.get("description", ""))) > STATUS_DESCRIPTION_MAX:
        raise GhError("Validation Failed (HTTP 422): description is too long (maximum is 140)")
    status = {**body, "creator": user(acting_login())}
    state["statuses"].setdefault(sha, []).append(status)
    return json.dumps(status) + "\n"


def list_comments(state: State, repo: str, number: str, jq: str) -> None:
    check_api_repo(state, repo)
    issue = find_issue(state, number)
    listed = [comment_json(state, issue, comment) for comment in issue["comments"]]
    write_pages(listed, PAGE_SIZE, jq)


def list_issues(state: State, repo: str, text: str, jq: str) -> None:
    """GitHub's default order (sort=created, direction=desc): newest first."""
    params = query(text, {"state", "per_page"})
    wanted = params.get("state", "open")
    per_page = params.get("per_page", str(PAGE_SIZE))
    if wanted not in ("open", "closed", "all") or not per_page.isdigit() or per_page == "0":
        raise UnknownInvocation
    size = min(int(per_page), MAX_PAGE_SIZE)
    check_api_repo(state, repo)
    listed = [
        issue_json(state, issue)
        for issue in sorted(state["issues"], key=lambda issue: -issue["number"])
        if wanted in ("all", issue["state"])
    ]
    write_pages(listed, size, jq)


def list_pulls(state: State, repo: str, text: str, jq: str) -> None:
    """Open pull requests from one branch of one owner (``head=OWNER:BRANCH``, as GitHub
    needs it: without the owner, GitHub ignores the filter)."""
    params = query(text, {"state", "head"})
    if params.get("state") != "open" or ":" not in params.get("head", ""):
        raise UnknownInvocation
    owner, branch = params["head"].split(":", 1)
    check_api_repo(state, repo)
    listed = [
        pull_json(state, pull)
        for pull in sorted(state["issues"], key=lambda issue: -issue["number"])
        if pull["pull_request"]
        and pull["state"] == "open"
        and pull["head"] == branch
        and owner == state["repo"].split("/")[0]
    ]
    write(run_jq(jq, listed))


def list_approvals(state: State, repo: str, run_id: str, jq: str) -> None:
    check_api_repo(state, repo)
    if run_id not in state["approvals"]:
        raise GhError("Not Found (HTTP 404)")
    write(run_jq(jq, state["approvals"][run_id]))


def edit_comment(state: State, repo: str, comment_id: str, body: str) -> str:
    """PATCH a comment by id, in whichever issue or pull request it is."""
    check_api_repo(state, repo)
    for issue in state["issues"]:
        for comment in issue["comments"]:
            if str(comment["id"]) == comment_id:
                comment["body"] = body
                return json.dumps(comment_json(state, issue, comment)) + "\n"
    raise GhError("Not Found (HTTP 404)")


# --- gh issue ----------------------------------------------------------------------------------
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
    body = read_file(flags["--body-file"])
    issue = add_issue(state, flags["--title"], body, login=acting_login())
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
    add_comment(state, issue, flags["--comment"], acting_login())
    issue["state"] = "closed"
    print(f"✓ Closed issue #{issue['number']} ({issue['title']})", file=sys.stderr)
    return ""


def pr_create(state: State, args: list[str]) -> str | None:
    flags, positional = parse(args, {"--repo", "--head", "--title", "--body-file"}, set())
    if positional or set(flags) != {"--repo", "--head", "--title", "--body-file"}:
        raise UnknownInvocation
    check_repo(state, flags["--repo"])
    body = read_file(flags["--body-file"])
    login = acting_login()
    if login == TOKEN_LOGIN and not state["actions_can_create_pull_requests"]:
        raise GhError(ACTIONS_MAY_NOT_CREATE_PULL_REQUESTS, prefixed=False)
    pull = add_issue(
        state, flags["--title"], body, pull_request=True, login=login, head=flags["--head"]
    )
    return issue_url(state, pull) + "\n"


# --- gh release --------------------------------------------------------------------------------
def release_create(state: State, args: list[str]) -> str | None:
    flags, positional = parse(args, {"--repo", "--title", "--notes-file"}, {"--verify-tag"})
    if len(positional) < 2 or set(flags) != {"--repo", "--title", "--notes-file", "--verify-tag"}:
        raise UnknownInvocation
    check_repo(state, flags["--repo"])
    tag, files = positional[0], positional[1:]
    if tag not in state.setdefault("tags", []):
        raise GhError(
            f"tag {tag} doesn't exist in the repo {state['repo']}, "
            "aborting due to --verify-tag flag",
            prefixed=False,
        )
    releases: list[dict[str, Any]] = state.setdefault("releases", [])
    if any(release["tag"] == tag for release in releases):
        raise GhError(f"a release with the same tag name already exists: {tag}", prefixed=False)
    notes = read_file(flags["--notes-file"])
    assets = []
    for name in files:
        try:
            data = Path(name).read_bytes()
        except OSError as error:
            raise GhError(f"open {name}: {(error.strerror or str(error)).lower()}") from None
        digest = hashlib.sha256(data).hexdigest()
        assets.append({"name": Path(name).name, "size": len(data), "sha256": digest})
    releases.append({"tag": tag, "title": flags["--title"], "notes": notes, "assets": assets})
    return f"https://github.com/{state['repo']}/releases/tag/{tag}\n"


COMMANDS = {
    ("api",): api,
    ("issue", "edit"): issue_edit,
    ("issue", "create"): issue_create,
    ("issue", "close"): issue_close,
    ("pr", "create"): pr_create,
    ("release", "create"): release_create,
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
        print(f"gh: {error}" if error.prefixed else str(error), file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
