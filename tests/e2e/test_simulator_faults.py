"""Each injectable fault, observed over real SSH."""

from __future__ import annotations

import json
import socket
import time
from collections.abc import Iterator
from pathlib import Path

import paramiko
import pytest

from reconciler.simulator.service import SimulatedCluster
from reconciler.simulator.state import SimClock
from tests.e2e.conftest import lab_cluster
from tests.support.lab import LAB_PASSWORD, LabAddresses, member_line
from tests.support.mmp_client import MMPClient

pytestmark = pytest.mark.e2e

# The simulator finds nodes by name too; addresses differ per test (see `lab_addresses`).
MASTER, SLAVE1, SLAVE2 = "cms1", "cms2", "cms3"


@pytest.fixture
def lab(lab_repo: Path, tmp_path: Path) -> Iterator[SimulatedCluster]:
    with lab_cluster(
        lab_repo,
        tmp_path / "sim",
        env={"CMS_LAB_PASSWORD": LAB_PASSWORD},
        clock=SimClock(),
        state_file=tmp_path / "state.json",
    ) as cluster:
        yield cluster


def test_node_down_refuses_connections_and_peers_see_it_disconnected(
    lab: SimulatedCluster, lab_addresses: LabAddresses
) -> None:
    lab.set_down(SLAVE2)
    host, port = lab.server(SLAVE2).address
    with pytest.raises(ConnectionRefusedError):
        socket.create_connection((host, port), timeout=5).close()
    with MMPClient(lab, MASTER, LAB_PASSWORD) as client:
        status = client.run("database cluster status")
    assert member_line(lab_addresses.cms3, "Disconnected") in status
    lab.set_down(SLAVE2, down=False)
    with MMPClient(lab, SLAVE2, LAB_PASSWORD) as client:
        assert f"{lab_addresses.cms3} (me)" in client.run("database cluster status")


def test_disconnect_in_the_middle_of_a_command(lab: SimulatedCluster) -> None:
    lab.disconnect_on(SLAVE1, "database cluster remove", stage="after")
    # Long enough that the remove is still running when the second connection reads the
    # status on a loaded machine (with the lab's short durations it sometimes had ended).
    lab.slow_operation(SLAVE1, "remove", 5)
    with MMPClient(lab, SLAVE1, LAB_PASSWORD) as client, pytest.raises(EOFError):
        client.run("database cluster remove", answer="Y")
    # The command was received and started: the node is leaving the cluster.
    assert lab.commands(SLAVE1)[-1] == "database cluster remove"
    assert lab.node(SLAVE1).operation is not None
    # The fault fires once: a new connection works.
    with MMPClient(lab, SLAVE1, LAB_PASSWORD) as client:
        assert "Disabling" in client.run("database cluster status")


def test_disconnect_before_a_command_runs_changes_nothing(lab: SimulatedCluster) -> None:
    lab.disconnect_on(SLAVE1, "database cluster remove", stage="before")
    with MMPClient(lab, SLAVE1, LAB_PASSWORD) as client, pytest.raises(EOFError):
        client.run("database cluster remove", answer="Y")
    assert lab.node(SLAVE1).operation is None
    assert lab.node(SLAVE1).status == "Enabled"


def test_a_named_operation_ends_failed(lab: SimulatedCluster) -> None:
    lab.fail_operation(SLAVE1, "remove")
    with MMPClient(lab, SLAVE1, LAB_PASSWORD) as client:
        client.run("database cluster remove", answer="Y")
        deadline = time.monotonic() + 5
        while "(Failed)" not in (status := client.run("database cluster status")):
            assert time.monotonic() < deadline, status
            time.sleep(0.05)
    assert "Last command          : 'database cluster remove' (Failed)" in status
    assert "Status                : Enabled" in status


def test_slow_responses(lab: SimulatedCluster) -> None:
    with MMPClient(lab, SLAVE1, LAB_PASSWORD) as client:
        lab.set_delay(SLAVE1, 0.4)
        started = time.monotonic()
        client.run("database cluster status")
        assert time.monotonic() - started >= 0.4


def test_partition_between_nodes(lab: SimulatedCluster, lab_addresses: LabAddresses) -> None:
    lab.partition(SLAVE1, MASTER)
    with MMPClient(lab, SLAVE1, LAB_PASSWORD) as client:
        status = client.run("database cluster status")
    assert member_line(lab_addresses.cms1, "Disconnected") in status
    assert member_line(lab_addresses.cms2, "Connected Slave", me=True) + "\n" in status
    lab.heal()
    with MMPClient(lab, SLAVE1, LAB_PASSWORD) as client:
        status = client.run("database cluster status")
    assert member_line(lab_addresses.cms1, "Connected Master") in status


def test_wrong_password_is_refused(lab: SimulatedCluster) -> None:
    with pytest.raises(paramiko.AuthenticationException):
        MMPClient(lab, MASTER, "not-the-password")


def test_state_file_and_log_record_every_command_with_user_and_time(
    lab: SimulatedCluster, lab_addresses: LabAddresses, tmp_path: Path
) -> None:
    with MMPClient(lab, MASTER, LAB_PASSWORD) as client:
        client.run("database cluster status")
        client.run("pki list")
        client.sftp().listdir(".")
    state = json.loads((tmp_path / "state.json").read_text())
    cms1 = next(node for node in state["nodes"] if node["address"] == lab_addresses.cms1)
    assert cms1["role"] == "master"
    assert cms1["members"] == list(lab_addresses.nodes)
    assert cms1["certs"]["client_cert"]["file"] == "EXPRSVR.cer"
    assert len(cms1["certs"]["client_cert"]["sha256"]) == 64
    kinds = [(entry["kind"], entry["detail"].split(" ")[0]) for entry in cms1["log"]]
    assert kinds[0][0] == "connect"
    assert ("command", "database") in kinds
    assert ("command", "pki") in kinds
    assert ("sftp", "listdir") in kinds
    assert all(entry["user"] == "admin" and entry["time"] for entry in cms1["log"])
