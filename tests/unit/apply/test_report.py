"""The ``--apply --format json`` document: typed results, dumped in a fixed shape."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from reconciler.apply.apply import ApplyReport
from reconciler.apply.executor import BackupRecord, ClusterOutcome, StepOutcome
from reconciler.apply.outage import Outage, Span
from reconciler.plan.models import Action, GitInfo, Step


def step(id: int, action: Action, command: str) -> Step:
    return Step(
        id=id, node="10.0.0.2", node_name="cms2", action=action, command=command, reason="test"
    )


def report() -> ApplyReport:
    backup = step(1, Action.BACKUP, "backup snapshot b")
    remove = step(2, Action.REMOVE, "database cluster remove")
    join = step(3, Action.JOIN, "database cluster join 10.0.0.1")
    outcome = ClusterOutcome(
        name="lab",
        journal=".reconcile/journal/lab.jsonl",
        error="step 2 failed",
        backups=(
            BackupRecord(
                node="10.0.0.2",
                node_name="cms2",
                step=1,
                on_node="b.bak",
                local_copy=".reconcile/backups/lab/cms2/b.bak",
            ),
        ),
        outage=Outage(
            nodes_out=(
                Span(
                    from_step=2,
                    until_step=3,
                    node="10.0.0.2",
                    node_name="cms2",
                    started="2026-11-27T07:40:02+00:00",
                    ended=None,
                    seconds=2.0,
                    still_down=True,
                ),
            )
        ),
        steps=(
            StepOutcome.of(backup, "done", 1.5, "b"),
            StepOutcome.of(remove, "failed", 2.0, "timed out"),
            StepOutcome.of(join, "not run"),
        ),
    )
    return ApplyReport(
        started="2026-11-27T07:40:00+00:00",
        finished="2026-11-27T07:41:00+00:00",
        git=GitInfo(commit="abc", dirty=False),
        clusters=[outcome],
    )


def test_the_json_document_keeps_its_shape() -> None:
    document = report().as_json()
    assert document == {
        "started": "2026-11-27T07:40:00+00:00",
        "finished": "2026-11-27T07:41:00+00:00",
        "git": {"commit": "abc", "dirty": False},
        "converged": False,
        "rehearsal_skipped": False,
        "clusters": [
            {
                "name": "lab",
                "journal": ".reconcile/journal/lab.jsonl",
                "error": "step 2 failed",
                "backups": [
                    {
                        "node": "10.0.0.2",
                        "node_name": "cms2",
                        "step": 1,
                        "on_node": "b.bak",
                        "local_copy": ".reconcile/backups/lab/cms2/b.bak",
                    }
                ],
                "outage": {
                    "cluster_down": None,
                    "no_master": None,
                    "nodes_out": [
                        {
                            "from_step": 2,
                            "until_step": 3,
                            "node": "10.0.0.2",
                            "node_name": "cms2",
                            "down_before_apply": False,
                            "started": "2026-11-27T07:40:02+00:00",
                            "ended": None,
                            "seconds": 2.0,
                            "still_down": True,
                        }
                    ],
                    "bridges_out": [],
                },
                "steps": [
                    {
                        "id": 1,
                        "node": "10.0.0.2",
                        "action": "backup",
                        "command": "backup snapshot b",
                        "state": "done",
                        "seconds": 1.5,
                        "detail": "b",
                    },
                    {
                        "id": 2,
                        "node": "10.0.0.2",
                        "action": "remove",
                        "command": "database cluster remove",
                        "state": "failed",
                        "seconds": 2.0,
                        "detail": "timed out",
                    },
                    {
                        "id": 3,
                        "node": "10.0.0.2",
                        "action": "join",
                        "command": "database cluster join 10.0.0.1",
                        "state": "not run",
                        "seconds": 0.0,
                        "detail": None,
                    },
                ],
            }
        ],
    }
    assert list(document) == [
        "started",
        "finished",
        "git",
        "converged",
        "rehearsal_skipped",
        "clusters",
    ]
    assert list(document["clusters"][0]) == [
        "name",
        "journal",
        "error",
        "backups",
        "outage",
        "steps",
    ]


def test_results_say_what_happened() -> None:
    outcome = report().clusters[0]
    assert outcome.failed
    assert outcome.changed
    assert [(s.changed, s.failed) for s in outcome.steps] == [
        (True, False),
        (False, True),
        (False, False),
    ]
    assert report().failed


def test_results_are_frozen_and_states_are_closed() -> None:
    outcome = report().clusters[0]
    with pytest.raises(ValidationError):
        outcome.steps[0].state = "not run"  # type: ignore[misc]
    with pytest.raises(ValidationError):
        StepOutcome.of(step(1, Action.BACKUP, "backup snapshot b"), "skipped")  # type: ignore[arg-type]


@pytest.mark.reliability(
    section="truthful", case="apply's JSON lists every planned cluster with its result"
)
def test_the_json_lists_every_planned_cluster_with_its_result() -> None:
    """A cluster that failed, one never started and one converged: all three, in plan order,
    each with ``result``, ``step`` and ``summary`` before its outcome."""
    from reconciler.apply.results import judge
    from tests.unit.plan.test_render_plans import converged_cluster, lab_seed_cluster, renamed
    from tests.unit.plan.test_render_plans import lab_seed_plan as plan_of

    east, west = renamed(lab_seed_cluster(), "east"), renamed(lab_seed_cluster(), "west")
    plan = plan_of(east, west, converged_cluster("idle"))
    failed = report().clusters[0].model_copy(update={"name": "east"})
    final = plan_of(converged_cluster("idle"))
    document = (
        report()
        .model_copy(
            update={"clusters": [failed], "results": judge(plan, [failed], final)},
        )
        .as_json()
    )
    clusters = document["clusters"]
    assert [(c["name"], c["result"], c["step"], c["summary"]) for c in clusters] == [
        ("east", "failed", 2, "failed at step 2"),
        ("west", "not started", None, "not started"),
        ("idle", "converged", None, "converged"),
    ]
    assert list(clusters[0]) == [
        "name",
        "result",
        "step",
        "summary",
        "window",
        "journal",
        "error",
        "backups",
        "outage",
        "steps",
    ]
    assert clusters[0]["journal"] == ".reconcile/journal/lab.jsonl"
    assert len(clusters[0]["steps"]) == 3
    assert clusters[1]["journal"] is clusters[1]["error"] is None
    assert clusters[1]["steps"] == clusters[2]["steps"] == []
    assert clusters[1]["outage"] is clusters[2]["outage"] is None
