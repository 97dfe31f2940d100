"""Planner scenarios as data: tests/plans/<case>.yaml (desired + live -> expected plan)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

from reconciler.plan.planner import plan_cluster
from tests.support.planning import NOW, desired_cluster, live_cluster

SCENARIOS = sorted((Path(__file__).resolve().parents[2] / "plans").glob("*.yaml"))


def load(path: Path) -> dict[str, Any]:
    data: dict[str, Any] = yaml.safe_load(path.read_text())
    return data


def test_there_are_enough_scenarios() -> None:
    assert len(SCENARIOS) >= 14


@pytest.mark.parametrize("path", SCENARIOS, ids=[path.stem for path in SCENARIOS])
def test_scenario(path: Path) -> None:
    scenario = load(path)
    desired = desired_cluster(scenario["desired"])
    live = live_cluster(scenario["live"], desired)
    plan = plan_cluster(desired, live, now=NOW, recertify=scenario.get("recertify", False))
    expect = scenario["expect"]
    steps = [f"{step.node} {step.action.value} {step.command}" for step in plan.steps]
    if "steps" in expect:  # scenarios about data authority may leave the steps out
        assert steps == expect["steps"], "\n".join(steps)
    assert plan.strategy.value == expect["strategy"]
    assert plan.blocked is expect.get("blocked", False)
    authority = plan.data_authority
    assert (authority is not None and authority.master_change) is expect.get("master_change", False)
    for fragment in expect.get("messages", []):
        assert any(fragment in (finding.message or "") for finding in plan.findings), fragment
    if "summary" in expect:
        assert plan.impact.summary == expect["summary"]
    for what in expect.get("findings", []):
        node, kind = what.split(" ", 1)
        assert any(f.node == node and f.what == kind for f in plan.findings), what
