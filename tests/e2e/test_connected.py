"""Connected call bridges (issue 24, item 7): read like nodes, and reconnected after a
rotation.

The lab here has a call bridge, cb1 on the spare address, served by the simulator as a
connected node (choices.py: status.connected) and seeded connected to cms1 with the seed's
client files. Every plan reads its status; one it cannot read blocks the plan. The seed's
rotation re-forms the cluster: once cms1 has initialized, cb1 is given the new client files,
loads them (three-file certs) and connects again, before the replicas join.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml

from reconciler.simulator.service import SimulatedCluster
from tests.e2e.conftest import lab_cluster, reconcile
from tests.support.lab import LabAddresses

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


def test_the_seed_rotation_gives_the_bridge_the_new_client_files_and_reconnects_it(
    bridged: SimulatedCluster, lab_repo: Path, lab_addresses: LabAddresses
) -> None:
    plan = reconcile("--plan", "--cluster", "lab", "--format", "json", repo=lab_repo)
    assert plan.returncode == 2, plan.stderr
    (cluster,) = json.loads(plan.stdout)["clusters"]
    assert cluster["blocked"] is False
    bridge = [s for s in cluster["steps"] if s["node"] == lab_addresses.spare]
    assert [s["action"] for s in bridge] == [
        "backup",
        "upload",
        "upload",
        "upload",
        "certs",
        "connect",
    ]
    assert bridge[-2]["command"] == (
        "database cluster certs dbclusterclient.key dbclusterclient.cer CAVD.cer"
    )
    assert bridge[-1]["command"] == f"database cluster connect {lab_addresses.cms1}"
    (initialize,) = [s for s in cluster["steps"] if s["action"] == "initialize"]
    joins = [s["id"] for s in cluster["steps"] if s["action"] == "join"]
    assert initialize["id"] < bridge[-1]["id"] < min(joins)
    (finding,) = [f for f in cluster["findings"] if f["what"] == "connected"]
    assert finding["live"] == "uses no database"  # the seed's client files have expired
    assert bridged.commands("cb1") == ["database cluster status"]
    text = reconcile("--plan", "--cluster", "lab", repo=lab_repo)
    assert "call bridge cb1 has no database from step" in text.stdout, text.stdout
    apply = reconcile("--apply", "--cluster", "lab", "--auto-approve", repo=lab_repo)
    assert apply.returncode == 0, apply.stdout + apply.stderr
    measured = " ".join(apply.stdout.split())
    assert f"call bridge cb1 ({lab_addresses.spare}) without the database" in measured
    assert bridged.node("cb1").connected_to == lab_addresses.cms1
    status = bridged.snapshot()["nodes"][-1]
    assert (status["name"], status["connected_to"]) == ("cb1", lab_addresses.cms1)
    again = reconcile("--plan", "--cluster", "lab", "--format", "json", repo=lab_repo)
    assert again.returncode == 0, again.stdout
    (cluster,) = json.loads(again.stdout)["clusters"]
    assert (cluster["blocked"], cluster["steps"]) == (False, [])


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


def test_a_bridge_that_is_not_connected_is_connected(
    bridged: SimulatedCluster, lab_repo: Path, lab_addresses: LabAddresses
) -> None:
    bridged.node("cb1").connected_to = None  # never connected: Disabled, no database
    plan = reconcile("--plan", "--cluster", "lab", "--format", "json", repo=lab_repo)
    assert plan.returncode == 2, plan.stderr
    (cluster,) = json.loads(plan.stdout)["clusters"]
    bridge = [s["action"] for s in cluster["steps"] if s["node"] == lab_addresses.spare]
    assert bridge[-2:] == ["certs", "connect"]


def test_status_shows_the_bridge_and_whether_it_uses_the_master(
    bridged: SimulatedCluster, lab_repo: Path, lab_addresses: LabAddresses
) -> None:
    before = reconcile("status", "--cluster", "lab", "--format", "json", repo=lab_repo)
    (cluster,) = json.loads(before.stdout)["clusters"]
    (bridge,) = cluster["bridges"]
    assert (bridge["name"], bridge["node_in_use"]) == ("cb1", None)
    kinds = {(p["node"], p["kind"]) for p in cluster["problems"]}
    assert ("cb1", "bridge_no_database") in kinds
    assert ("cb1", "certificate_expired") in kinds  # the seed's client certificate
    text = reconcile("status", "--cluster", "lab", repo=lab_repo)
    assert text.returncode == 2
    assert "cb1  " in text.stdout
    assert "(connected call bridge)" in text.stdout
    assert "call bridge cb1 using no database" in " ".join(text.stdout.split())
    apply = reconcile("--apply", "--cluster", "lab", "--auto-approve", repo=lab_repo)
    assert apply.returncode == 0, apply.stderr
    after = reconcile("status", "--cluster", "lab", repo=lab_repo)
    assert after.returncode == 0, after.stdout
    assert "every call bridge using cms1" in " ".join(after.stdout.split())


def test_probe_reads_the_bridge_and_knows_its_status(
    bridged: SimulatedCluster, lab_repo: Path, lab_addresses: LabAddresses
) -> None:
    probe = reconcile("probe", "--cluster", "lab", "--format", "json", repo=lab_repo)
    assert probe.returncode == 0, probe.stdout + probe.stderr
    nodes = {node["name"]: node for node in json.loads(probe.stdout)["nodes"]}
    assert set(nodes) == {*NODES, "cb1"}
    cb1 = nodes["cb1"]
    assert (cb1["read"], cb1["error"], cb1["recognised"], cb1["unrecognised"]) == (
        True,
        None,
        True,
        [],
    )
    assert cb1["commands"][:2] == ["database cluster status", "pki inspect dbclusterclient.key"]
    assert bridged.commands("cb1")[0] == "database cluster status"
