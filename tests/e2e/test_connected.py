"""Connected call bridges (issue 24, item 7): read like nodes; a plan that would cut them off
is refused.

The lab here has a call bridge, cb1 on the spare address, served by the simulator as a
connected node (choices.py: status.connected) and seeded connected to cms1 with the seed's
client files. Every plan reads its status; one it cannot read blocks the plan. The seed needs
a re-form (its certificates expired), which takes the database away from the bridge: plan and
apply refuse it and nothing changes. Once the cluster is converged, the same file plans no
change: bridges block only what would cut them off.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml

from reconciler.simulator.service import SimulatedCluster
from tests.e2e.conftest import lab_cluster, reconcile
from tests.support.lab import CHANGING, LabAddresses

pytestmark = pytest.mark.e2e
NODES = ("cms1", "cms2", "cms3")


def attach_bridge(repo: Path, addresses: LabAddresses) -> None:
    path = repo / "clusters" / "lab.yaml"
    path.write_text(
        path.read_text()
        + f"connected:\n  - {{name: cb1, address: {addresses.spare}, ssh_port: {addresses.port}}}\n"
    )


def detach_bridge(repo: Path) -> None:
    path = repo / "clusters" / "lab.yaml"
    path.write_text(path.read_text().split("connected:\n", 1)[0])


@pytest.fixture
def bridged(
    lab_repo: Path, lab_addresses: LabAddresses, tmp_path: Path
) -> Iterator[SimulatedCluster]:
    """The lab with cb1 in `connected:`, served, pinned and connected to cms1."""
    attach_bridge(lab_repo, lab_addresses)
    scenario = lab_repo / "sim" / "lab" / "scenario.yaml"
    data = yaml.safe_load(scenario.read_text())
    scenario.write_text(yaml.safe_dump({**data, "connected_to": lab_addresses.cms1}))
    with lab_cluster(lab_repo, tmp_path / "sim") as sim:
        pins = lab_repo / "clusters" / "known_hosts"
        bridge_pin = [line for line in sim.known_hosts_lines() if lab_addresses.spare in line]
        pins.write_text(pins.read_text() + "\n".join(bridge_pin) + "\n")
        yield sim


def test_the_bridge_is_read_and_a_reform_that_cuts_it_off_is_refused(
    bridged: SimulatedCluster, lab_repo: Path, lab_addresses: LabAddresses
) -> None:
    plan = reconcile("--plan", "--cluster", "lab", "--format", "json", repo=lab_repo)
    assert plan.returncode == 1, plan.stderr
    (cluster,) = json.loads(plan.stdout)["clusters"]
    assert cluster["blocked"] is True
    assert cluster["steps"] == []
    (finding,) = [f for f in cluster["findings"] if f["severity"] == "error"]
    assert finding["what"] == "connected"
    assert finding["desired"] == f"cb1 ({lab_addresses.spare})"
    # Read: the seed's certificates expired, so the bridge uses no database already.
    assert finding["live"] == "cb1 uses no database"
    assert "lose the database until" in finding["message"]
    assert f"`database cluster connect {lab_addresses.cms1}`" in finding["message"]
    assert bridged.commands("cb1") == ["database cluster status"]
    text = reconcile("--plan", "--cluster", "lab", repo=lab_repo)
    assert text.returncode == 1
    assert "these call bridges, attached with `database cluster connect`" in text.stdout
    apply = reconcile("--apply", "--cluster", "lab", "--auto-approve", repo=lab_repo)
    assert apply.returncode == 1
    for node in (*NODES, "cb1"):
        sent = bridged.commands(node)
        assert not [command for command in sent if command.startswith(CHANGING)], sent


def test_a_bridge_that_cannot_be_read_blocks_the_plan(
    bridged: SimulatedCluster, lab_repo: Path, lab_addresses: LabAddresses
) -> None:
    bridged.set_down("cb1")
    plan = reconcile("--plan", "--cluster", "lab", "--format", "json", repo=lab_repo)
    assert plan.returncode == 1, plan.stderr
    (cluster,) = json.loads(plan.stdout)["clusters"]
    assert (cluster["blocked"], cluster["steps"]) == (True, [])
    errors = [f for f in cluster["findings"] if f["severity"] == "error"]
    assert [(f["node"], f["what"]) for f in errors] == [(lab_addresses.spare, "unreachable")]
    assert "(a connected call bridge)" in errors[0]["message"]


def test_a_bridge_whose_status_is_not_a_connected_one_blocks_the_plan(
    bridged: SimulatedCluster, lab_repo: Path, lab_addresses: LabAddresses
) -> None:
    bridged.node("cb1").connected_to = None  # shows Disabled: not connected after all
    plan = reconcile("--plan", "--cluster", "lab", "--format", "json", repo=lab_repo)
    assert plan.returncode == 1, plan.stderr
    (cluster,) = json.loads(plan.stdout)["clusters"]
    errors = [f for f in cluster["findings"] if f["severity"] == "error"]
    assert [(f["node"], f["what"]) for f in errors] == [(lab_addresses.spare, "unreadable")]
    assert "its status 'Disabled' is not a connected call bridge's" in errors[0]["message"]


def test_a_converged_cluster_with_a_connected_bridge_plans_no_change(
    bridged: SimulatedCluster, lab_repo: Path, lab_addresses: LabAddresses
) -> None:
    detach_bridge(lab_repo)  # converge the lab first, with nothing attached
    converged = reconcile("--apply", "--cluster", "lab", "--auto-approve", repo=lab_repo)
    assert converged.returncode == 0, converged.stderr
    assert bridged.commands("cb1") == []
    attach_bridge(lab_repo, lab_addresses)
    plan = reconcile("--plan", "--cluster", "lab", "--format", "json", repo=lab_repo)
    assert plan.returncode == 0, plan.stderr
    (cluster,) = json.loads(plan.stdout)["clusters"]
    assert (cluster["blocked"], cluster["steps"]) == (False, [])
    assert bridged.commands("cb1") == ["database cluster status"]
