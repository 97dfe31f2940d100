"""Apply's decision per cluster (issue 26), on a fixed clock: deferred, run, or run despite
its window with a reason; and how a deferred cluster is judged and shown."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from reconciler.apply.apply import ApplyReport
from reconciler.apply.render import render_apply_markdown, render_apply_text
from reconciler.apply.results import judge
from reconciler.apply.window_gate import WindowGate, window_gate
from reconciler.desired.models import MaintenanceSpec
from reconciler.plan.models import Plan
from tests.unit.plan.test_render_plans import converged_cluster, renamed, scenario_cluster
from tests.unit.plan.test_takes_service import planned

WEEKEND = MaintenanceSpec.model_validate(
    {
        "timezone": "Europe/Berlin",
        "windows": [{"days": ["sat"], "start": "02:00", "duration": "4h"}],
    }
)
WEDNESDAY = datetime(2026, 12, 9, 10, 0, tzinfo=UTC)  # closed
SATURDAY = datetime(2026, 12, 12, 1, 30, tzinfo=UTC)  # 02:30 CET: open until 06:00 CET
LATE = datetime(2026, 12, 12, 4, 45, tzinfo=UTC)  # 05:45 CET: open, 15 min left


def plan_of(*clusters: Any) -> Plan:
    return Plan(
        git={"commit": None, "dirty": False},
        created_at=WEDNESDAY.isoformat(),
        clusters=list(clusters),
    )


SEED = scenario_cluster("02-seed-expired")  # a re-form: takes every member out of service


def test_a_closed_window_defers_a_plan_that_takes_service_and_says_when() -> None:
    plan = plan_of(renamed(SEED, "prod"), renamed(SEED, "lab"))
    gate = window_gate(plan, {"prod": WEEKEND, "lab": None}, now=WEDNESDAY)
    assert list(gate.deferred) == ["prod"]  # lab has no windows: any time
    assert gate.deferred["prod"] == (
        "deferred: outside the maintenance windows; the next opens Sat 02:00 CET (01:00 UTC), "
        "in 2 days 15 h"
    )
    assert [cluster.name for cluster in plan.clusters if gate.runs(cluster)] == ["lab"]


def test_inside_a_window_it_runs_unless_its_bound_does_not_fit() -> None:
    plan = plan_of(renamed(SEED, "prod"))
    assert window_gate(plan, {"prod": WEEKEND}, now=SATURDAY).deferred == {}
    late = window_gate(plan, {"prod": WEEKEND}, now=LATE).deferred["prod"]
    assert late.startswith("deferred: does not fit: the plan may take up to 43 min")
    assert "the window closes Sat 06:00 CET (05:00 UTC), in 15 min" in late


def test_a_plan_that_needs_no_window_and_a_converged_one_are_never_deferred() -> None:
    _, _, grow = planned("05-add-node")  # its file has a window, its plan needs none
    assert grow.window is not None
    assert grow.steps
    assert not grow.window.needed
    plan = plan_of(renamed(converged_cluster(), "idle"), renamed(grow, "grow"))
    gate = window_gate(plan, {"idle": WEEKEND, "grow": WEEKEND}, now=WEDNESDAY)
    assert gate.deferred == {}
    assert gate.ignored == {}


def test_ignore_window_runs_it_and_keeps_what_the_window_said() -> None:
    plan = plan_of(renamed(SEED, "prod"))
    gate = window_gate(plan, {"prod": WEEKEND}, now=WEDNESDAY, ignore_reason="INC-4711")
    assert gate.deferred == {}
    ignored = gate.ignored["prod"]
    assert ignored.reason == "INC-4711"
    assert ignored.text().startswith(
        "run outside its maintenance window (--ignore-window: INC-4711); deferred: outside"
    )


def test_a_later_decision_defers_what_the_first_ran() -> None:
    first = WindowGate(ignored={})
    later = WindowGate(deferred={"prod": "deferred: closed meanwhile"})
    merged = first.merged(later)
    assert merged.deferred == {"prod": "deferred: closed meanwhile"}


def test_a_deferred_cluster_is_judged_deferred_and_shown_so() -> None:
    plan = plan_of(renamed(SEED, "prod"))
    gate = window_gate(plan, {"prod": WEEKEND}, now=WEDNESDAY)
    results = judge(plan, [], None, gate)
    assert [(result.result, result.step) for result in results] == [("deferred", None)]
    report = ApplyReport(started=WEDNESDAY.isoformat(), results=results)
    assert not report.failed
    assert report.deferred == ["prod"]
    text = render_apply_text(report, plan)
    assert "  prod  deferred: outside the maintenance windows; the next opens Sat" in text
    markdown = render_apply_markdown(report, plan)
    assert "of `prod`: **deferred** ⏳" in markdown
    assert "nothing was sent to this cluster" in markdown
