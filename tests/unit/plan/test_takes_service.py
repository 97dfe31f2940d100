"""Which plans need a maintenance window (issue 26): those that take something serving out of
service, read off the planner's own scenarios with a window added to the cluster file."""

from __future__ import annotations

from typing import Any

import pytest
from rich.console import Console

from reconciler.plan.facts import gather_facts
from reconciler.plan.models import GitInfo, Plan
from reconciler.plan.planner import plan_cluster, takes_service
from reconciler.plan.render.markdown import render_markdown
from reconciler.plan.render.text import render_text
from reconciler.plan.render.window import NOT_NEEDED, window_sentence
from tests.support.planning import NOW, desired_cluster, live_cluster
from tests.unit.plan.test_render_plans import scenario

CLOSED = {"timezone": "UTC", "windows": [{"days": ["sun"], "start": "02:00", "duration": "1h"}]}
# NOW is a Friday (tests/support/planning.py): a Sunday-only window is closed.


def planned(name: str, maintenance: dict[str, Any] | None = CLOSED) -> Any:
    data = scenario(name)
    desired_data = {**data["desired"], **({"maintenance": maintenance} if maintenance else {})}
    desired = desired_cluster(desired_data)
    live = live_cluster(data["live"], desired)
    return desired, live, plan_cluster(desired, live, now=NOW)


@pytest.mark.parametrize(
    ("name", "needed", "why"),
    [
        ("02-seed-expired", True, "a re-form removes the serving members"),
        ("06-drop-node", True, "a serving member leaves"),
        ("12-half-replica-old-certs", True, "a serving replica leaves and joins again"),
        ("57-connected-bridge-uses-replica", True, "a bridge using a database reconnects"),
        ("17-half-all-disabled", False, "every node is Disabled: the cluster is down already"),
        ("05-add-node", False, "only a node that is not clustered yet joins"),
        ("01-converged", False, "nothing runs"),
    ],
)
def test_a_plan_needs_a_window_when_it_takes_something_serving_out(
    name: str, needed: bool, why: str
) -> None:
    desired, live, plan = planned(name)
    assert takes_service(gather_facts(desired, live), plan.steps) is needed, why
    assert plan.window is not None
    assert plan.window.needed is needed
    assert plan.window.applies_now is not needed, plan.window.says


def test_a_plan_without_maintenance_has_no_window_report() -> None:
    _, _, plan = planned("02-seed-expired", maintenance=None)
    assert plan.window is None


def test_the_report_says_when_and_counts_the_plans_own_bound() -> None:
    _, _, plan = planned("02-seed-expired")
    window = plan.window
    assert window is not None
    assert window.expected_seconds == plan.impact.estimated_seconds
    assert not window.open_now
    assert window.says.startswith("deferred: outside the maintenance windows; the next opens Sun")


def test_the_plan_says_when_it_applies_in_text_and_in_the_comment() -> None:
    _, _, cluster = planned("02-seed-expired")
    plan = Plan(
        git=GitInfo(commit=None, dirty=False), created_at=NOW.isoformat(), clusters=[cluster]
    )
    said = (
        "applies in the next maintenance window: Sun 02:00 UTC, in 1 day 18 h (an apply "
        "before then is deferred, exit 3)"
    )
    assert window_sentence(cluster, plan.created_at) == said
    assert f"- **Maintenance window:** {said}." in render_markdown(plan)
    console = Console(record=True, width=300)
    render_text(plan, console)
    assert f"  maintenance window: {said}" in console.export_text()


def test_a_plan_that_needs_no_window_says_so_and_a_converged_one_says_nothing() -> None:
    _, _, grow = planned("05-add-node")
    assert window_sentence(grow, NOW.isoformat()) == NOT_NEEDED
    _, _, converged = planned("01-converged")
    assert window_sentence(converged, NOW.isoformat()) is None
