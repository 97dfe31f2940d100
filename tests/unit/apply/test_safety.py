"""The executor's own check of a plan (it may come from a file) before the first command."""

from __future__ import annotations

from typing import Any

import pytest

from reconciler.apply.safety import plan_problems
from reconciler.plan.models import Action, ClusterPlan, Impact, Step, Strategy, UploadFile
from tests.support.planning import desired_cluster

DESIRED = desired_cluster(
    {
        "master": "10.0.0.1",
        "nodes": [
            {"name": "cms1", "address": "10.0.0.1"},
            {"name": "cms2", "address": "10.0.0.2"},
        ],
        "bundle": {
            "server_key": ["s.key", "a"],
            "server_cert": ["s.cer", "b"],
            "client_key": ["c.key", "c"],
            "client_cert": ["c.cer", "d"],
            "ca_cert": ["ca.cer", "e"],
        },
    }
)
CERTS = "database cluster certs s.key s.cer c.key c.cer ca.cer"


def make_plan(*steps: tuple[str, Action, str], **extra: Any) -> ClusterPlan:
    return ClusterPlan(
        name="lab",
        state_fingerprint="x",
        strategy=Strategy.REFORM,
        findings=[],
        steps=[
            Step(
                id=number,
                node=node,
                node_name=node,
                action=action,
                command=command,
                reason="test",
                backup_name=command.split()[-1] if action is Action.BACKUP else None,
                **extra.get(str(number), {}),
            )
            for number, (node, action, command) in enumerate(steps, start=1)
        ],
        impact=Impact(restarts=[], max_nodes_out=0, estimated_seconds=0, summary=""),
    )


BACKUPS = [
    ("10.0.0.1", Action.BACKUP, "backup snapshot b1"),
    ("10.0.0.2", Action.BACKUP, "backup snapshot b1"),
]


def test_a_good_plan_passes() -> None:
    plan = make_plan(
        *BACKUPS,
        ("10.0.0.1", Action.REMOVE, "database cluster remove"),
        ("10.0.0.1", Action.CERTS, CERTS),
        ("10.0.0.1", Action.INITIALIZE, "database cluster initialize"),
        ("10.0.0.2", Action.JOIN, "database cluster join 10.0.0.1"),
    )
    assert plan_problems(plan, DESIRED) == []


@pytest.mark.parametrize(
    ("steps", "why"),
    [
        ([("10.0.0.1", Action.JOIN, "database cluster join 10.0.0.1")], "the master never joins"),
        (
            [("10.0.0.2", Action.INITIALIZE, "database cluster initialize")],
            "initialize only runs on the desired master",
        ),
        ([("10.0.0.2", Action.JOIN, "database cluster join 10.0.0.2")], "should be"),
        ([("10.0.0.2", Action.CERTS, "database cluster certs x y z")], "should be"),
        ([("10.0.0.9", Action.JOIN, "database cluster join 10.0.0.1")], "not a node"),
        (
            [
                ("10.0.0.1", Action.INITIALIZE, "database cluster initialize"),
                ("10.0.0.1", Action.REMOVE, "database cluster remove"),
            ],
            "just formed",
        ),
    ],
)
def test_rule_breaking_steps_are_named(steps: list[tuple[str, Action, str]], why: str) -> None:
    problems = plan_problems(make_plan(*BACKUPS, *steps), DESIRED)
    assert any(why in text for _, text in problems), problems


def test_a_destructive_step_needs_a_backup_first() -> None:
    plan = make_plan(("10.0.0.2", Action.REMOVE, "database cluster remove"))
    assert [why for _, why in plan_problems(plan, DESIRED)] == [
        "destructive step before a backup of this node (SPEC §6.2)"
    ]


def test_an_upload_must_be_the_desired_file() -> None:
    wanted = DESIRED.node("10.0.0.2").bundle.server_cert
    forged = UploadFile(
        role="server_cert", repo_path=wanted.path, remote_name="s.cer", sha256="0" * 64, size=1
    )
    plan = make_plan(("10.0.0.2", Action.UPLOAD, "put x -> s.cer"), **{"1": {"upload": forged}})
    assert [why for _, why in plan_problems(plan, DESIRED)] == [
        "the upload does not match the desired file"
    ]


BRIDGED = desired_cluster(
    {
        "master": "10.0.0.1",
        "nodes": [
            {"name": "cms1", "address": "10.0.0.1"},
            {"name": "cms2", "address": "10.0.0.2"},
        ],
        "connected": [{"name": "cb1", "address": "10.0.0.21"}],
        "bundle": {
            "server_key": ["s.key", "a"],
            "server_cert": ["s.cer", "b"],
            "client_key": ["c.key", "c"],
            "client_cert": ["c.cer", "d"],
            "ca_cert": ["ca.cer", "e"],
        },
    }
)
BRIDGE_BACKUP = ("10.0.0.21", Action.BACKUP, "backup snapshot b1")
BRIDGE_CERTS = ("10.0.0.21", Action.CERTS, "database cluster certs c.key c.cer ca.cer")
CONNECT = ("10.0.0.21", Action.CONNECT, "database cluster connect 10.0.0.1")
REFORM = [
    ("10.0.0.1", Action.REMOVE, "database cluster remove"),
    ("10.0.0.1", Action.CERTS, CERTS),
    ("10.0.0.1", Action.INITIALIZE, "database cluster initialize"),
]


def bridge_upload(of: str, **change: str) -> dict[str, Any]:
    wanted = next(file for file in BRIDGED.bridge_files() if file.role.value == of)
    fields = {"role": of, "repo_path": wanted.path, "remote_name": wanted.remote_name}
    fields |= {"sha256": wanted.sha256, **change}
    return {"upload": UploadFile(size=len(wanted.upload_bytes), **fields)}


def test_a_bridge_that_gets_its_client_files_and_connects_after_initialize_passes() -> None:
    steps = [
        *BACKUPS,
        BRIDGE_BACKUP,
        *REFORM,
        ("10.0.0.21", Action.UPLOAD, "put c.key"),
        BRIDGE_CERTS,
        CONNECT,
    ]
    plan = make_plan(*steps, **{"7": bridge_upload("client_key")})
    assert plan_problems(plan, BRIDGED) == []


@pytest.mark.parametrize(
    ("steps", "why"),
    [
        ([CONNECT, *REFORM], "connects only once the master has formed the cluster"),
        (
            [*REFORM, ("10.0.0.21", Action.CONNECT, "database cluster connect 10.0.0.2")],
            "should be 'database cluster connect 10.0.0.1'",
        ),
        (
            [("10.0.0.21", Action.CERTS, CERTS)],
            "should be 'database cluster certs c.key c.cer ca.cer'",
        ),
        ([("10.0.0.21", Action.JOIN, "database cluster join 10.0.0.1")], "gets no join"),
        ([("10.0.0.21", Action.INITIALIZE, "database cluster initialize")], "gets no initialize"),
        ([("10.0.0.21", Action.REMOVE, "database cluster remove")], "gets no remove"),
        (
            [("10.0.0.2", Action.CONNECT, "database cluster connect 10.0.0.1")],
            "connect only runs on a call bridge",
        ),
    ],
)
def test_a_bridge_gets_only_its_client_files_certs_and_connect(
    steps: list[tuple[str, Action, str]], why: str
) -> None:
    problems = plan_problems(make_plan(*BACKUPS, BRIDGE_BACKUP, *steps), BRIDGED)
    assert any(why in text for _, text in problems), problems


@pytest.mark.parametrize(
    "change",
    [
        {"sha256": "0" * 64},
        {"remote_name": "s.key"},
        {"role": "client_cert"},
        {"repo_path": "certs/elsewhere/c.key"},
    ],
)
def test_a_bridge_upload_must_be_one_of_the_clusters_client_files(change: dict[str, str]) -> None:
    upload = ("10.0.0.21", Action.UPLOAD, "put c.key")
    plan = make_plan(BRIDGE_BACKUP, upload, **{"2": bridge_upload("client_key", **change)})
    assert [why for _, why in plan_problems(plan, BRIDGED)] == [
        "the upload is not one of the cluster's client files for a call bridge"
    ]


def test_a_bridge_connect_needs_a_backup_of_the_bridge_first() -> None:
    plan = make_plan(*BACKUPS, *REFORM, CONNECT)
    assert [why for _, why in plan_problems(plan, BRIDGED)] == [
        "destructive step before a backup of this node (SPEC §6.2)"
    ]
