"""The expiry workflow's glue, .github/scripts/certs-{prepare,sign,install,publish}.sh, run for
real: each by path, in a git checkout whose ``origin`` is a local bare repository, with the
stateful fake ``gh`` first on PATH and a stand-in ``reconcile`` that answers as the real one
does (its exit codes and the files it writes) and records how it was called, so the scripts'
own decisions are what is tested. One test runs the real ``reconcile`` for everything but the
check (which would contact nodes): csr, sign, install, and validate on the published branch.

The flow, one OUT folder per cluster: prepare (self-hosted runner: check, and keys and CSRs
when a renewal is due and none is under way), sign (GitHub's runner, environment cms-ca: the
CA signs the CSRs), install (GitHub's runner, the cluster's environment: the bundle as a
patch), publish (a pull request, an issue, or nothing).
"""

from __future__ import annotations

import json
import os
import shlex
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives import serialization

from tests.unit.desired.labrepo import ENV, fresh_repo, good_files
from tests.unit.desired.pki import build_pki, cert_pem
from tests.workflows import fake_gh
from tests.workflows.support import APP_BOT, BOT, REPOSITORY, GitHub, error_lines, make_github

BRANCH = "cms-reconciler/certs-t"
ISSUE_TITLE = "cms-reconciler: the certificates of cluster t need renewal"
OWNER = REPOSITORY.split("/")[0]
ACTIONS_REFUSAL = fake_gh.ACTIONS_MAY_NOT_CREATE_PULL_REQUESTS
HOW_TO_OPEN = (
    f"open the pull request by hand from branch {BRANCH}, or let GitHub Actions create pull "
    "requests (Settings > Actions > General > Workflow permissions, 'Allow GitHub Actions to "
    "create and approve pull requests'; an organisation may have to allow it first) or set the "
    "secret CMS_RECONCILER_PR_TOKEN"
)
CHECK_TEXT = "t: 2 certificates due for renewal, first expiry 2027-01-15 00:00 UTC\n"

# The stand-in `reconcile`: logs its arguments, then acts like the real command would. With
# REAL_RECONCILE set, everything but `certs check` (which would contact the nodes) is the real
# command (`certs csr` with 2048-bit keys, for speed).
FAKE_RECONCILE = """
import json, os, pathlib, shlex, shutil, stat, sys

args = sys.argv[1:]
with open(os.environ["RECONCILE_LOG"], "a") as log:
    log.write(shlex.join(args) + "\\n")


def option(name):
    return args[args.index(name) + 1] if name in args else None


def check_json():
    days = int(os.environ.get("CHECK_DAYS", "20"))
    entry = {"node": "desired", "source": "git", "role": "server_cert"}
    return {
        "exit_code": 1,
        "certificates": [
            {**entry, "cluster": "t", "days_left": 300, "renewal_due": False, "expired": False},
            {**entry, "cluster": "t", "days_left": days, "renewal_due": True, "expired": days < 0},
            {**entry, "cluster": "t", "days_left": days + 5, "renewal_due": True, "expired": False},
            {**entry, "cluster": "t", "days_left": None, "renewal_due": True, "expired": False},
            {**entry, "cluster": "t2", "days_left": -9, "renewal_due": True, "expired": True},
        ],
    }


command = " ".join(args[:2])
real = os.environ.get("REAL_RECONCILE")
if real and command != "certs check":
    extra = ["--key-size", "2048"] if command == "certs csr" else []
    os.execv(real, [real, *args, *extra])
if command == "certs check":
    code = int(os.environ.get("CHECK_EXIT", "0"))
    if code == 9:
        sys.exit("error: no cluster")
    out = pathlib.Path(option("--out"))
    if option("--format") == "json":
        out.write_text(json.dumps(check_json()))
    else:
        out.write_text("t: 2 certificates due for renewal, first expiry 2027-01-15 00:00 UTC\\n")
    sys.exit(code)
elif command == "certs csr":
    folder = pathlib.Path("certs/t/csr")
    folder.mkdir(parents=True)
    for side in ("server", "client"):
        (folder / f"{side}.key").write_text("-----BEGIN ENCRYPTED PRIVATE KEY-----\\n")
        (folder / f"{side}.csr").write_text(f"-----BEGIN CERTIFICATE REQUEST----- {side}\\n")
    print("Wrote new private keys and certificate signing requests")
elif command == "certs sign":
    seen = {}
    for name in ("--ca-key", "--ca-cert"):
        path = pathlib.Path(option(name))
        seen[name] = {"mode": stat.S_IMODE(path.stat().st_mode), "text": path.read_text()}
    variable = option("--ca-key-passphrase-env")
    seen["passphrase"] = os.environ.get(variable) if variable else None
    seen["csrs"] = sorted(p.name for p in pathlib.Path(option("--csr-dir")).glob("*.csr"))
    pathlib.Path(os.environ["RECONCILE_LOG"] + ".sign.json").write_text(json.dumps(seen))
    if os.environ.get("SIGN_EXIT"):
        sys.exit("error: the CA key does not open")
    out = pathlib.Path(option("--out"))
    for name in ("server.cer", "client.cer", "ca.cer"):
        (out / name).write_text(f"signed {name}\\n")
    print("Signed server.cer and client.cer")
elif command == "certs install":
    assert pathlib.Path("certs/t/csr/server.key").exists(), "install without the keys of csr"
    shutil.rmtree("certs/t/csr")
    pathlib.Path("certs/t/server.cer").write_text(pathlib.Path(option("--server-cert")).read_text())
    print("Installed the new bundle of cluster t")
else:
    sys.exit(2)
"""


@dataclass
class Site:
    """The repository on the fake GitHub, its origin, the runner's checkout and folders."""

    github: GitHub
    checkout: Path
    origin: Path
    out: Path
    signed: Path

    @property
    def root(self) -> Path:
        return self.github.root

    def env(self, **extra: str | None) -> dict[str, str | None]:
        return {
            "RECONCILE_LOG": str(self.root / "reconcile.log"),
            "GIT_AUTHOR_NAME": "t",
            "GIT_AUTHOR_EMAIL": "t@example.org",
            "GIT_COMMITTER_NAME": "t",
            "GIT_COMMITTER_EMAIL": "t@example.org",
            **extra,
        }

    def prepare(self, **env: str | None) -> subprocess.CompletedProcess[str]:
        env.setdefault("UNDER_WAY", "false")
        return self.github.run_in(
            self.checkout, "certs-prepare.sh", "t", str(self.out), **self.env(**env)
        )

    def sign(self, **env: str | None) -> subprocess.CompletedProcess[str]:
        ca = {"CA_KEY": "CA KEY PEM", "CA_CERT": "CA CERT PEM", **env}
        return self.github.run_in(
            self.root, "certs-sign.sh", str(self.out), str(self.signed), **self.env(**ca)
        )

    def install(self, **env: str | None) -> subprocess.CompletedProcess[str]:
        return self.github.run_in(
            self.checkout,
            "certs-install.sh",
            "t",
            str(self.out),
            str(self.signed),
            **self.env(**env),
        )

    def publish(self, **env: str | None) -> subprocess.CompletedProcess[str]:
        return self.github.run_in(
            self.checkout, "certs-publish.sh", "t", str(self.out), **self.env(**env)
        )

    def git(self, *args: str, cwd: Path | None = None) -> str:
        environment = {**os.environ, **{k: v for k, v in self.env().items() if v is not None}}
        return subprocess.run(
            ["git", *args],
            cwd=cwd or self.checkout,
            env=environment,
            capture_output=True,
            text=True,
            check=True,
        ).stdout

    def branches(self) -> list[str]:
        listed = self.git("ls-remote", "--heads", "origin")
        return [line.split("refs/heads/")[1] for line in listed.splitlines()]

    def show(self, branch: str, path: str) -> str:
        self.git("fetch", "--quiet", "origin")
        return self.git("show", f"origin/{branch}:{path}")

    def reconcile_calls(self) -> list[str]:
        log = self.root / "reconcile.log"
        return log.read_text().splitlines() if log.exists() else []

    def signed_with(self) -> dict[str, Any]:
        seen: dict[str, Any] = json.loads((self.root / "reconcile.log.sign.json").read_text())
        return seen

    def fresh_checkout(self) -> None:
        """Each job of each run starts from a clean checkout of main."""
        self.git("switch", "--quiet", "--force", "main")
        self.git("reset", "--quiet", "--hard", "origin/main")
        self.git("clean", "--quiet", "-fdx")
        if BRANCH in self.git("branch"):
            self.git("branch", "--quiet", "-D", BRANCH)

    def new_run(self) -> None:
        """The next day: fresh folders, a fresh checkout."""
        for folder in (self.out, self.signed):
            shutil.rmtree(folder, ignore_errors=True)
        self.fresh_checkout()

    def under_way(self) -> str:
        """What the workflow computes for UNDER_WAY."""
        return "true" if BRANCH in self.branches() else "false"

    def issues(self) -> list[dict[str, Any]]:
        return self.github.issues()


def make_site(root: Path, files: dict[str, bytes] | None = None) -> Site:
    github = make_github(root)
    assert shutil.which("git"), "git is required to test .github/scripts (see Makefile)"
    reconcile = github.bin / "reconcile"
    reconcile.write_text(f"#!{sys.executable}\n{FAKE_RECONCILE}")
    reconcile.chmod(0o755)
    site = Site(github, root / "checkout", root / "origin.git", root / "out", root / "signed")
    site.git("init", "--quiet", "--bare", "--initial-branch=main", str(site.origin), cwd=root)
    site.git("clone", "--quiet", str(site.origin), str(site.checkout), cwd=root)
    for path, data in (files or {"certs/t/server.cer": b"old server certificate\n"}).items():
        target = site.checkout / path
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(data)
    site.git("add", "-A")
    site.git("commit", "--quiet", "-m", "lab")
    site.git("push", "--quiet", "origin", "HEAD:main")
    return site


@pytest.fixture
def site(tmp_path: Path) -> Site:
    return make_site(tmp_path)


def renew(site: Site, **env: str | None) -> subprocess.CompletedProcess[str]:
    """One whole run for cluster t with a CA: prepare, sign, install, publish, each job in a
    fresh checkout as on GitHub."""
    site.new_run()
    prepared = site.prepare(CHECK_EXIT="1", UNDER_WAY=site.under_way())
    assert prepared.returncode == 0, prepared.stderr
    signed = site.sign()
    assert signed.returncode == 0, signed.stderr
    site.fresh_checkout()
    installed = site.install()
    assert installed.returncode == 0, installed.stderr
    site.fresh_checkout()
    return site.publish(**env)


def without_ca(site: Site, check: str = "1", **env: str | None) -> subprocess.CompletedProcess[str]:
    """One whole run for cluster t without a CA: prepare, then publish."""
    site.new_run()
    prepared = site.prepare(CHECK_EXIT=check, UNDER_WAY=site.under_way())
    assert prepared.returncode == 0, prepared.stderr
    site.fresh_checkout()
    return site.publish(**env)


# --- certs-prepare.sh --------------------------------------------------------------------------
def test_prepare_with_nothing_due_writes_the_verdict_only(site: Site) -> None:
    result = site.prepare(CHECK_EXIT="0")
    assert result.returncode == 0, result.stderr
    assert site.reconcile_calls() == [
        f"certs check --cluster t --out {site.out}/check.txt",
        f"certs check --cluster t --format json --out {site.out}/check.json",
    ]
    assert sorted(p.name for p in site.out.iterdir()) == ["check.json", "check.txt", "exit-code"]
    assert (site.out / "exit-code").read_text() == "0\n"


def test_prepare_with_a_renewal_due_makes_keys_and_csrs_as_a_patch(site: Site) -> None:
    site.git("remote", "remove", "origin")  # it asks no remote: UNDER_WAY says it all
    result = site.prepare(CHECK_EXIT="1")
    assert result.returncode == 0, result.stderr
    assert site.reconcile_calls()[2:] == ["certs csr --cluster t"]
    assert not any(call.startswith("certs issue") for call in site.reconcile_calls())
    assert (site.out / "action").read_text() == "csr\n"
    assert (site.out / "exit-code").read_text() == "1\n"
    assert "Wrote new private keys" in (site.out / "renewal.txt").read_text()
    assert (site.out / "server.csr").read_text().endswith("server\n")
    assert (site.out / "client.csr").read_text().endswith("client\n")
    site.git("reset", "--quiet", "--hard")
    site.git("clean", "--quiet", "-fd")
    site.git("apply", "--index", str(site.out / "csr.patch"))
    assert site.git("diff", "--cached", "--name-only").split() == [
        "certs/t/csr/client.csr",
        "certs/t/csr/client.key",
        "certs/t/csr/server.csr",
        "certs/t/csr/server.key",
    ]


def test_prepare_with_a_renewal_under_way_makes_nothing(site: Site) -> None:
    result = site.prepare(CHECK_EXIT="1", UNDER_WAY="true")
    assert result.returncode == 0, result.stderr
    assert len(site.reconcile_calls()) == 2  # the checks only
    assert (site.out / "action").read_text() == "under-way\n"
    assert not (site.checkout / "certs" / "t" / "csr").exists()


@pytest.mark.parametrize("under_way", [None, "", "yes", "1"])
def test_prepare_needs_to_be_told_whether_a_renewal_is_under_way(
    site: Site, under_way: str | None
) -> None:
    result = site.prepare(CHECK_EXIT="1", UNDER_WAY=under_way)
    assert result.returncode == 1
    (line,) = error_lines(result.stderr)
    assert line.startswith("::error::UNDER_WAY must be true or false")
    assert site.reconcile_calls() == []


def test_prepare_refuses_an_out_folder_inside_the_checkout(site: Site) -> None:
    site.out = site.checkout / "out"
    result = site.prepare(CHECK_EXIT="1")
    assert result.returncode == 1
    (line,) = error_lines(result.stderr)
    assert "is inside the checkout" in line
    assert site.reconcile_calls() == []


# --- certs-sign.sh -----------------------------------------------------------------------------
def prepared(site: Site) -> None:
    result = site.prepare(CHECK_EXIT="1")
    assert result.returncode == 0, result.stderr


@pytest.mark.parametrize("passphrase", ["ca secret", None], ids=["passphrase", "no-passphrase"])
def test_sign_gives_the_ca_to_reconcile_in_private_files_it_then_removes(
    site: Site, passphrase: str | None
) -> None:
    prepared(site)
    result = site.sign(CA_KEY_PASSPHRASE=passphrase)
    assert result.returncode == 0, result.stderr
    call = shlex.split(site.reconcile_calls()[-1])
    key, cert = call[call.index("--ca-key") + 1], call[call.index("--ca-cert") + 1]
    expected = ["certs", "sign", "--csr-dir", str(site.out), "--ca-cert", cert, "--ca-key", key]
    if passphrase:
        expected += ["--ca-key-passphrase-env", "CA_KEY_PASSPHRASE"]
    assert call == [*expected, "--out", str(site.signed)]
    assert site.signed_with() == {
        "--ca-key": {"mode": 0o600, "text": "CA KEY PEM\n"},
        "--ca-cert": {"mode": 0o600, "text": "CA CERT PEM\n"},
        "passphrase": passphrase,
        "csrs": ["client.csr", "server.csr"],
    }
    assert not Path(key).exists()
    assert not Path(cert).exists()
    assert sorted(p.name for p in site.signed.iterdir()) == ["ca.cer", "client.cer", "server.cer"]


def test_a_refused_signature_fails_and_still_removes_the_key(site: Site) -> None:
    prepared(site)
    result = site.sign(SIGN_EXIT="1")
    assert result.returncode == 1
    assert "the CA key does not open" in result.stderr
    call = shlex.split(site.reconcile_calls()[-1])
    assert not Path(call[call.index("--ca-key") + 1]).exists()


@pytest.mark.parametrize("missing", ["CA_KEY", "CA_CERT"])
def test_sign_without_the_ca_fails_before_reconcile(site: Site, missing: str) -> None:
    prepared(site)
    calls = len(site.reconcile_calls())
    result = site.sign(**{missing: ""})
    assert result.returncode == 1
    (line,) = error_lines(result.stderr)
    assert line.startswith(f"::error::{missing} (")
    assert len(site.reconcile_calls()) == calls


@pytest.mark.parametrize("check", ["0", "3"])
def test_sign_and_install_have_nothing_to_do_without_csrs(site: Site, check: str) -> None:
    assert site.prepare(CHECK_EXIT=check).returncode == 0
    for result in (site.sign(), site.install()):
        assert result.returncode == 0, result.stderr
        assert result.stdout.startswith("nothing to ")
    assert site.reconcile_calls()[2:] == []
    assert not site.signed.exists()


# --- certs-install.sh --------------------------------------------------------------------------
def test_install_turns_the_signed_certificates_into_the_bundle_patch(site: Site) -> None:
    prepared(site)
    assert site.sign().returncode == 0
    site.fresh_checkout()
    result = site.install()
    assert result.returncode == 0, result.stderr
    assert site.reconcile_calls()[-1] == (
        f"certs install --cluster t --server-cert {site.signed}/server.cer "
        f"--client-cert {site.signed}/client.cer --ca-cert {site.signed}/ca.cer"
    )
    assert (site.out / "action").read_text() == "issue\n"
    renewal = (site.out / "renewal.txt").read_text()
    assert "Wrote new private keys" in renewal
    assert "Installed the new bundle of cluster t" in renewal
    site.fresh_checkout()
    site.git("apply", "--index", str(site.out / "renewal.patch"))
    assert site.git("diff", "--cached", "--name-only").split() == ["certs/t/server.cer"]
    assert (site.checkout / "certs/t/server.cer").read_text() == "signed server.cer\n"


def test_install_without_the_signed_certificates_fails(site: Site) -> None:
    prepared(site)
    site.fresh_checkout()
    result = site.install()
    assert result.returncode == 1
    (line,) = error_lines(result.stderr)
    assert "has no server.cer client.cer ca.cer" in line
    assert (site.out / "action").read_text() == "csr\n"


def test_install_refuses_a_folder_inside_the_checkout(site: Site) -> None:
    prepared(site)
    site.signed = site.checkout / "signed"
    assert site.sign().returncode == 0
    result = site.install()
    assert result.returncode == 1
    (line,) = error_lines(result.stderr)
    assert f"{site.signed} is inside the checkout" in line
    assert (site.out / "action").read_text() == "csr\n"
    assert not (site.out / "renewal.patch").exists()


# --- certs-publish.sh: a CA signed ---------------------------------------------------------------
def test_a_signed_renewal_becomes_a_pull_request(site: Site) -> None:
    result = renew(site)
    assert result.returncode == 0, result.stderr
    assert site.show(BRANCH, "certs/t/server.cer") == "signed server.cer\n"
    (pull,) = site.github.pulls()
    assert (pull["head"], pull["user"]["login"]) == (BRANCH, BOT)
    assert pull["title"] == "cms-reconciler: renew the certificates of cluster t"
    assert CHECK_TEXT in pull["body"]
    assert "Installed the new bundle of cluster t" in pull["body"]
    assert result.stdout == f"https://github.com/{REPOSITORY}/pull/{pull['number']}\n"
    assert site.issues() == []

    # The next day the renewal waits in its pull request.
    again = renew_again(site)
    assert again.returncode == 0, again.stderr
    assert again.stdout == (
        f"cluster t: a renewal is under way: pull request #{pull['number']} from branch {BRANCH}"
        " (20 days left)\n"
    )

    # 14 days before the soonest expiry the run fails every day until the renewal is merged:
    # an open pull request must not hold it off silently.
    late = renew_again(site, days="14")
    assert late.returncode == 1
    (line,) = error_lines(late.stderr)
    assert "URGENT: 14 days left and the renewal still waits on pull request" in line


def renew_again(
    site: Site, days: str = "20", **env: str | None
) -> subprocess.CompletedProcess[str]:
    """The next day's run while the branch exists: prepare says under-way, publish reports;
    `days`: the soonest expiry of a due certificate, as the check reports it."""
    site.new_run()
    assert site.under_way() == "true"
    prepared = site.prepare(CHECK_EXIT="1", UNDER_WAY="true", CHECK_DAYS=days)
    assert prepared.returncode == 0, prepared.stderr
    for result in (site.sign(), site.install()):
        assert result.returncode == 0, result.stderr
    site.fresh_checkout()
    return site.publish(**env)


def test_a_pull_request_github_refuses_fails_saying_why_and_the_next_run_too(site: Site) -> None:
    """An organisation that does not let Actions open pull requests: the branch is pushed, gh
    pr create fails; the run fails saying so, and so does every next one until it is fixed."""
    site.github.change(lambda state: state.update(actions_can_create_pull_requests=False))
    result = renew(site)
    assert result.returncode == 1
    assert ACTIONS_REFUSAL in result.stderr  # gh's own words, in the log
    assert error_lines(result.stderr) == [
        "::error title=No pull request for the renewal of cluster t::GitHub refused to open the "
        f"pull request ({ACTIONS_REFUSAL}). The new bundle is on branch {BRANCH}: {HOW_TO_OPEN}."
    ]
    assert site.show(BRANCH, "certs/t/server.cer") == "signed server.cer\n"
    assert site.github.pulls() == []

    again = renew_again(site, CHECK_DAYS="20")
    assert again.returncode == 1
    assert error_lines(again.stderr) == [stalled("renewal stalled: 20 days left")]


def stalled(level: str) -> str:
    return (
        f"::error title=Certificate renewal of cluster t stalled::{level}. Branch {BRANCH} "
        "exists, but no pull request from it and no renewal issue is open, so nobody is asked to "
        "finish the renewal (a common cause: GitHub Actions may not create pull requests here, "
        "so the branch was pushed and opening the pull request failed). To finish it, "
        f"{HOW_TO_OPEN}; or delete the branch, and the next run starts the renewal over."
    )


def test_a_pull_request_opened_by_hand_from_the_branch_counts(site: Site) -> None:
    site.github.change(lambda state: state.update(actions_can_create_pull_requests=False))
    assert renew(site).returncode == 1
    by_hand = site.github.pull_request(login="alice", head=BRANCH)
    site.github.pull_request(login="bob", head="cms-reconciler/certs-t2")  # another cluster's
    again = renew_again(site)
    assert again.returncode == 0, again.stderr
    assert f"pull request #{by_hand} from branch {BRANCH}" in again.stdout


def test_a_closed_pull_request_does_not_count(site: Site) -> None:
    site.github.pull_request(login="alice", head=BRANCH, state="closed")
    site.git("push", "--quiet", "origin", f"main:{BRANCH}")  # the branch, left behind
    again = renew_again(site)
    assert again.returncode == 1
    assert len(error_lines(again.stderr)) == 1


def test_with_a_pull_request_token_the_pull_request_is_opened(site: Site) -> None:
    """CMS_RECONCILER_PR_TOKEN (an App or a person) may open it where Actions may not."""
    site.github.change(lambda state: state.update(actions_can_create_pull_requests=False))
    result = renew(site, FAKE_GH_LOGIN=APP_BOT, CMS_RECONCILER_BOT_LOGIN=APP_BOT)
    assert result.returncode == 0, result.stderr
    (pull,) = site.github.pulls()
    assert pull["user"]["login"] == APP_BOT


# --- certs-publish.sh: nobody here signs -------------------------------------------------------
def test_without_a_ca_the_csrs_go_into_one_issue(site: Site) -> None:
    published = without_ca(site)
    assert published.returncode == 0, published.stderr
    assert "ENCRYPTED" in site.show(BRANCH, "certs/t/csr/server.key")
    (issue,) = site.issues()
    assert (issue["title"], issue["user"]["login"]) == (ISSUE_TITLE, BOT)
    assert "BEGIN CERTIFICATE REQUEST----- server" in issue["body"]
    assert "BEGIN CERTIFICATE REQUEST----- client" in issue["body"]
    assert "ENCRYPTED PRIVATE KEY" not in issue["body"]
    assert f"branch `{BRANCH}`" in issue["body"]
    assert CHECK_TEXT in issue["body"]

    # The next day: the branch is there, the issue asks for its CSRs: fine, nothing new.
    again = without_ca(site)
    assert again.returncode == 0, again.stderr
    assert again.stdout == (
        f"cluster t: a renewal is under way: issue #{issue['number']}, which asks for the CSRs "
        f"on branch {BRANCH} to be signed (20 days left)\n"
    )
    assert len(site.reconcile_calls()) == 3 + 2  # day 1: checks and csr; day 2: checks
    assert len(site.issues()) == 1

    # Renewed and merged: the issue is closed.
    site.git("push", "--quiet", "origin", f":{BRANCH}")
    closed = without_ca(site, check="0")
    assert closed.returncode == 0, closed.stderr
    assert closed.stdout == f"closed issue #{issue['number']}\n"
    (issue,) = site.issues()
    assert issue["state"] == "closed"
    assert issue["comments"][0]["body"] == (
        "Renewed: `reconcile certs check --cluster t` finds nothing due."
    )


def test_an_issue_left_open_is_updated_not_duplicated(site: Site) -> None:
    assert without_ca(site).returncode == 0
    site.git("push", "--quiet", "origin", f":{BRANCH}")  # abandoned, deleted by hand
    again = without_ca(site)
    assert again.returncode == 0, again.stderr
    assert again.stdout == "updated issue #1\n"
    assert len(site.issues()) == 1


def test_a_humans_issue_with_the_renewal_title_is_never_edited_or_closed(site: Site) -> None:
    human = site.github.issue(ISSUE_TITLE, login="alice", body="renew t please")
    assert without_ca(site).returncode == 0
    ours = [issue for issue in site.issues() if issue["number"] != human]
    assert [issue["user"]["login"] for issue in ours] == [BOT]
    site.git("push", "--quiet", "origin", f":{BRANCH}")
    assert without_ca(site).stdout == f"updated issue #{ours[0]['number']}\n"
    assert without_ca(site, check="0").stdout == f"closed issue #{ours[0]['number']}\n"
    issues = {issue["number"]: issue for issue in site.issues()}
    assert (issues[human]["state"], issues[human]["body"]) == ("open", "renew t please")
    assert issues[human]["comments"] == []


def test_a_humans_issue_does_not_count_as_the_renewal_under_way(site: Site) -> None:
    site.github.issue(ISSUE_TITLE, login="alice")
    site.git("push", "--quiet", "origin", f"main:{BRANCH}")
    result = without_ca(site)
    assert result.returncode == 1
    assert error_lines(result.stderr) == [stalled("renewal stalled: 20 days left")]


def test_with_an_app_token_the_apps_issue_is_the_renewal_issue(site: Site) -> None:
    actions = site.github.issue(ISSUE_TITLE, login=BOT)
    app = {"FAKE_GH_LOGIN": APP_BOT, "CMS_RECONCILER_BOT_LOGIN": APP_BOT}
    assert without_ca(site, **app).returncode == 0
    closed = without_ca(site, check="0", **app)
    issues = {issue["number"]: issue for issue in site.issues()}
    (app_issue,) = [number for number in issues if number != actions]
    assert closed.stdout == f"closed issue #{app_issue}\n"
    assert issues[actions]["state"] == "open"


# --- certs-publish.sh: a stalled renewal --------------------------------------------------------
@pytest.mark.parametrize(
    ("days", "level"),
    [
        ("90", "renewal stalled: 90 days left"),
        ("15", "renewal stalled: 15 days left"),
        ("14", "URGENT: renewal stalled, 14 days left"),
        ("1", "URGENT: renewal stalled, 1 days left"),
        (
            "0",
            "EXPIRED: renewal stalled, 0 days left: the cluster stops replicating when its "
            "certificates expire",
        ),
        (
            "-3",
            "EXPIRED: renewal stalled, -3 days left: the cluster stops replicating when its "
            "certificates expire",
        ),
    ],
)
def test_a_stalled_renewal_fails_louder_as_expiry_nears(site: Site, days: str, level: str) -> None:
    """Neither a pull request nor the issue: the branch waits for nobody. The soonest expiry
    among this cluster's due certificates (not another cluster's, not one not due) says how
    loud."""
    site.git("push", "--quiet", "origin", f"main:{BRANCH}")
    site.new_run()
    assert site.prepare(CHECK_EXIT="1", UNDER_WAY="true", CHECK_DAYS=days).returncode == 0
    result = site.publish()
    assert result.returncode == 1
    assert result.stdout == ""
    assert error_lines(result.stderr) == [stalled(level)]
    assert [call for call in site.github.calls() if "--method" in call] == []


def test_a_stalled_renewal_without_check_json_still_fails(site: Site) -> None:
    site.git("push", "--quiet", "origin", f"main:{BRANCH}")
    site.new_run()
    assert site.prepare(CHECK_EXIT="1", UNDER_WAY="true").returncode == 0
    (site.out / "check.json").unlink()
    result = site.publish()
    assert result.returncode == 1
    assert error_lines(result.stderr) == [
        stalled(f"renewal stalled (days left unknown: {site.out}/check.json says nothing)")
    ]


# --- certs-publish.sh: no verdict ------------------------------------------------------------
@pytest.mark.parametrize("code", ["3", "9"])
def test_a_check_that_did_not_finish_fails_and_changes_nothing(site: Site, code: str) -> None:
    published = without_ca(site, check=code)
    assert published.returncode == 1
    exit_code = "3" if code == "3" else "1"  # 9: reconcile fails (1) before any verdict
    assert error_lines(published.stderr) == [
        f"::error::reconcile certs check --cluster t did not finish (exit {exit_code}); "
        "see the check job's log"
    ]
    assert site.branches() == ["main"]
    assert site.github.calls() == []


def test_nothing_due_and_no_issue_does_nothing(site: Site) -> None:
    published = without_ca(site, check="0")
    assert published.returncode == 0, published.stderr
    assert published.stdout == ""
    assert site.branches() == ["main"]
    assert [call for call in site.github.calls() if call[0] != "api" or "--method" in call] == []


# --- the real reconcile ------------------------------------------------------------------------
def test_the_real_reconcile_signs_and_installs_a_renewal(tmp_path: Path) -> None:
    """csr, sign and install are the real commands (the check is the stand-in: it would contact
    the nodes); what reaches the pull request's branch passes `reconcile validate`."""
    real = Path(sys.executable).parent / "reconcile"
    assert real.exists(), f"{real}: the project's reconcile is not installed"
    pki = build_pki()
    lab = fresh_repo(good_files(pki))
    files = dict(lab.files)
    files["clusters/t.yaml"] = lab.yaml_text().encode()
    site = make_site(tmp_path, files)
    ca_key = pki.root.key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.BestAvailableEncryption(b"ca secret"),
    ).decode()
    env = {**ENV, "REAL_RECONCILE": str(real)}

    prepared = site.prepare(CHECK_EXIT="1", **env)
    assert prepared.returncode == 0, prepared.stderr
    signed = site.sign(
        CA_KEY=ca_key,
        CA_CERT=cert_pem(pki.root.cert).decode(),
        CA_KEY_PASSPHRASE="ca secret",
        **env,
    )
    assert signed.returncode == 0, signed.stderr
    site.fresh_checkout()
    installed = site.install(**env)
    assert installed.returncode == 0, installed.stderr
    site.fresh_checkout()
    published = site.publish(**env)
    assert published.returncode == 0, published.stderr
    (pull,) = site.github.pulls()
    assert pull["head"] == BRANCH

    site.git("fetch", "--quiet", "origin")
    site.git("switch", "--quiet", "--detach", f"origin/{BRANCH}")
    assert not (site.checkout / "certs" / "t" / "csr").exists()
    changed = site.git("diff", "--name-only", "origin/main", f"origin/{BRANCH}").split()
    assert {f"certs/t/{name}" for name in ("server.key", "server.cer", "client.key")} <= set(
        changed
    )
    assert not [path for path in changed if "/csr/" in path]
    validate = subprocess.run(
        [str(real), "validate", "--cluster", "t"],
        cwd=site.checkout,
        env={**os.environ, **ENV},
        capture_output=True,
        text=True,
        check=False,
    )
    assert validate.returncode == 0, validate.stdout + validate.stderr


# --- a renewal may change certificates only ------------------------------------------------------
def hostile_patch(site: Site, path: str) -> Path:
    """A patch as an earlier job could hand on, that also changes `path` (a pin, say)."""
    target = site.checkout / path
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text((target.read_text() if target.exists() else "") + "[203.0.113.66]:22 x\n")
    site.git("add", "-A")
    patch = site.root / "hostile.patch"
    patch.write_text(site.git("diff", "--cached", "--binary"))
    site.git("reset", "--quiet", "--hard")
    return patch


@pytest.mark.parametrize("path", ["clusters/known_hosts", ".github/scripts/x.sh"])
def test_publish_refuses_a_renewal_that_changes_more_than_certificates(
    site: Site, path: str
) -> None:
    patch = hostile_patch(site, path)
    site.out.mkdir(parents=True, exist_ok=True)
    (site.out / "exit-code").write_text("1\n")
    (site.out / "action").write_text("issue\n")
    (site.out / "renewal.patch").write_text(patch.read_text())
    (site.out / "check.txt").write_text("due\n")
    (site.out / "renewal.txt").write_text("made\n")
    result = site.publish()
    assert result.returncode == 1
    (line,) = error_lines(result.stderr)
    assert f"renewal.patch changes {path}: a renewal may change files under certs/ only" in line
    assert BRANCH not in site.branches()
    assert site.github.pulls() == []


def test_install_refuses_csrs_that_change_more_than_certificates(site: Site) -> None:
    prepared(site)
    patch = hostile_patch(site, "clusters/known_hosts")
    (site.out / "csr.patch").write_text(patch.read_text())
    for result in (site.sign(),):
        assert result.returncode == 0, result.stderr
    installed = site.install()
    assert installed.returncode == 1
    (line,) = error_lines(installed.stderr)
    assert "csr.patch changes clusters/known_hosts: a renewal may change files under certs/" in (
        line
    )
    assert not (site.out / "renewal.patch").exists()
