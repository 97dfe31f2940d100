"""Load a planner scenario (tests/plans/*.yaml) with real key material, and plan it."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from reconciler.desired.state import DesiredCluster
from reconciler.live.models import LiveCluster
from reconciler.plan.models import ClusterPlan
from reconciler.plan.planner import plan_cluster
from tests.support.planning import NOW, desired_cluster, live_cluster
from tests.unit.rehearse.material import real_contents

PLANS = Path(__file__).resolve().parents[2] / "plans"
SCENARIOS = sorted(PLANS.glob("*.yaml"))


@dataclass(frozen=True)
class Scenario:
    data: dict[str, Any]
    desired: DesiredCluster
    live: LiveCluster
    plan: ClusterPlan


def scenario(path: Path) -> Scenario:
    data: dict[str, Any] = yaml.safe_load(path.read_text())
    with real_contents(data["desired"]):
        desired = desired_cluster(data["desired"])
        live = live_cluster(data["live"], desired)
    recertify = data.get("recertify", False)
    return Scenario(data, desired, live, plan_cluster(desired, live, now=NOW, recertify=recertify))


def named(stem: str) -> Scenario:
    return scenario(PLANS / f"{stem}.yaml")
