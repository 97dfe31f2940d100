"""A rehearsal says what it assumed: operations succeed, even where the last one failed.

Issue 23, item 8: right after `join` failed on a node, the rehearsal said "converges in N
steps" with no caveat. It must say that the device's operations are assumed to succeed, and
name every node whose last cluster command failed, in text, markdown and JSON.
"""

from __future__ import annotations

import copy
import io
import json
from typing import Any

from rich.console import Console

from reconciler.plan.models import Action, Plan
from reconciler.plan.planner import plan_cluster
from reconciler.plan.render.json import load_plan_json, render_json
from reconciler.plan.render.markdown import render_markdown
from reconciler.plan.render.text import render_text
from reconciler.rehearse.rehearse import OPERATIONS_SUCCEED, rehearse_cluster
from tests.support.planning import NOW, desired_cluster, live_cluster
from tests.unit.rehearse.material import real_contents
from tests.unit.rehearse.scenarios import named

JOIN = "database cluster join 10.0.0.2"
FAILED_ON_CMS1 = (
    f"cms1: its last cluster command, '{JOIN}', failed; the read cannot show why, and the twin "
    "assumes that what the plan runs on cms1 succeeds (it may fail the same way again)"
)


def _after_a_failed_join() -> Plan:
    """Scenario 31 once apply has re-configured cms1 and its join ended (Failed): cms1 is
    Disabled with the desired files loaded; the plan is its backup, certs and join again."""
    data: dict[str, Any] = copy.deepcopy(named("31-rolling-first-replica").data)
    cms1 = data["live"]["nodes"]["10.0.0.1"]
    cms1["state"] = "Disabled"
    cms1["members"] = {}
    cms1["node_in_use"] = "None"
    cms1["files"] = dict(data["live"]["nodes"]["10.0.0.3"]["files"])  # the desired ones
    cms1["last"] = f"'{JOIN}' (Failed)"
    for other in ("10.0.0.2", "10.0.0.3"):
        data["live"]["nodes"][other]["members"].pop("10.0.0.1")
    with real_contents(data["desired"]):
        desired = desired_cluster(data["desired"])
        live = live_cluster(data["live"], desired)
    plan = plan_cluster(desired, live, now=NOW)
    assert [step.action for step in plan.steps] == [Action.BACKUP, Action.CERTS, Action.JOIN]
    rehearsal = rehearse_cluster(plan, desired, live)
    return Plan.model_validate(
        {
            "git": {"commit": "abc1234", "dirty": False},
            "created_at": "2026-11-27T07:40:00+00:00",
            "clusters": [plan.model_copy(update={"rehearsal": rehearsal}).model_dump()],
        }
    )


def test_the_rehearsal_names_the_node_whose_last_command_failed() -> None:
    plan = _after_a_failed_join()
    rehearsal = plan.clusters[0].rehearsal
    assert rehearsal is not None
    assert rehearsal.converges  # the twin's join succeeds: that is the assumption to say
    assert rehearsal.last_command_failed == ["cms1"]
    assert FAILED_ON_CMS1 in rehearsal.assumptions
    assert OPERATIONS_SUCCEED in rehearsal.assumptions

    # JSON: clusters[].rehearsal, and a saved plan loads back the same.
    text = render_json(plan)
    saved = json.loads(text)["clusters"][0]["rehearsal"]
    assert saved["last_command_failed"] == ["cms1"]
    assert FAILED_ON_CMS1 in saved["assumptions"]
    assert OPERATIONS_SUCCEED in saved["assumptions"]
    assert load_plan_json(text) == plan

    # Text: the verdict carries the caveat, the assumptions follow.
    out = io.StringIO()
    render_text(plan, Console(file=out, width=400))
    shown = out.getvalue()
    assert (
        "Rehearsed on a twin: converges in 3 steps, device work about 1 min; assumed: "
        "operations succeed, though the last cluster command failed on cms1"
    ) in shown
    assert f"  assumed: {FAILED_ON_CMS1}" in shown
    assert f"  assumed: {OPERATIONS_SUCCEED}" in shown

    # Markdown: a warning, not a tick, and the same words.
    comment = render_markdown(plan)
    assert (
        "- ⚠️ **Rehearsal:** rehearsed on a twin: converges in 3 steps, device work about "
        "1 min; assumed: operations succeed, though the last cluster command failed on cms1."
    ) in comment
    assert f"- {FAILED_ON_CMS1}" in comment.replace("\\", "")
    assert f"- {OPERATIONS_SUCCEED}" in comment.replace("\\", "")


def test_every_rehearsal_says_operations_are_assumed_to_succeed() -> None:
    case = named("31-rolling-first-replica")
    rehearsal = rehearse_cluster(case.plan, case.desired, case.live)
    assert rehearsal.converges
    assert OPERATIONS_SUCCEED in rehearsal.assumptions
    assert rehearsal.last_command_failed == []
    assert not any("last cluster command" in text for text in rehearsal.assumptions)


def test_a_failed_command_is_named_even_where_nothing_runs_on_that_node() -> None:
    """13-half-replica-error: a replica whose upgrade_schema failed (its last command)."""
    case = named("13-half-replica-error")
    rehearsal = rehearse_cluster(case.plan, case.desired, case.live)
    failed = [
        node.name
        for node in case.live.nodes
        if node.status is not None
        and node.status.last_command is not None
        and node.status.last_command.result == "Failed"
    ]
    assert failed  # the scenario has one
    assert rehearsal.last_command_failed == failed
    for name in failed:
        assert any(
            text.startswith(f"{name}: its last cluster command, ") for text in rehearsal.assumptions
        )
