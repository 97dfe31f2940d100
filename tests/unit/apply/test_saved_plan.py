"""A saved plan file is applied only when it is, field by field, what this run plans."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from reconciler.apply.apply import check_saved_plan
from reconciler.errors import StalePlan
from reconciler.plan.models import Action, GitInfo, Plan
from reconciler.plan.planner import plan_cluster
from reconciler.reconcile import backup_time_of
from tests.support.planning import desired_cluster, live_cluster
from tests.unit.plan.test_render_plans import scenario

MADE = datetime(2026, 11, 27, 7, 40, 12, tzinfo=UTC)


def planned(backup_time: datetime | None, now: datetime = MADE) -> Plan:
    data = scenario("02-seed-expired")
    desired = desired_cluster(data["desired"])
    cluster = plan_cluster(
        desired, live_cluster(data["live"], desired), now=now, backup_time=backup_time
    )
    return Plan(
        git=GitInfo(commit="abc", dirty=False),
        created_at=MADE.isoformat(timespec="seconds"),
        clusters=[cluster],
    )


def edited_backup(plan: Plan, name: str) -> Plan:
    cluster = plan.clusters[0]
    steps = [
        step.model_copy(update={"backup_name": name, "command": f"backup snapshot {name}"})
        if step.action is Action.BACKUP
        else step
        for step in cluster.steps
    ]
    return plan.model_copy(update={"clusters": [cluster.model_copy(update={"steps": steps})]})


def test_an_unedited_plan_file_matches_a_later_run() -> None:
    saved = planned(None)
    later = planned(backup_time_of(saved), now=MADE + timedelta(minutes=20))
    check_saved_plan(saved, later)


def test_a_backup_name_edited_to_another_plausible_stamp_is_refused() -> None:
    """Review finding: any `reconcile-<cluster>-<stamp>` name used to be accepted."""
    saved = edited_backup(planned(None), "reconcile-lab-20200101T000000Z")
    later = planned(backup_time_of(saved), now=MADE + timedelta(minutes=20))
    with pytest.raises(StalePlan, match="differs in backup_name"):
        check_saved_plan(saved, later)


def test_abackup_time_of_with_an_offset_names_backups_in_utc() -> None:
    saved = planned(None)
    same_instant = saved.model_copy(update={"created_at": "2026-11-27T12:40:12+05:00"})
    assert backup_time_of(same_instant) == MADE
    check_saved_plan(saved, planned(backup_time_of(same_instant)))


def test_a_fresh_cluster_missing_from_the_file_is_refused() -> None:
    saved = planned(None)
    empty = saved.model_copy(update={"clusters": []})
    with pytest.raises(StalePlan, match="does not hold cluster lab"):
        check_saved_plan(empty, planned(backup_time_of(saved)))
