"""Apply's own rehearsal gate: which plans it refuses, and the one line that says why."""

from __future__ import annotations

import pytest

from reconciler.errors import Refused
from reconciler.plan.models import ClusterPlan, Plan, Rehearsal
from reconciler.rehearse.gate import refuse_unrehearsed, twin_stopped
from tests.unit.plan.test_render_plans import converged_cluster, lab_seed_cluster, lab_seed_plan

FAILED_JOIN = (
    "step 26 (join) on cms2 (127.0.85.74) failed: cms2: 'database cluster join 127.0.85.73' "
    "ended (Failed)\n  command: database cluster join 127.0.85.73"
)


def rehearsed(rehearsal: Rehearsal | None) -> tuple[ClusterPlan, Plan]:
    cluster = lab_seed_cluster().model_copy(update={"rehearsal": rehearsal})
    return cluster, lab_seed_plan(cluster, converged_cluster("idle"))


def test_a_converging_plan_passes_and_a_cluster_without_steps_needs_no_rehearsal() -> None:
    refuse_unrehearsed(rehearsed(Rehearsal(converges=True, steps_run=27))[1])


@pytest.mark.parametrize(
    ("rehearsal", "where"),
    [
        (
            Rehearsal(converges=False, steps_run=26, problem=FAILED_JOIN),
            "(the twin stopped at step 26 of 27: step 26 (join) on cms2 (127.0.85.74) failed: "
            "cms2: 'database cluster join 127.0.85.73' ended (Failed))",
        ),
        (
            Rehearsal(converges=False, steps_run=0, problem="the plan breaks the safety rules"),
            "(the twin stopped before its first step: the plan breaks the safety rules)",
        ),
        (
            Rehearsal(
                converges=False,
                steps_run=27,
                problem="planning again from the twin's end state still plans 1 step(s)",
            ),
            "(the twin ran all 27 steps: planning again from the twin's end state still "
            "plans 1 step(s))",
        ),
    ],
)
def test_a_plan_that_does_not_converge_is_refused_in_one_line(
    rehearsal: Rehearsal, where: str
) -> None:
    cluster, plan = rehearsed(rehearsal)
    assert f"({twin_stopped(cluster, rehearsal)})" == where
    with pytest.raises(Refused) as refused:
        refuse_unrehearsed(plan)
    message = str(refused.value)
    assert "\n" not in message
    assert message.startswith(
        "cluster lab: the plan does not converge on a twin of the live cluster " + where
    )
    assert message.endswith(
        "so nothing was sent; fix the cause and plan again, or apply anyway with --skip-rehearsal"
    )


def test_a_plan_with_no_rehearsal_is_refused() -> None:
    with pytest.raises(Refused, match="cluster lab: its plan was not rehearsed on a twin"):
        refuse_unrehearsed(rehearsed(None)[1])
