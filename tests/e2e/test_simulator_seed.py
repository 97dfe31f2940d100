"""The seed's manual procedure, command by command, over real SSH and SFTP (paramiko)."""

from __future__ import annotations

import re
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from reconciler.simulator.scenario import device_bytes
from reconciler.simulator.service import SimulatedCluster
from reconciler.simulator.state import SimClock
from tests.e2e.conftest import lab_cluster
from tests.support.lab import (
    LAB_BUNDLE,
    LAB_MATERIAL,
    LAB_PASSWORD,
    LabAddresses,
    member_line,
)
from tests.support.mmp_client import MMPClient

pytestmark = pytest.mark.e2e

# The simulator finds nodes by name too; addresses differ per test (see `lab_addresses`).
MASTER, SLAVES = "cms1", ("cms2", "cms3")


@pytest.fixture
def lab(lab_repo: Path, tmp_path: Path) -> Iterator[SimulatedCluster]:
    env = {"CMS_LAB_PASSWORD": LAB_PASSWORD}
    with lab_cluster(lab_repo, tmp_path / "sim", env=env, clock=SimClock()) as cluster:
        yield cluster


def wait_for_last_command(client: MMPClient, command: str, timeout: float = 10) -> str:
    """Poll status as an operator would, until Last command reports the command."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        status = client.run("database cluster status")
        if re.search(rf"Last command\s+: '{re.escape(command)}' \((Success|Failed)\)", status):
            return status
        time.sleep(0.05)
    raise AssertionError(f"{command!r} did not finish; last status:\n{status}")


def test_seed_procedure_over_ssh(
    lab: SimulatedCluster, lab_addresses: LabAddresses, tmp_path: Path
) -> None:
    master = lab_addresses.cms1
    original_master_data = lab.node(MASTER).content_id
    clients = {node: MMPClient(lab, node, LAB_PASSWORD) for node in (MASTER, *SLAVES)}
    try:
        # Step 1: the certificates show as expired.
        status = clients[SLAVES[0]].run("database cluster status")
        assert "  Server Certificate   : dbclusterserver.cer (expired)" in status
        assert "  Client Certificate   : EXPRSVR.cer (expired)" in status
        # Step 2: pki inspect confirms the expiry.
        inspect = clients[SLAVES[0]].run("pki inspect EXPRSVR.cer")
        assert "      Not After : Mar  9 08:57:17 2017 GMT" in inspect
        # Caution: certificates cannot change while clustered.
        refused = clients[SLAVES[0]].run(
            "database cluster certs dbclusterserver.key dbclusterserver.cer EXPRSVR.cer "
            "cmscore2.key CAVD.cer"
        )
        assert refused == (
            "ERROR: Cannot change certificates when clustering enabled.\n"
            "Disable clustering on this node first\n"
        )
        # Steps 3-5: back up every node and fetch the .bak and .json over SFTP.
        for node, client in clients.items():
            assert client.run("backup snapshot jaihanuman") == "jaihanuman.bak ready for download\n"
            sftp = client.sftp()
            for suffix in (".bak", ".json"):
                local = tmp_path / f"{node}{suffix}"
                sftp.get(f"jaihanuman{suffix}", str(local))
                remote_size = sftp.stat(f"jaihanuman{suffix}").st_size
                assert remote_size is not None
                assert local.stat().st_size == remote_size > 0
        # Steps 6-8: remove the slaves, then the master.
        for node in (*SLAVES, MASTER):
            output = clients[node].run("database cluster remove", answer="Y")
            assert output.endswith("Please wait...\nRemove started...\n")
            during = clients[node].run("database cluster status")
            assert re.match(r"Status\s+: Disabling \(Started \d+ seconds ago\)\n\nNodes:\n", during)
            after = wait_for_last_command(clients[node], "database cluster remove")
            assert after.startswith(
                "Status                : Disabled\nNode in use           : None\n"
            )
            assert after.endswith("Last command          : 'database cluster remove' (Success)\n")
        # Step 9: upload the new bundle and configure it on every node.
        for client in clients.values():
            sftp = client.sftp()
            for name in LAB_BUNDLE:
                data = device_bytes(LAB_MATERIAL / "certs" / "lab" / name, "cms-lab")
                with sftp.open(name, "wb") as remote:
                    remote.write(data)
            assert client.run("database cluster certs " + " ".join(LAB_BUNDLE)) == (
                "Certificates updated\n"
            )
        # Steps 10-11: initialize the master.
        output = clients[MASTER].run("database cluster initialize", answer="Y")
        assert "Are you sure you wish to initialize this node as a new database cluster? (Y/n)" in (
            output
        )
        status = wait_for_last_command(clients[MASTER], "database cluster initialize")
        assert status == (
            "Status                : Enabled\n\nNodes:\n"
            f"{member_line(master, 'Connected Master', me=True)}\n"
            f"Node in use           : {master}\n\n"
            "Interface              : a\n\n"
            "Certificates\n"
            "  Server Key           : dbclusterserver.key\n"
            "  Server Certificate   : dbclusterserver.cer\n"
            "  Client Key           : dbclusterclient.key\n"
            "  Client Certificate   : dbclusterclient.cer\n"
            "  CA Certificate       : CAVD.cer\n\n"
            "Last command          : 'database cluster initialize' (Success)\n"
        )
        # Step 12: join the slaves to the master.
        for node in SLAVES:
            output = clients[node].run(f"database cluster join {master}", answer="Y")
            assert "The contents of this node's database will be destroyed!" in output
            wait_for_last_command(clients[node], f"database cluster join {master}")
        # Step 13: the cluster is good again, on every node.
        in_sync = "Connected Slave ( In Sync )"
        states = {"cms1": "Connected Master", "cms2": in_sync, "cms3": in_sync}
        for node, client in clients.items():
            status = client.run("database cluster status")
            members = "".join(
                member_line(address, states[name], me=name == node) + "\n"
                for name, address in lab_addresses.by_name.items()
            )
            assert status.startswith(
                f"Status                : Enabled\n\nNodes:\n{members}"
                f"Node in use           : {master}\n"
            )
        snapshot = lab.snapshot()
        assert {n["content_id"] for n in snapshot["nodes"]} == {original_master_data}
        assert all(n["status"] == "Enabled" for n in snapshot["nodes"])
    finally:
        for client in clients.values():
            client.close()
