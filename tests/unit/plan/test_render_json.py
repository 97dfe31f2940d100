"""Plan JSON (SPEC §5): layout, exact round trip, and refusal of what is not a plan."""

from __future__ import annotations

import json
from typing import Any

import pytest

from reconciler.errors import ConfigError
from reconciler.plan.models import Plan
from reconciler.plan.render import load_plan_json, render_json
from tests.unit.plan.test_render_plans import (
    blocked_plan,
    converged_plan,
    huge_plan,
    master_change_plan,
    plan_of,
    reform_cluster,
    reform_plan,
)

ALL_PLANS = {
    "reform": reform_plan,
    "converged": converged_plan,
    "blocked": blocked_plan,
    "master_change": master_change_plan,
    "no_commit": lambda: plan_of(reform_cluster(), commit=None, dirty=True),
    "empty": lambda: plan_of(),
}


@pytest.mark.parametrize("make", ALL_PLANS.values(), ids=ALL_PLANS.keys())
def test_round_trip_is_exact(make: Any) -> None:
    plan: Plan = make()
    assert load_plan_json(render_json(plan)) == plan


def test_round_trip_of_a_huge_plan() -> None:
    plan = huge_plan()
    assert load_plan_json(render_json(plan)) == plan


def test_layout_follows_the_spec() -> None:
    text = render_json(reform_plan())
    assert text.endswith("}\n")
    assert text.splitlines()[1] == '  "format_version": 1,'
    data = json.loads(text)
    assert list(data)[:2] == ["format_version", "git"]
    assert data["git"] == {"commit": "1a2b3c4d5e6f708192a3b4c5d6e7f8091a2b3c4d", "dirty": False}
    cluster = data["clusters"][0]
    assert list(cluster)[:5] == ["name", "state_fingerprint", "strategy", "findings", "steps"]
    assert cluster["strategy"] == "reform"
    assert set(cluster["findings"][0]) == {"node", "what", "live", "desired", "severity"}
    first = cluster["steps"][0]
    assert first == {
        "id": 1,
        "node": "127.0.85.74",
        "node_name": "cms2",
        "action": "backup",
        "command": "backup snapshot reconcile-lab-20261127T0740Z",
        "reason": "before destructive steps",
        "backup_name": "reconcile-lab-20261127T0740Z",
    }
    upload = next(step for step in cluster["steps"] if step["action"] == "upload")
    assert upload["command"] == "put certs/lab/dbclusterserver.cer -> dbclusterserver.cer"
    assert upload["upload"]["remote_name"] == "dbclusterserver.cer"


def test_no_null_optional_keys() -> None:
    data = json.loads(render_json(reform_plan()))
    steps = data["clusters"][0]["steps"]
    for step in steps:
        assert None not in step.values(), step
    assert [step["after"] for step in steps if "after" in step] == [[16], [16]]
    assert all("message" not in f or f["message"] for f in data["clusters"][0]["findings"])


def test_unicode_stays_readable() -> None:
    cluster = reform_cluster().model_copy(update={"name": "zürich"})
    text = render_json(plan_of(cluster))
    assert '"name": "zürich"' in text
    assert load_plan_json(text).clusters[0].name == "zürich"


def _with(change: dict[str, Any]) -> str:
    data = json.loads(render_json(reform_plan()))
    data.update(change)
    return json.dumps(data)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("", "not valid JSON"),
        ("{not json", "not valid JSON (line 1"),
        ("[1, 2]", "must be a JSON object, not an array"),
        ('"plan"', "not a string"),
        ("{}", "no 'format_version'"),
        (_with({"format_version": 2}), "format_version 2 is not supported"),
        (_with({"format_version": "1"}), 'format_version "1" is not supported'),
        (_with({"format_version": True}), "format_version true is not supported"),
        (_with({"git": None}), "git"),
        (_with({"surprise": 1}), "surprise"),
    ],
)
def test_invalid_plans_are_config_errors(text: str, message: str) -> None:
    with pytest.raises(ConfigError, match="plan file") as raised:
        load_plan_json(text)
    assert message in str(raised.value)


def test_invalid_step_is_located() -> None:
    data = json.loads(render_json(reform_plan()))
    data["clusters"][0]["steps"][2]["action"] = "reboot"
    with pytest.raises(ConfigError) as raised:
        load_plan_json(json.dumps(data), source="plan.json")
    message = str(raised.value)
    assert message.startswith("plan.json: not a valid plan: clusters.0.steps.2.action:")


def test_many_errors_are_summarised() -> None:
    data = json.loads(render_json(reform_plan()))
    for step in data["clusters"][0]["steps"]:
        step["action"] = "reboot"
    with pytest.raises(ConfigError, match=r"and 13 more$"):
        load_plan_json(json.dumps(data))
