"""The planner's ``after``: which steps on other nodes each step waits for (SPEC §5)."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from reconciler.plan.models import Action, ClusterPlan, Step
from reconciler.plan.planner import plan_cluster
from tests.support.planning import NOW, desired_cluster, live_cluster

PLANS = Path(__file__).resolve().parents[2] / "plans"
SCENARIOS = sorted(PLANS.glob("*.yaml"))


def planned(stem: str) -> ClusterPlan:
    scenario = yaml.safe_load((PLANS / f"{stem}.yaml").read_text())
    desired = desired_cluster(scenario["desired"])
    live = live_cluster(scenario["live"], desired)
    return plan_cluster(desired, live, now=NOW, recertify=scenario.get("recertify", False))


def waits(plan: ClusterPlan) -> dict[str, list[int]]:
    """``after`` of every step that has one, keyed ``"<id> <node> <action>"``."""
    return {
        f"{step.id} {step.node} {step.action.value}": step.after
        for step in plan.steps
        if step.after is not None
    }


def step_of(plan: ClusterPlan, node: str, action: Action) -> Step:
    return next(step for step in plan.steps if step.node == node and step.action is action)


def test_no_node_changes_before_every_node_is_backed_up() -> None:
    plan = planned("08-master-change")
    backups = {step.node: step.id for step in plan.steps if step.action is Action.BACKUP}
    first = step_of(plan, "10.0.0.3", Action.REMOVE)
    assert first.after == sorted(backups[node] for node in ("10.0.0.1", "10.0.0.2"))


def test_a_reform_takes_the_old_master_out_after_the_others_and_forms_before_any_join() -> None:
    # cms1 (10.0.0.1) is the live master; the file names cms2: a reform on cms2. Waits
    # another wait implies are left out: initialize follows cms2's own remove, which
    # already waited for the other removes.
    plan = planned("08-master-change")
    assert waits(plan) == {
        "4 10.0.0.3 remove": [1, 2],
        "5 10.0.0.1 remove": [4],
        "6 10.0.0.2 remove": [5],
        "11 10.0.0.1 join": [10],
        "12 10.0.0.3 join": [10],
    }


def test_initialize_waits_for_the_last_remove_when_the_master_is_already_out() -> None:
    # cms2 promoted itself while cms1, the desired master, is out: cms1 has no remove.
    plan = planned("18-promoted-replica")
    removes = [step for step in plan.steps if step.action is Action.REMOVE]
    assert [step.node for step in removes] == ["10.0.0.3", "10.0.0.2"]
    assert removes[1].after == [removes[0].id]
    assert step_of(plan, "10.0.0.1", Action.INITIALIZE).after == [removes[1].id]
    initialize = step_of(plan, "10.0.0.1", Action.INITIALIZE).id
    joins = [step for step in plan.steps if step.action is Action.JOIN]
    assert [step.after for step in joins] == [[initialize], [initialize]]


def test_a_rolling_plan_takes_one_replica_out_at_a_time() -> None:
    plan = planned("33-rolling-every-replica")
    first_join = step_of(plan, "10.0.0.1", Action.JOIN)
    assert step_of(plan, "10.0.0.3", Action.REMOVE).after == [first_join.id]


def test_a_member_is_dropped_only_after_the_new_node_joined() -> None:
    plan = planned("34-add-and-drop")
    join = step_of(plan, "10.0.0.4", Action.JOIN)
    assert step_of(plan, "10.0.0.3", Action.REMOVE).after == [join.id]


@pytest.mark.parametrize("path", SCENARIOS, ids=[path.stem for path in SCENARIOS])
def test_after_names_only_earlier_steps_on_other_nodes(path: Path) -> None:
    plan = planned(path.stem)
    by_id = {step.id: step for step in plan.steps}
    for step in plan.steps:
        for earlier in step.after or []:
            assert earlier < step.id, step
            assert by_id[earlier].node != step.node, step
        assert step.after != [], step  # no wait is None, never an empty list
        if step.action in (Action.BACKUP, Action.UPLOAD):
            assert step.after is None, step


def must_precede(plan: ClusterPlan) -> dict[int, set[int]]:
    """Every step that must be done before each step: ``after`` and its node's order."""
    before: dict[int, set[int]] = {}
    previous_on: dict[str, int] = {}
    for step in plan.steps:
        edges = set(step.after or [])
        if step.node in previous_on:
            edges.add(previous_on[step.node])
        before[step.id] = edges.union(*(before[edge] for edge in edges))
        previous_on[step.node] = step.id
    return before


@pytest.mark.parametrize("path", SCENARIOS, ids=[path.stem for path in SCENARIOS])
def test_the_required_order_survives_leaving_out_implied_waits(path: Path) -> None:
    plan = planned(path.stem)
    before = must_precede(plan)
    backups = {step.id for step in plan.steps if step.action is Action.BACKUP}
    formed = {step.id for step in plan.steps if step.action is Action.INITIALIZE}
    for step in plan.steps:
        if step.action not in (Action.BACKUP, Action.UPLOAD):
            assert backups <= before[step.id], step
        if step.action is Action.JOIN:
            assert formed <= before[step.id], step
        if step.action is Action.INITIALIZE:
            removes = {other.id for other in plan.steps if other.action is Action.REMOVE}
            assert removes <= before[step.id], step
