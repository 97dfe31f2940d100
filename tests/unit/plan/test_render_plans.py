"""Hand-built plans for the renderer tests (the planner is not needed to test how plans look).

The builders live in a ``test_render*`` module so that the renderer tests own all their
material; the tests at the bottom only check that the fixtures are the plans they claim to be.
"""

from __future__ import annotations

import functools
import hashlib
from typing import Any

import yaml

from reconciler.desired.loader import load_desired
from reconciler.plan.models import (
    Action,
    ClusterPlan,
    DataAuthority,
    Expectation,
    Finding,
    GitInfo,
    Impact,
    Plan,
    Step,
    Strategy,
    UploadFile,
)
from reconciler.plan.planner import plan_cluster
from tests.support.lab import LAB_MATERIAL, REPO
from tests.support.planning import NOW, desired_cluster, live_cluster

MASTER = ("127.0.85.73", "cms1")
REPLICAS = (("127.0.85.74", "cms2"), ("127.0.85.75", "cms3"))
NODES = (MASTER, *REPLICAS)
COMMIT = "1a2b3c4d5e6f708192a3b4c5d6e7f8091a2b3c4d"
BACKUP = "reconcile-lab-20261127T0740Z"
CERT_FILES = (
    ("server_cert", "dbclusterserver.cer"),
    ("client_cert", "dbclusterclient.cer"),
)
FINGERPRINT = hashlib.sha256(b"live state of lab").hexdigest()


def sha(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


def git(*, dirty: bool = False, commit: str | None = COMMIT) -> GitInfo:
    return GitInfo(commit=commit, dirty=dirty)


def reform_steps() -> list[Step]:
    """The seed's procedure for a 3-node cluster with expired certificates, in order."""
    steps: list[Step] = []

    def add(
        address: str, name: str, action: Action, command: str, reason: str, **extra: object
    ) -> int:
        step = Step.model_validate(
            {
                "id": len(steps) + 1,
                "node": address,
                "node_name": name,
                "action": action,
                "command": command,
                "reason": reason,
                **extra,
            }
        )
        steps.append(step)
        return step.id

    for address, name in (*REPLICAS, MASTER):
        add(
            address,
            name,
            Action.BACKUP,
            f"backup snapshot {BACKUP}",
            "before destructive steps",
            backup_name=BACKUP,
        )
    for address, name in NODES:
        for role, remote in CERT_FILES:
            repo_path = f"certs/lab/{remote}"
            add(
                address,
                name,
                Action.UPLOAD,
                f"put {repo_path} -> {remote}",
                f"{role} differs from git",
                upload=UploadFile(
                    role=role,
                    repo_path=repo_path,
                    remote_name=remote,
                    sha256=sha(remote),
                    size=1318,
                ),
            )
    for address, name in (*REPLICAS, MASTER):
        add(
            address,
            name,
            Action.REMOVE,
            "database cluster remove",
            "certificates can only change on a node outside the cluster",
            expect=Expectation.DISABLED,
        )
    for address, name in NODES:
        add(
            address,
            name,
            Action.CERTS,
            "database cluster certs dbclusterserver.key dbclusterserver.cer "
            "dbclusterclient.key dbclusterclient.cer CAVD.cer",
            "use the new certificates",
        )
    initialize = add(
        MASTER[0],
        MASTER[1],
        Action.INITIALIZE,
        "database cluster initialize",
        "the master's database is authoritative",
        expect=Expectation.MASTER,
    )
    for address, name in REPLICAS:
        add(
            address,
            name,
            Action.JOIN,
            f"database cluster join {MASTER[0]}",
            "replica copies the master's database",
            after=[initialize],
            expect=Expectation.IN_SYNC,
        )
    return steps


def reform_findings() -> list[Finding]:
    findings = [
        Finding(
            node=address,
            what=role,
            live=f"{remote} (expired)",
            desired=f"{remote} sha256:{sha(remote)[:12]}",
            severity="change",
        )
        for address, _ in NODES
        for role, remote in CERT_FILES
    ]
    findings.append(
        Finding(
            node=None,
            what="ca_cert",
            live="CAVD.cer",
            desired="CAVD.cer",
            severity="info",
            message="CA certificate unchanged; expires in 3y 41d",
        )
    )
    return findings


def authority(*, master_change: bool = False) -> DataAuthority:
    if master_change:
        return DataAuthority(
            source="127.0.85.74",
            replaces=["127.0.85.73", "127.0.85.75"],
            statement="cms2 (127.0.85.74) becomes master: its database replaces the databases "
            "of cms1 (127.0.85.73, the live master) and cms3 (127.0.85.75)",
            master_change=True,
        )
    return DataAuthority(
        source=MASTER[0],
        replaces=[address for address, _ in REPLICAS],
        statement="cms1 (127.0.85.73) keeps its database; cms2 and cms3 are emptied and "
        "copy it when they join",
        master_change=False,
    )


def reform_cluster(name: str = "lab", *, master_change: bool = False) -> ClusterPlan:
    return ClusterPlan(
        name=name,
        state_fingerprint=FINGERPRINT,
        strategy=Strategy.REFORM,
        findings=reform_findings(),
        steps=reform_steps(),
        impact=Impact(
            restarts=[address for address, _ in NODES],
            max_nodes_out=3,
            estimated_seconds=3 * 300 + 300 + 2 * 600,
            summary="the cluster is down from the first remove until cms2 and cms3 have joined",
        ),
        data_authority=authority(master_change=master_change),
    )


def converged_cluster(name: str = "lab") -> ClusterPlan:
    return ClusterPlan(
        name=name,
        state_fingerprint=FINGERPRINT,
        strategy=Strategy.NONE,
        findings=[
            Finding(
                node=MASTER[0],
                what="server_cert",
                live="dbclusterserver.cer",
                desired="dbclusterserver.cer",
                severity="info",
                message="expires in 200d",
            )
        ],
        steps=[],
        impact=Impact(restarts=[], max_nodes_out=0, estimated_seconds=0, summary="nothing to do"),
    )


def blocked_cluster(name: str = "lab") -> ClusterPlan:
    return ClusterPlan(
        name=name,
        state_fingerprint=FINGERPRINT,
        strategy=Strategy.NONE,
        findings=[
            Finding(
                node="127.0.85.75",
                what="reachable",
                live="connection refused",
                desired="reachable over ssh",
                severity="error",
                message="ssh 127.0.85.75:2222: connection refused",
            ),
            Finding(
                node="127.0.85.74",
                what="server_cert",
                live="dbclusterserver.cer (expired)",
                desired="dbclusterserver.cer",
                severity="change",
            ),
        ],
        steps=[],
        impact=Impact(restarts=[], max_nodes_out=0, estimated_seconds=0, summary="blocked"),
        blocked=True,
    )


def huge_cluster(count: int = 3000) -> ClusterPlan:
    """Far more steps than a PR comment holds, with pipes and backticks in the commands."""
    steps = [
        Step(
            id=number,
            node=NODES[number % 3][0],
            node_name=NODES[number % 3][1],
            action=Action.UPLOAD,
            command=f"put certs/lab/file|{number}`x`.cer -> file{number}.cer",
            reason=f"file {number} differs | see `git log`",
        )
        for number in range(1, count + 1)
    ]
    return ClusterPlan(
        name="lab",
        state_fingerprint=FINGERPRINT,
        strategy=Strategy.ROLLING,
        findings=reform_findings(),
        steps=steps,
        impact=Impact(
            restarts=[address for address, _ in NODES],
            max_nodes_out=1,
            estimated_seconds=3900,
            summary="one replica at a time",
        ),
        data_authority=authority(),
    )


def plan_of(*clusters: ClusterPlan, dirty: bool = False, commit: str | None = COMMIT) -> Plan:
    return Plan(
        git=git(dirty=dirty, commit=commit),
        created_at="2026-11-27T07:40:00Z",
        clusters=list(clusters),
    )


def reform_plan(*, dirty: bool = False) -> Plan:
    return plan_of(reform_cluster(), dirty=dirty)


def converged_plan() -> Plan:
    return plan_of(converged_cluster())


def blocked_plan() -> Plan:
    return plan_of(blocked_cluster())


def master_change_plan() -> Plan:
    return plan_of(reform_cluster(master_change=True))


def huge_plan() -> Plan:
    return plan_of(huge_cluster())


# --- plans made by the planner ---------------------------------------------------------------
LAB_ENV = {"CMS_LAB_PASSWORD": "cms-lab", "CMS_LAB_KEY_PASSPHRASE": "cms-lab"}
CREATED_AT = "2026-11-27T07:40:00.123456+00:00"  # microseconds, as a real run records them


def scenario(name: str) -> dict[str, Any]:
    data: dict[str, Any] = yaml.safe_load((REPO / "tests" / "plans" / f"{name}.yaml").read_text())
    return data


@functools.cache
def lab_seed_cluster() -> ClusterPlan:
    """The lab's own plan: clusters/lab.yaml with the real certificates of certs/lab/ against
    the seed's live state (tests/plans/02-seed-expired.yaml), a 27-step re-form."""
    state = load_desired(LAB_MATERIAL, ["lab"], env=LAB_ENV, now=NOW)
    desired = state.clusters[0].require()
    live = live_cluster(scenario("02-seed-expired")["live"], desired)
    return plan_cluster(desired, live, now=NOW)


def lab_seed_plan(*clusters: ClusterPlan) -> Plan:
    return Plan(git=git(), created_at=CREATED_AT, clusters=list(clusters or [lab_seed_cluster()]))


def scenario_cluster(name: str) -> ClusterPlan:
    """The plan of one tests/plans scenario (file contents are labels: no certificate)."""
    data = scenario(name)
    desired = desired_cluster(data["desired"])
    live = live_cluster(data["live"], desired)
    return plan_cluster(desired, live, now=NOW, recertify=data.get("recertify", False))


def renamed(cluster: ClusterPlan, name: str) -> ClusterPlan:
    return cluster.model_copy(update={"name": name})


def test_reform_plan_follows_the_seed_procedure() -> None:
    steps = reform_plan().clusters[0].steps
    actions = [step.action for step in steps]
    assert [step.id for step in steps] == list(range(1, len(steps) + 1))
    assert actions.index(Action.BACKUP) < actions.index(Action.REMOVE)
    assert actions.count(Action.INITIALIZE) == 1
    assert all(step.node != MASTER[0] for step in steps if step.action == Action.JOIN)
    assert len(steps) == 18


def test_fixture_plans_have_the_claimed_shape() -> None:
    assert not converged_plan().has_changes
    assert blocked_plan().blocked
    authority = master_change_plan().clusters[0].data_authority
    assert authority is not None
    assert authority.master_change
    assert len(huge_plan().clusters[0].steps) == 3000


def test_the_lab_seed_plan_is_the_27_step_reform_with_real_certificates() -> None:
    cluster = lab_seed_cluster()
    assert cluster.strategy is Strategy.REFORM
    assert len(cluster.steps) == 27
    assert cluster.node_names == {
        "127.0.85.73": "cms1",
        "127.0.85.74": "cms2",
        "127.0.85.75": "cms3",
    }
    certificates = [f.desired_certificate for f in cluster.findings if f.what == "server_cert"]
    assert len(certificates) == 3
    assert certificates[0] is not None
    assert certificates[0].subject == "CN=cms-lab-db.example,O=LAB ONLY"
    assert certificates[0].not_after == "2031-11-01T00:00:00+00:00"
    assert cluster.impact.action_seconds is not None
    assert cluster.impact.estimated_seconds == sum(
        cluster.impact.action_seconds[step.action] for step in cluster.steps
    )
