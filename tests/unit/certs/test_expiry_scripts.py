"""The expiry workflow's glue, .github/scripts/certs-{prepare,publish}.sh, run for real.

Each runs by path in a git checkout whose ``origin`` is a local bare repository, with the
stateful fake ``gh`` of tests/workflows first on PATH and, for prepare, a stand-in
``reconcile`` that answers as the real one does (its exit codes and the files it writes), so
the scripts' own decisions are what is tested: only reconcile's "renew" (exit 1) makes a
renewal, one branch per cluster at a time, and what to publish follows from what was made.
"""

from __future__ import annotations

import os
import shlex
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.support.lab import REPO
from tests.workflows import fake_gh

SCRIPTS = REPO / ".github" / "scripts"
REPOSITORY = "example-org/cms-gitops"
BRANCH = "cms-reconciler/certs-t"
ISSUE_TITLE = "cms-reconciler: the certificates of cluster t need renewal"

# The stand-in `reconcile`: logs its arguments, then acts like the real command would.
FAKE_RECONCILE = """#!/usr/bin/env bash
set -euo pipefail
echo "$*" >> "$RECONCILE_LOG"
case "$1 $2" in
  "certs check")
    shift 2
    while [ $# -gt 0 ]; do [ "$1" = --out ] && out="$2"; shift; done
    [ "$CHECK_EXIT" = 9 ] && { echo "error: no cluster" >&2; exit 1; }
    printf 't: 2 certificates due for renewal, first expiry 2027-01-15 00:00 UTC\\n' > "$out"
    exit "$CHECK_EXIT" ;;
  "certs issue")
    ls "$(dirname "$(echo "$*" | sed 's/.*--ca-key \\([^ ]*\\).*/\\1/')")" >> "$RECONCILE_LOG"
    echo "new server certificate" > certs/t/server.cer
    echo "Issued a new bundle for cluster t" ;;
  "certs csr")
    mkdir -p certs/t/csr
    echo "-----BEGIN ENCRYPTED PRIVATE KEY-----" > certs/t/csr/server.key
    echo "-----BEGIN CERTIFICATE REQUEST----- server" > certs/t/csr/server.csr
    echo "-----BEGIN CERTIFICATE REQUEST----- client" > certs/t/csr/client.csr
    echo "Wrote new private keys and certificate signing requests" ;;
  *) exit 2 ;;
esac
"""


@dataclass
class Site:
    root: Path
    checkout: Path
    origin: Path
    out: Path

    @property
    def state_path(self) -> Path:
        return self.root / "gh-state.json"

    def state(self) -> fake_gh.State:
        return fake_gh.load_state(self.state_path)

    def env(self, **extra: str) -> dict[str, str]:
        return {
            "PATH": f"{self.root / 'bin'}{os.pathsep}{os.environ['PATH']}",
            "HOME": str(self.root),
            "LANG": "C.UTF-8",
            "GH_TOKEN": "ghs_fake",
            "GITHUB_REPOSITORY": REPOSITORY,
            "FAKE_GH_STATE": str(self.state_path),
            "RECONCILE_LOG": str(self.root / "reconcile.log"),
            "GIT_AUTHOR_NAME": "t",
            "GIT_AUTHOR_EMAIL": "t@example.org",
            "GIT_COMMITTER_NAME": "t",
            "GIT_COMMITTER_EMAIL": "t@example.org",
            **extra,
        }

    def run(self, script: str, **extra: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [str(SCRIPTS / script), "t", str(self.out)],
            cwd=self.checkout,
            env=self.env(**extra),
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )

    def git(self, *args: str, cwd: Path | None = None) -> str:
        return subprocess.run(
            ["git", *args],
            cwd=cwd or self.checkout,
            env=self.env(),
            capture_output=True,
            text=True,
            check=True,
        ).stdout

    def branches(self) -> list[str]:
        listed = self.git("ls-remote", "--heads", "origin")
        return [line.split("refs/heads/")[1] for line in listed.splitlines()]

    def reconcile_calls(self) -> list[str]:
        log = self.root / "reconcile.log"
        return log.read_text().splitlines() if log.exists() else []

    def mutations(self) -> list[list[str]]:
        return [call for call in self.state()["calls"] if call[:2] != ["issue", "list"]]


@pytest.fixture
def site(tmp_path: Path) -> Site:
    for tool in ("bash", "jq", "git"):
        assert shutil.which(tool), f"{tool} is required to test .github/scripts (see Makefile)"
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    gh = bin_dir / "gh"
    gh.write_text(
        f'#!/bin/sh\nexec {shlex.quote(sys.executable)} {shlex.quote(str(fake_gh.__file__))} "$@"\n'
    )
    reconcile = bin_dir / "reconcile"
    reconcile.write_text(FAKE_RECONCILE)
    for executable in (gh, reconcile):
        executable.chmod(0o755)
    fake_gh.save_state(tmp_path / "gh-state.json", fake_gh.new_state(REPOSITORY))
    site = Site(tmp_path, tmp_path / "checkout", tmp_path / "origin.git", tmp_path / "out")
    site.git("init", "--quiet", "--bare", "--initial-branch=main", str(site.origin), cwd=tmp_path)
    site.git("clone", "--quiet", str(site.origin), str(site.checkout), cwd=tmp_path)
    (site.checkout / "certs" / "t").mkdir(parents=True)
    (site.checkout / "certs" / "t" / "server.cer").write_text("old server certificate\n")
    site.git("add", "-A")
    site.git("commit", "--quiet", "-m", "lab")
    site.git("push", "--quiet", "origin", "HEAD:main")
    return site


def fresh_checkout(site: Site) -> None:
    """Each job of each run starts from a clean checkout of main."""
    site.git("switch", "--quiet", "--force", "main")
    site.git("clean", "--quiet", "-fd")
    if BRANCH in site.git("branch"):
        site.git("branch", "--quiet", "-D", BRANCH)


def prepare_then_publish(site: Site, **env: str) -> subprocess.CompletedProcess[str]:
    fresh_checkout(site)
    prepared = site.run("certs-prepare.sh", **env)
    assert prepared.returncode == 0, prepared.stderr
    fresh_checkout(site)
    return site.run("certs-publish.sh")


def test_with_a_ca_key_a_due_renewal_becomes_a_pull_request(site: Site) -> None:
    published = prepare_then_publish(
        site, CHECK_EXIT="1", CA_KEY="KEY PEM", CA_CERT="CERT PEM", CA_KEY_PASSPHRASE="p"
    )
    assert published.returncode == 0, published.stderr
    calls = site.reconcile_calls()
    assert calls[0] == f"certs check --cluster t --out {site.out}/check.txt"
    assert calls[1].startswith("certs issue --cluster t --ca-cert ")
    assert calls[1].endswith("--ca-key-passphrase-env CA_KEY_PASSPHRASE")
    assert sorted(calls[2:]) == ["ca.key", "ca.pem"]  # the CA files, while issue ran
    assert not Path(calls[1].split("--ca-key ")[1].split()[0]).parent.exists()  # removed
    assert BRANCH in site.branches()
    site.git("fetch", "--quiet", "origin")
    assert site.git("show", f"origin/{BRANCH}:certs/t/server.cer") == "new server certificate\n"
    (pull,) = [issue for issue in site.state()["issues"] if issue["pull_request"]]
    assert pull["head"] == BRANCH
    assert pull["title"] == "cms-reconciler: renew the certificates of cluster t"
    assert "2 certificates due for renewal" in pull["body"]
    assert "Issued a new bundle for cluster t" in pull["body"]


def test_without_a_ca_key_the_csrs_go_into_one_issue(site: Site) -> None:
    published = prepare_then_publish(site, CHECK_EXIT="1")
    assert published.returncode == 0, published.stderr
    assert site.reconcile_calls()[1] == "certs csr --cluster t"
    site.git("fetch", "--quiet", "origin")
    assert "ENCRYPTED" in site.git("show", f"origin/{BRANCH}:certs/t/csr/server.key")
    (issue,) = site.state()["issues"]
    assert issue["title"] == ISSUE_TITLE
    assert not issue["pull_request"]
    assert "BEGIN CERTIFICATE REQUEST----- server" in issue["body"]
    assert "BEGIN CERTIFICATE REQUEST----- client" in issue["body"]
    assert "ENCRYPTED PRIVATE KEY" not in issue["body"]
    assert f"branch `{BRANCH}`" in issue["body"]

    # The next day: the branch is there, so the CSRs at the CA stay the ones to sign.
    again = prepare_then_publish(site, CHECK_EXIT="1")
    assert again.returncode == 0, again.stderr
    assert "a renewal is under way" in again.stdout
    assert site.reconcile_calls()[3:] == []  # a check only: no new keys
    assert len(site.state()["issues"]) == 1

    # Renewed and merged: the issue is closed.
    site.git("push", "--quiet", "origin", f":{BRANCH}")
    closed = prepare_then_publish(site, CHECK_EXIT="0")
    assert closed.returncode == 0, closed.stderr
    assert site.state()["issues"][0]["state"] == "closed"


def test_an_issue_left_open_is_updated_not_duplicated(site: Site) -> None:
    assert prepare_then_publish(site, CHECK_EXIT="1").returncode == 0
    site.git("push", "--quiet", "origin", f":{BRANCH}")  # abandoned, deleted by hand
    again = prepare_then_publish(site, CHECK_EXIT="1")
    assert again.returncode == 0, again.stderr
    assert "updated issue #1" in again.stdout
    assert len(site.state()["issues"]) == 1


@pytest.mark.parametrize("code", ["3", "9"])
def test_a_check_that_did_not_finish_fails_and_changes_nothing(site: Site, code: str) -> None:
    published = prepare_then_publish(site, CHECK_EXIT=code)
    assert published.returncode == 1
    assert "::error::" in published.stderr
    assert site.reconcile_calls() == [f"certs check --cluster t --out {site.out}/check.txt"]
    assert site.branches() == ["main"]
    assert site.mutations() == []


def test_nothing_due_and_no_issue_does_nothing(site: Site) -> None:
    published = prepare_then_publish(site, CHECK_EXIT="0")
    assert published.returncode == 0, published.stderr
    assert site.branches() == ["main"]
    assert site.mutations() == []
