"""The pull-request loop end to end: the reconcile commands the workflows' scripts run, in a
temporary GitOps repository (no .gitignore), against the simulated lab over real SSH.

plan.yml (plan-clusters.sh, plan-cluster.sh): `clusters --changed-since BASE --ref HEAD
--trusted-ref BASE`, `validate --ref HEAD --trusted-ref BASE --format github`, `plan --rehearse
--ref HEAD --trusted-ref BASE --format markdown --out`; apply.yml (apply-plan.sh,
apply-cluster.sh): `plan --rehearse --ref SHA --out`, then `apply --plan-file --ref SHA
--auto-approve --format markdown`; drift.yml: `plan --cluster X --format markdown`, whose exit
code opens or closes the issue. tests/e2e/test_workflow_jobs.py runs the scripts themselves.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import git
import pytest

from reconciler.simulator.service import SimulatedCluster
from tests.e2e.conftest import LAB_ENV, reconcile, wait_idle
from tests.support.lab import LAB_MATERIAL, LabAddresses
from tests.support.mmp_client import MMPClient

pytestmark = pytest.mark.e2e

# The bundle the lab's nodes run (expired), under the names the cluster file uses.
RUNNING = {
    "dbclusterserver.key": "dbclusterserver.key",
    "dbclusterserver.cer": "dbclusterserver.cer",
    "dbclusterclient.key": "dbclusterclient.key",
    "dbclusterclient.cer": "EXPRSVR.cer",
    "CAVD.cer": "CA.cer",
}


def commit(repository: git.Repo, message: str) -> str:
    repository.git.add(A=True)
    repository.index.commit(message, author=git.Actor("ops", "ops@example.com"))
    return str(repository.head.commit.hexsha)


def add_other_cluster(repo: Path, addresses: LabAddresses) -> None:
    """A second cluster whose files the rotation does not touch."""
    text = (repo / "clusters" / "lab.yaml").read_text()
    text = text.replace("name: lab", "name: other").replace("certs/lab/", "certs/other/")
    for address in addresses.nodes:
        text = text.replace(address, address.rsplit(".", 1)[0] + ".9" + address[-1])
    (repo / "clusters" / "other.yaml").write_text(text)
    shutil.copytree(LAB_MATERIAL / "certs" / "lab", repo / "certs" / "other")


@pytest.fixture
def gitops(lab_repo: Path, lab_addresses: LabAddresses) -> tuple[Path, git.Repo, str]:
    """The lab as it runs today committed, then a rotation commit on top (like a merge)."""
    assert not (lab_repo / ".gitignore").exists()
    add_other_cluster(lab_repo, lab_addresses)
    new_bundle = {name: (lab_repo / "certs" / "lab" / name).read_bytes() for name in RUNNING}
    device_files = lab_repo / "sim" / "lab" / "device-files"
    for name, running in RUNNING.items():
        (lab_repo / "certs" / "lab" / name).write_bytes((device_files / running).read_bytes())
    repository = git.Repo.init(lab_repo)
    base = commit(repository, "the lab as it runs")
    for name, data in new_bundle.items():
        (lab_repo / "certs" / "lab" / name).write_bytes(data)
    commit(repository, "rotate the lab's database cluster certificates")
    return lab_repo, repository, base


def test_the_workflow_commands_rotate_the_lab_and_report_drift(
    lab_sim: SimulatedCluster, gitops: tuple[Path, git.Repo, str]
) -> None:
    repo, repository, base = gitops
    head = str(repository.head.commit.hexsha)

    # plan.yml, job `clusters`: the matrix holds the lab only, with the secrets it needs.
    listed = reconcile(
        "clusters",
        "--changed-since",
        base,
        "--ref",
        head,
        "--trusted-ref",
        base,
        "--format",
        "json",
        repo=repo,
    )
    assert listed.returncode == 0, listed.stderr
    assert json.loads(listed.stdout) == {
        "clusters": [
            {
                "name": "lab",
                "file": "clusters/lab.yaml",
                "env": ["CMS_LAB_PASSWORD", "CMS_LAB_KEY_PASSPHRASE"],
                "secrets": [
                    {"secret": "CMS_SSH_PASSWORD", "env": "CMS_LAB_PASSWORD", "file": False},
                    {
                        "secret": "CMS_KEY_PASSPHRASE",
                        "env": "CMS_LAB_KEY_PASSPHRASE",
                        "file": False,
                    },
                ],
                "trusted": True,
                "access_changes": [],
                "last_change": head,
            }
        ],
        "removed": [],
    }

    # plan.yml, job `plan`: validation annotations, clean for the rotation...
    trusted = ("--ref", head, "--trusted-ref", base)
    valid = reconcile("validate", "--cluster", "lab", *trusted, "--format", "github", repo=repo)
    assert valid.returncode == 0, valid.stdout
    assert "::error" not in valid.stdout
    # The one warning: the lab's server certificate names no node as a SAN (CMS 3.5).
    warnings = [line for line in valid.stdout.splitlines() if line.startswith("::warning")]
    assert len(warnings) == 1, valid.stdout
    assert "::certs.server_cert: server certificate" in warnings[0]
    assert "subjectAltName" in warnings[0]
    # ...and for a typo'd key, an annotation on the line the key is on.
    cluster_file = repo / "clusters" / "lab.yaml"
    text = cluster_file.read_text()
    cluster_file.write_text(text.replace("password_env:", "pasword_env:"))
    typo = reconcile("validate", "--cluster", "lab", "--format", "github", repo=repo)
    cluster_file.write_text(text)
    line = 1 + next(i for i, row in enumerate(text.splitlines()) if "password_env:" in row)
    assert typo.returncode == 1
    assert f"::error file=clusters/lab.yaml,line={line},col=3::ssh.pasword_env: unknown key" in (
        typo.stdout
    )

    plan_file = repo.parent / "plan.json"  # the workflow keeps it outside the tree too
    planned = reconcile(
        "--plan",
        "--rehearse",
        "--cluster",
        "lab",
        *trusted,
        "--format",
        "markdown",
        "--out",
        str(plan_file),
        repo=repo,
    )
    assert planned.returncode == 2, planned.stderr
    comment = planned.stdout
    assert "**Rehearsal:** rehearsed on a twin: converges in 27 steps" in comment
    assert comment.startswith("<!-- cms-reconciler plan")
    assert "<!-- cms-reconciler plan: lab -->" in comment
    assert len(comment) < 65_536
    outage = comment.index("down from step")
    assert outage < comment.index("<details")
    assert "applies exactly it (`reconcile apply --plan-file`)" in comment
    assert json.loads(plan_file.read_text())["clusters"][0]["strategy"] == "reform"

    # apply.yml: a deliberately failed apply, then the re-run converges (the journal and
    # backups the first one left do not make the tree dirty; its lock was released).
    lab_sim.fail_operation("cms3", "join")
    # apply.yml plans the merged commit (apply-plan.sh), then applies exactly that plan once
    # approved (apply-cluster.sh); a re-run plans again from where the failure left the nodes.
    approved = repo.parent / "apply-plan.json"
    at_head = ("--ref", head, "--cluster", "lab")
    for_approval = reconcile(
        "plan",
        "--rehearse",
        *at_head,
        "--format",
        "markdown",
        "--out",
        str(approved),
        repo=repo,
    )
    assert for_approval.returncode == 2, for_approval.stderr
    apply_args = ("apply", "--plan-file", str(approved), *at_head, "--auto-approve")
    failed = reconcile(*apply_args, "--format", "markdown", repo=repo)
    assert failed.returncode == 1
    assert "cms3" in failed.stdout or "cms3" in failed.stderr
    lab_sim.fail_operation("cms3", "join", fail=False)
    stale = reconcile(*apply_args, "--format", "markdown", repo=repo)
    assert stale.returncode == 1  # the nodes moved on since that plan: it is never re-applied
    assert "changed since" in stale.stderr or "stale" in stale.stderr.lower(), stale.stderr
    again = reconcile(
        "plan",
        "--rehearse",
        *at_head,
        "--format",
        "markdown",
        "--out",
        str(approved),
        repo=repo,
    )
    assert again.returncode == 2, again.stderr
    applied = reconcile(*apply_args, "--format", "markdown", repo=repo)
    assert applied.returncode == 0, applied.stderr
    assert "<!-- cms-reconciler" in applied.stdout
    assert "converged" in applied.stdout.lower()
    assert repository.git.status("--porcelain") == ""

    # drift.yml: converged is exit 0 (the issue would be closed)...
    assert (
        reconcile("--plan", "--cluster", "lab", "--format", "markdown", repo=repo).returncode == 0
    )
    # ...and a change made behind git's back is exit 2 with the plan that undoes it.
    with MMPClient(lab_sim, "cms3", LAB_ENV["CMS_LAB_PASSWORD"]) as client:
        client.run("database cluster remove", answer="Y")
    wait_idle(lab_sim)
    drift = reconcile("--plan", "--cluster", "lab", "--format", "markdown", repo=repo)
    assert drift.returncode == 2, drift.stderr
    assert "cms3" in drift.stdout
    assert "join" in drift.stdout
