"""Membership changes end to end: drop a member the file no longer lists, add a new node."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from reconciler.simulator.lab import SimNodeSpec, SimTopology, build_cluster
from reconciler.simulator.service import SimulatedCluster
from tests.e2e.conftest import LAB_ENV, reconcile
from tests.support.lab import FAST, LabAddresses

pytestmark = pytest.mark.e2e


def node_line(name: str, address: str, port: int) -> str:
    """A node's line in clusters/lab.yaml, as the file writes it."""
    return f"  - {{name: {name}, address: {address}, ssh_port: {port}}}\n"


@pytest.fixture
def four_nodes(
    lab_repo: Path, lab_addresses: LabAddresses, tmp_path: Path
) -> Iterator[SimulatedCluster]:
    """The lab plus cms4 on the spare address, with its host key pinned."""
    nodes = {**lab_addresses.by_name, "cms4": lab_addresses.spare}
    topology = SimTopology(
        name="lab",
        nodes=tuple(SimNodeSpec(n, a, a, lab_addresses.port) for n, a in nodes.items()),
        username="admin",
        password_env="CMS_LAB_PASSWORD",
        key_file_env=None,
    )
    cluster = build_cluster(
        lab_repo, topology, env=LAB_ENV, workdir=tmp_path / "sim", durations=FAST
    )
    with cluster:
        pins = lab_repo / "clusters" / "known_hosts"
        pin = lab_addresses.pin(lab_addresses.spare)
        line = next(line for line in cluster.known_hosts_lines() if line.startswith(pin))
        pins.write_text(pins.read_text() + line + "\n")
        yield cluster


def apply(repo: Path) -> None:
    result = reconcile("--apply", "--cluster", "lab", "--auto-approve", repo=repo)
    assert result.returncode == 0, result.stderr


def test_a_member_the_file_does_not_list_is_removed(
    four_nodes: SimulatedCluster, lab_repo: Path, lab_addresses: LabAddresses
) -> None:
    cms4 = lab_addresses.spare
    scenario = lab_repo / "sim" / "lab" / "scenario.yaml"
    assert cms4 not in scenario.read_text()
    # Make cms4 a member of the running cluster, as if it had been clustered by hand.
    node4, master = four_nodes.node(cms4), four_nodes.node(lab_addresses.cms1)
    with four_nodes.model.lock:
        assert master.group is not None
        master.group.members.append(cms4)
        node4.group, node4.status = master.group, "Enabled"
    result = reconcile("--plan", "--cluster", "lab", "--format", "json", repo=lab_repo)
    assert result.returncode == 2, result.stdout[-1500:]
    steps = json.loads(result.stdout)["clusters"][0]["steps"]
    assert [s["action"] for s in steps if s["node"] == cms4] == ["backup", "remove"]
    apply(lab_repo)
    assert four_nodes.node(cms4).status == "Disabled"
    assert cms4 not in (master.group.members if master.group else [])
    assert reconcile("--plan", "--cluster", "lab", repo=lab_repo).returncode == 0


def test_a_new_node_joins_a_converged_cluster_and_nothing_else_moves(
    four_nodes: SimulatedCluster, lab_repo: Path, lab_addresses: LabAddresses
) -> None:
    cms4, port = lab_addresses.spare, lab_addresses.port
    apply(lab_repo)  # the seed's rotation first
    before = {a: len(four_nodes.commands(a)) for a in lab_addresses.nodes}
    cluster_file = lab_repo / "clusters" / "lab.yaml"
    text = cluster_file.read_text()
    anchor = node_line("cms3", lab_addresses.cms3, port)
    assert anchor in text
    cluster_file.write_text(text.replace(anchor, anchor + node_line("cms4", cms4, port)))
    plan = reconcile("--plan", "--cluster", "lab", "--format", "json", repo=lab_repo)
    assert plan.returncode == 2, plan.stderr
    cluster = json.loads(plan.stdout)["clusters"][0]
    assert cluster["strategy"] == "membership"
    assert {s["node"] for s in cluster["steps"]} == {cms4}
    apply(lab_repo)
    snapshot = {n["address"]: n for n in four_nodes.snapshot()["nodes"]}
    assert snapshot[cms4]["role"] == "replica"
    assert snapshot[cms4]["content_id"] == snapshot[lab_addresses.cms1]["content_id"]
    for address in lab_addresses.nodes:
        changing = [
            c
            for c in four_nodes.commands(address)[before[address] :]
            if c != "database cluster status"
        ]
        assert changing == [], (address, changing)


@pytest.mark.reliability(
    section="truthful",
    case="a never-clustered node (no interface) added to a cluster gets the file's interface "
    "with localnode before its join, and nothing else moves",
)
def test_a_never_clustered_node_gets_localnode_before_it_joins(
    four_nodes: SimulatedCluster, lab_repo: Path, lab_addresses: LabAddresses
) -> None:
    """TAC 210530 step 1: localnode first on every joiner. The simulator refuses join on a
    node without an interface (choices.py "error.no_interface"), so the apply converges only
    if the plan sets it first."""
    cms4, port = lab_addresses.spare, lab_addresses.port
    apply(lab_repo)  # the seed's rotation first
    node4 = four_nodes.node(cms4)
    with four_nodes.model.lock:
        node4.interface = None  # never clustered: no `database cluster localnode` yet
    before = {a: len(four_nodes.commands(a)) for a in [*lab_addresses.nodes, cms4]}
    cluster_file = lab_repo / "clusters" / "lab.yaml"
    text = cluster_file.read_text()
    assert "interface: a" in text
    anchor = node_line("cms3", lab_addresses.cms3, port)
    cluster_file.write_text(text.replace(anchor, anchor + node_line("cms4", cms4, port)))
    plan = reconcile("--plan", "--cluster", "lab", "--format", "json", repo=lab_repo)
    assert plan.returncode == 2, plan.stderr
    cluster = json.loads(plan.stdout)["clusters"][0]
    assert cluster["strategy"] == "membership"
    assert [(s["action"], s["command"]) for s in cluster["steps"]][-2:] == [
        ("localnode", "database cluster localnode a"),
        ("join", f"database cluster join {lab_addresses.cms1}"),
    ]
    assert any(f["what"] == "interface" and f["node"] == cms4 for f in cluster["findings"])
    apply(lab_repo)
    sent = [c for c in four_nodes.commands(cms4)[before[cms4] :] if c != "database cluster status"]
    assert sent.index("database cluster localnode a") < sent.index(
        f"database cluster join {lab_addresses.cms1}"
    ), sent
    assert node4.interface == "a"
    snapshot = {n["address"]: n for n in four_nodes.snapshot()["nodes"]}
    assert snapshot[cms4]["role"] == "replica"
    for address in lab_addresses.nodes:
        changing = [
            c
            for c in four_nodes.commands(address)[before[address] :]
            if c != "database cluster status"
        ]
        assert changing == [], (address, changing)
    assert reconcile("--plan", "--cluster", "lab", repo=lab_repo).returncode == 0


@pytest.mark.reliability(
    section="truthful",
    case="a node whose cluster interface differs from the file's is refused at plan time "
    "with an explanation; nothing is sent",
)
def test_a_node_on_another_interface_is_refused_not_changed(
    four_nodes: SimulatedCluster, lab_repo: Path, lab_addresses: LabAddresses
) -> None:
    cms2 = lab_addresses.cms2
    with four_nodes.model.lock:
        four_nodes.node(cms2).interface = "b"
    result = reconcile("--plan", "--cluster", "lab", repo=lab_repo)
    assert result.returncode == 1, result.stdout[-1500:]
    said = " ".join((result.stdout + result.stderr).split())
    assert "uses interface b for the database cluster, the cluster file says a" in said
    assert "does not change a working interface" in said
    for address in lab_addresses.nodes:
        assert all(
            c.startswith(("database cluster status", "pki ", "backup list"))
            for c in four_nodes.commands(address)
        ), four_nodes.commands(address)
