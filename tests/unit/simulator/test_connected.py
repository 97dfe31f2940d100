"""A call bridge attached with ``database cluster connect`` (no local database), as the
simulator chooses to show it (``choices.py``: connect.*, status.connected,
rule.connected_bridge), driven through the interpreter (no SSH)."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pytest

from reconciler.simulator import scenario as scenarios
from reconciler.simulator.choices import say
from reconciler.simulator.lab import SimNodeSpec, build_cluster
from reconciler.simulator.service import SimulatedCluster
from reconciler.simulator.state import SimClock
from tests.support.lab import FAST, LAB_BUNDLE, LAB_MATERIAL, LAB_PASSWORD, lab_topology
from tests.unit.simulator.test_commands import disband, run, settle, upload_new_bundle

MASTER, SLAVE1, SLAVE2, BRIDGE = "127.0.85.73", "127.0.85.74", "127.0.85.75", "127.0.85.76"
CLIENT_FILES = ("dbclusterclient.key", "dbclusterclient.cer", "CAVD.cer")


@pytest.fixture
def lab(tmp_path: Path) -> SimulatedCluster:
    topology = replace(lab_topology(), connected=(SimNodeSpec("cb1", BRIDGE, BRIDGE, 0),))
    return build_cluster(
        LAB_MATERIAL,
        topology,
        env={"CMS_LAB_PASSWORD": LAB_PASSWORD},
        workdir=tmp_path,
        durations=FAST,
        clock=SimClock(),
    )


def rotate_cluster(lab: SimulatedCluster) -> None:
    """The lab's documented rotation onto the valid lab bundle (certs/lab)."""
    disband(lab)
    for node in (MASTER, SLAVE1, SLAVE2):
        upload_new_bundle(lab, node)
        assert run(lab, node, "database cluster certs " + " ".join(LAB_BUNDLE)).endswith(
            "Certificates updated\n"
        )
    run(lab, MASTER, "database cluster initialize", "Y")
    settle(lab)
    for node in (SLAVE1, SLAVE2):
        run(lab, node, f"database cluster join {MASTER}", "Y")
        settle(lab)


def connect_bridge(lab: SimulatedCluster, files: tuple[str, ...] = CLIENT_FILES) -> str:
    upload_new_bundle(lab, BRIDGE)
    assert run(lab, BRIDGE, "database cluster certs " + " ".join(files)) == (
        "Certificates updated\n"
    )
    return run(lab, BRIDGE, f"database cluster connect {MASTER}")


def test_a_bridge_never_connected_is_not_in_the_cluster_and_shows_no_certificates(
    lab: SimulatedCluster,
) -> None:
    status = run(lab, BRIDGE, "database cluster status")
    assert status.splitlines()[:2] == [
        "Status                : Disabled",
        "Node in use           : None",
    ]
    assert status.rstrip().endswith("Certificates")
    assert lab.snapshot()["nodes"][-1]["connected_to"] is None


def test_connect_needs_the_client_certificates(lab: SimulatedCluster) -> None:
    assert run(lab, BRIDGE, f"database cluster connect {MASTER}") == say("connect.no_certs") + "\n"
    assert lab.node(BRIDGE).connected_to is None


def test_connect_is_refused_on_a_cluster_member(lab: SimulatedCluster) -> None:
    answer = run(lab, SLAVE1, f"database cluster connect {MASTER}")
    assert answer == say("connect.while_clustered") + "\n"
    assert lab.node(SLAVE1).connected_to is None


def test_connect_takes_exactly_one_address(lab: SimulatedCluster) -> None:
    for args in ("", "cms1", f"{MASTER} {SLAVE1}"):
        assert run(lab, BRIDGE, f"database cluster connect {args}".strip()) == (
            say("usage.database_cluster") + "\n"
        )


def test_after_the_rotation_a_bridge_with_the_new_client_files_uses_the_master(
    lab: SimulatedCluster,
) -> None:
    rotate_cluster(lab)
    assert connect_bridge(lab) == (say("connect.done") + "\n" if say("connect.done") else "")
    status = run(lab, BRIDGE, "database cluster status")
    lines = status.splitlines()
    assert lines[:2] == [
        f"Status                : {say('status.connected')}",
        f"Node in use           : {MASTER}",
    ]
    assert "Nodes:" not in status
    assert "  Client Key           : dbclusterclient.key" in lines
    assert "  Client Certificate   : dbclusterclient.cer" in lines
    assert "  CA Certificate       : CAVD.cer" in lines
    assert not any("Server" in line for line in lines)
    assert lab.snapshot()["nodes"][-1]["connected_to"] == MASTER


def test_a_bridge_given_a_replica_uses_the_master_of_its_cluster(lab: SimulatedCluster) -> None:
    rotate_cluster(lab)
    upload_new_bundle(lab, BRIDGE)
    run(lab, BRIDGE, "database cluster certs " + " ".join(CLIENT_FILES))
    run(lab, BRIDGE, f"database cluster connect {SLAVE2}")
    assert f"Node in use           : {MASTER}" in run(lab, BRIDGE, "database cluster status")


def test_a_bridge_with_the_old_ca_loses_the_database_after_the_rotation(
    lab: SimulatedCluster,
) -> None:
    # Connected with the seed's client files (the old CA), then the cluster rotates.
    files = ("dbclusterclient.key", "EXPRSVR.cer", "CA.cer")
    assert run(lab, BRIDGE, "database cluster certs " + " ".join(files)) == (
        "Certificates updated\n"
    )
    run(lab, BRIDGE, f"database cluster connect {MASTER}")
    rotate_cluster(lab)
    status = run(lab, BRIDGE, "database cluster status")
    assert "Node in use           : None" in status
    problem = lab.model.bridge_tls_problem(
        lab.node(BRIDGE), lab.node(MASTER), lab.model.clock.now()
    )
    assert problem is not None
    # The new client files alone are not enough: the service uses what certs loaded.
    upload_new_bundle(lab, BRIDGE)
    assert "Node in use           : None" in run(lab, BRIDGE, "database cluster status")
    status = run(lab, BRIDGE, "database cluster certs " + " ".join(CLIENT_FILES))
    assert status == "Certificates updated\n"  # accepted while connected
    # Loaded, not yet used: the bridge takes them at its next connect.
    status = run(lab, BRIDGE, "database cluster status")
    assert "  CA Certificate       : CAVD.cer" in status
    assert "Node in use           : None" in status
    run(lab, BRIDGE, f"database cluster connect {MASTER}")
    assert f"Node in use           : {MASTER}" in run(lab, BRIDGE, "database cluster status")


def test_a_bridge_loses_the_database_while_the_master_is_out_of_the_cluster(
    lab: SimulatedCluster,
) -> None:
    rotate_cluster(lab)
    connect_bridge(lab)
    run(lab, MASTER, "database cluster remove", "Y")
    settle(lab)
    assert "Node in use           : None" in run(lab, BRIDGE, "database cluster status")


def test_a_bridge_follows_the_cluster_to_its_new_master_and_needs_to_reach_it(
    lab: SimulatedCluster,
) -> None:
    rotate_cluster(lab)
    connect_bridge(lab)
    lab.set_down(MASTER)  # the replicas elect one of them (S7)
    status = run(lab, BRIDGE, "database cluster status")
    in_use = status.splitlines()[1].split(": ", 1)[1]
    assert in_use in (SLAVE1, SLAVE2)
    lab.model.partitions.add(frozenset((BRIDGE, in_use)))
    assert "Node in use           : None" in run(lab, BRIDGE, "database cluster status")


def test_a_scenario_can_seed_its_bridges_connected(lab: SimulatedCluster, tmp_path: Path) -> None:
    bridge = lab.node(BRIDGE)
    scenario = scenarios.load_scenario(LAB_MATERIAL / "sim" / "lab")
    scenarios.seed_bridges(
        [bridge],
        LAB_MATERIAL / "sim" / "lab",
        {**scenario, "connected_to": MASTER},
        lab.model.configure_certs,
    )
    assert bridge.connected_to == MASTER
    assert bridge.certs is not None
    assert bridge.connected_with is bridge.certs
    assert bridge.certs.files == {
        "client_key": "dbclusterclient.key",
        "client_cert": "EXPRSVR.cer",
        "ca_cert": "CA.cer",
    }
    status = run(lab, BRIDGE, "database cluster status")
    assert status.startswith(f"Status                : {say('status.connected')}\n")
    # The seed's certificates expired: the bridge reaches no database, as the cluster.
    assert "Node in use           : None" in status
