"""What a plan says first: a cluster already down or half taken apart, before any step runs.

Issue 23: a reviewer of the expired lab's plan read an outage bound and a step list, and
nothing said that the cluster was broken already, or that a plan continuing an interrupted
apply starts from a cluster half taken apart. ``ClusterPlan.condition`` says it, from what
was read (the planner scenarios of tests/plans), and every renderer says it first.
"""

from __future__ import annotations

import pytest

from reconciler.plan.models import Condition
from tests.unit.plan.test_render_plans import scenario_cluster


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        (
            "02-seed-expired",
            Condition(
                kind="broken",
                detail="the certificates in use have expired on cms1, cms2 and cms3; cms2 and "
                "cms3 are not in sync; cms1 is still master",
            ),
        ),
        (
            "09-half-some-removed",
            Condition(
                kind="taken_apart",
                detail="cms2 is Disabled, out of the cluster (its last command was "
                "'database cluster remove'); cms1 is still master",
            ),
        ),
        (
            "10-half-master-initialized",
            Condition(
                kind="taken_apart",
                detail="cms2 and cms3 are Disabled, out of the cluster (their last command was "
                "'database cluster remove'); cms1 is still master",
            ),
        ),
        (
            "17-half-all-disabled",
            Condition(kind="down", detail="no node is master; cms1, cms2 and cms3 are Disabled"),
        ),
        (
            "21-half-all-disabled-with-marker",
            Condition(
                kind="down",
                detail="no node is master; cms1, cms2 and cms3 are Disabled; cms1 holds the "
                "marker of a re-form reconcile started on 2026-11-27 07:35:00 UTC and did not "
                "finish",
            ),
        ),
        (
            "22-expired-master-lost-sight",
            Condition(
                kind="down",
                detail="no node is master; the certificates in use have expired on cms1, cms2 "
                "and cms3",
            ),
        ),
        (
            "14-half-disconnected-member",
            Condition(kind="broken", detail="cms3 sees no master; cms1 is still master"),
        ),
    ],
)
def test_a_cluster_already_out_of_service_is_said_so(name: str, expected: Condition) -> None:
    assert scenario_cluster(name).condition == expected


@pytest.mark.parametrize(
    "name",
    [
        "01-converged",
        "03-same-ca-rotation",  # valid certificates, all in sync: nothing is wrong yet
        "05-add-node",  # a new node Disabled is not a node taken out
        "06-drop-node",
        "08-master-change",  # the file names another master: a change, the cluster serves
        "15-unreachable-node",  # blocked: the read is incomplete, so nothing is claimed
    ],
)
def test_a_serving_cluster_has_no_condition(name: str) -> None:
    assert scenario_cluster(name).condition is None
