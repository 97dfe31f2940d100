"""Membership changes end to end: drop a member the file no longer lists, add a new node."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from reconciler.simulator.lab import SimNodeSpec, SimTopology, build_cluster
from reconciler.simulator.service import SimulatedCluster
from tests.e2e.conftest import LAB_ENV, reconcile
from tests.support.lab import FAST, LAB_NODES

pytestmark = pytest.mark.e2e
CMS4 = ("cms4", "127.0.85.76")
NODE4_LINE = "  - {name: cms4, address: 127.0.85.76, ssh_port: 2222}\n"


@pytest.fixture
def four_nodes(lab_repo: Path, tmp_path: Path) -> Iterator[SimulatedCluster]:
    """The lab plus cms4 on 127.0.85.76, with its host key pinned."""
    topology = SimTopology(
        name="lab",
        nodes=tuple(SimNodeSpec(n, a, a, 2222) for n, a in (*LAB_NODES, CMS4)),
        username="admin",
        password_env="CMS_LAB_PASSWORD",
        key_file_env=None,
    )
    cluster = build_cluster(
        lab_repo, topology, env=LAB_ENV, workdir=tmp_path / "sim", durations=FAST
    )
    with cluster:
        pins = lab_repo / "clusters" / "known_hosts"
        line = next(line for line in cluster.known_hosts_lines() if CMS4[1] in line)
        pins.write_text(pins.read_text() + line + "\n")
        yield cluster


def apply(repo: Path) -> None:
    result = reconcile("--apply", "--cluster", "lab", "--auto-approve", repo=repo)
    assert result.returncode == 0, result.stderr


def test_a_member_the_file_does_not_list_is_removed(
    four_nodes: SimulatedCluster, lab_repo: Path
) -> None:
    scenario = lab_repo / "sim" / "lab" / "scenario.yaml"
    assert "127.0.85.76" not in scenario.read_text()
    # Make cms4 a member of the running cluster, as if it had been clustered by hand.
    node4, master = four_nodes.node(CMS4[1]), four_nodes.node("127.0.85.73")
    with four_nodes.model.lock:
        assert master.group is not None
        master.group.members.append(CMS4[1])
        node4.group, node4.status = master.group, "Enabled"
    result = reconcile("--plan", "--cluster", "lab", "--format", "json", repo=lab_repo)
    assert result.returncode == 2, result.stdout[-1500:]
    steps = json.loads(result.stdout)["clusters"][0]["steps"]
    assert [s["action"] for s in steps if s["node"] == CMS4[1]] == ["backup", "remove"]
    apply(lab_repo)
    assert four_nodes.node(CMS4[1]).status == "Disabled"
    assert CMS4[1] not in (master.group.members if master.group else [])
    assert reconcile("--plan", "--cluster", "lab", repo=lab_repo).returncode == 0


def test_a_new_node_joins_a_converged_cluster_and_nothing_else_moves(
    four_nodes: SimulatedCluster, lab_repo: Path
) -> None:
    apply(lab_repo)  # the seed's rotation first
    before = {a: len(four_nodes.commands(a)) for _, a in LAB_NODES}
    cluster_file = lab_repo / "clusters" / "lab.yaml"
    text = cluster_file.read_text()
    anchor = "  - {name: cms3, address: 127.0.85.75, ssh_port: 2222}\n"
    cluster_file.write_text(text.replace(anchor, anchor + NODE4_LINE))
    plan = reconcile("--plan", "--cluster", "lab", "--format", "json", repo=lab_repo)
    assert plan.returncode == 2, plan.stderr
    cluster = json.loads(plan.stdout)["clusters"][0]
    assert cluster["strategy"] == "membership"
    assert {s["node"] for s in cluster["steps"]} == {CMS4[1]}
    apply(lab_repo)
    snapshot = {n["address"]: n for n in four_nodes.snapshot()["nodes"]}
    assert snapshot[CMS4[1]]["role"] == "replica"
    assert snapshot[CMS4[1]]["content_id"] == snapshot["127.0.85.73"]["content_id"]
    for _, address in LAB_NODES:
        changing = [
            c
            for c in four_nodes.commands(address)[before[address] :]
            if c != "database cluster status"
        ]
        assert changing == [], (address, changing)
