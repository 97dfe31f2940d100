"""Connected call bridges (issue 24, item 7): a plan that would cut them off is refused.

The lab's seed needs a re-form (its certificates expired), which takes the database away from
any call bridge attached with `database cluster connect`; with `connected:` in the cluster
file, plan and apply refuse it and nothing changes. Once the cluster is converged, the same
file plans no change: bridges block only what would cut them off.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from reconciler.simulator.service import SimulatedCluster
from tests.e2e.conftest import reconcile
from tests.support.lab import CHANGING, LabAddresses

pytestmark = pytest.mark.e2e
NODES = ("cms1", "cms2", "cms3")


def attach_bridge(repo: Path, address: str) -> None:
    path = repo / "clusters" / "lab.yaml"
    path.write_text(path.read_text() + f"connected:\n  - {{name: cb1, address: {address}}}\n")


def test_a_reform_with_a_connected_bridge_is_refused_and_nothing_changes(
    lab_sim: SimulatedCluster, lab_repo: Path, lab_addresses: LabAddresses
) -> None:
    attach_bridge(lab_repo, lab_addresses.spare)
    plan = reconcile("--plan", "--cluster", "lab", "--format", "json", repo=lab_repo)
    assert plan.returncode == 1, plan.stderr
    (cluster,) = json.loads(plan.stdout)["clusters"]
    assert cluster["blocked"] is True
    assert cluster["steps"] == []
    (finding,) = [f for f in cluster["findings"] if f["severity"] == "error"]
    assert finding["what"] == "connected"
    assert finding["desired"] == f"cb1 ({lab_addresses.spare})"
    assert "lose the database until" in finding["message"]
    assert f"`database cluster connect {lab_addresses.cms1}`" in finding["message"]
    text = reconcile("--plan", "--cluster", "lab", repo=lab_repo)
    assert text.returncode == 1
    assert "these call bridges, attached with `database cluster connect`" in text.stdout
    apply = reconcile("--apply", "--cluster", "lab", "--auto-approve", repo=lab_repo)
    assert apply.returncode == 1
    for node in NODES:
        sent = lab_sim.commands(node)
        assert not [command for command in sent if command.startswith(CHANGING)], sent


def test_a_converged_cluster_with_a_connected_bridge_plans_no_change(
    lab_sim: SimulatedCluster, lab_repo: Path, lab_addresses: LabAddresses
) -> None:
    converged = reconcile("--apply", "--cluster", "lab", "--auto-approve", repo=lab_repo)
    assert converged.returncode == 0, converged.stderr
    attach_bridge(lab_repo, lab_addresses.spare)
    plan = reconcile("--plan", "--cluster", "lab", "--format", "json", repo=lab_repo)
    assert plan.returncode == 0, plan.stderr
    (cluster,) = json.loads(plan.stdout)["clusters"]
    assert (cluster["blocked"], cluster["steps"]) == (False, [])
