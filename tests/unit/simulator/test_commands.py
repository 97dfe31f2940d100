"""Device semantics of the simulator, driven through the interpreter (no SSH)."""

from __future__ import annotations

from pathlib import Path

import pytest

from reconciler.simulator.scenario import device_bytes
from reconciler.simulator.service import SimulatedCluster
from tests.support.lab import LAB_BUNDLE, LAB_MATERIAL, ScriptedIO, make_lab
from tests.support.pki import CertAuthority, DeviceBundle

MASTER, SLAVE1, SLAVE2 = "127.0.85.73", "127.0.85.74", "127.0.85.75"


@pytest.fixture
def lab(tmp_path: Path) -> SimulatedCluster:
    return make_lab(tmp_path)


def run(lab: SimulatedCluster, node: str, line: str, *answers: str) -> str:
    io = ScriptedIO(answers)
    lab.interpreter.run(lab.node(node), line, io, "admin")
    return io.text


def settle(lab: SimulatedCluster) -> None:
    lab.model.clock.advance(5)
    lab.model.settle()


def upload_new_bundle(lab: SimulatedCluster, node: str) -> None:
    for name in LAB_BUNDLE:
        data = device_bytes(LAB_MATERIAL / "certs" / "lab" / name, "cms-lab")
        lab.node(node).file_path(name).write_bytes(data)


def disband(lab: SimulatedCluster) -> None:
    for node in (SLAVE1, SLAVE2, MASTER):
        assert "Remove started..." in run(lab, node, "database cluster remove", "Y")
        settle(lab)


def test_lab_starts_as_the_seed_clustered_with_expired_certificates(lab: SimulatedCluster) -> None:
    status = run(lab, MASTER, "database cluster status")
    assert status.splitlines()[:6] == [
        "Status                : Enabled",
        "",
        "Nodes:",
        "  127.0.85.73 (me)    : Connected Master",
        "  127.0.85.74         : Connected Slave",
        "  127.0.85.75         : Connected Slave",
    ]
    assert "  Server Certificate   : dbclusterserver.cer (expired)" in status
    assert "  Client Certificate   : EXPRSVR.cer (expired)" in status
    assert "  CA Certificate       : CA.cer\n" in status
    assert "Node in use           : 127.0.85.73" in status
    # Replication stopped when the certificates expired: the replicas hold older data.
    assert lab.node(SLAVE1).content_id != lab.node(MASTER).content_id


def test_certs_while_enabled_gives_the_seed_error_and_changes_nothing(
    lab: SimulatedCluster,
) -> None:
    before = lab.node(SLAVE1).certs
    upload_new_bundle(lab, SLAVE1)
    output = run(lab, SLAVE1, "database cluster certs " + " ".join(LAB_BUNDLE))
    assert output == (
        "ERROR: Cannot change certificates when clustering enabled.\n"
        "Disable clustering on this node first\n"
    )
    assert lab.node(SLAVE1).certs == before


@pytest.mark.parametrize("answer", ["y", "n", "", "yes", "Yes"])
def test_anything_but_capital_y_aborts_and_changes_nothing(
    lab: SimulatedCluster, answer: str
) -> None:
    output = run(lab, SLAVE1, "database cluster remove", answer)
    assert output.startswith("WARNING!!!\nAre you sure you wish to remove this node")
    assert "Remove started" not in output
    settle(lab)
    assert lab.node(SLAVE1).status == "Enabled"
    assert lab.node(SLAVE1).operation is None
    assert lab.node(SLAVE1).last_command == ("database cluster join 127.0.85.73", "Success")


def test_remove_is_asynchronous_then_reports_success(lab: SimulatedCluster) -> None:
    output = run(lab, SLAVE1, "database cluster remove", "Y")
    assert output.endswith(
        "The callbridge and web administration will restart at the end of this procedure.\n"
        "Please wait...\nRemove started...\n"
    )
    during = run(lab, SLAVE1, "database cluster status")
    assert during.startswith(
        "Status                : Disabling (Started 0 seconds ago)\n\nNodes:\n"
    )
    assert "Last command" not in during
    data = lab.node(SLAVE1).content_id
    settle(lab)
    after = run(lab, SLAVE1, "database cluster status")
    assert after.startswith("Status                : Disabled\nNode in use           : None\n")
    assert after.endswith("Last command          : 'database cluster remove' (Success)\n")
    assert lab.node(SLAVE1).content_id == data  # remove keeps the local data
    master_view = run(lab, MASTER, "database cluster status")
    assert SLAVE1 not in master_view


def test_certs_on_a_disabled_node_with_a_missing_file_is_refused(lab: SimulatedCluster) -> None:
    run(lab, SLAVE1, "database cluster remove", "Y")
    settle(lab)
    before = lab.node(SLAVE1).certs
    output = run(lab, SLAVE1, "database cluster certs a.key b.cer c.key d.cer nothere.cer")
    assert output.startswith("ERROR:")
    assert lab.node(SLAVE1).certs == before


def test_unknown_command_gets_a_device_error(lab: SimulatedCluster) -> None:
    assert run(lab, MASTER, "database clutser status").startswith("ERROR:")
    assert run(lab, MASTER, "frobnicate").startswith("ERROR:")
    assert run(lab, MASTER, "backup").startswith("Usage:\n  backup snapshot <name>")


def test_seed_procedure_converges_with_the_masters_data(lab: SimulatedCluster) -> None:
    original = lab.node(MASTER).content_id
    disband(lab)
    for node in (MASTER, SLAVE1, SLAVE2):
        upload_new_bundle(lab, node)
        assert run(lab, node, "database cluster certs " + " ".join(LAB_BUNDLE)) == (
            "Certificates updated\n"
        )
    run(lab, MASTER, "database cluster initialize", "Y")
    settle(lab)
    for node in (SLAVE1, SLAVE2):
        output = run(lab, node, "database cluster join 127.0.85.73", "Y")
        assert "NOTE: This node is already in a cluster." not in output
        settle(lab)
    status = run(lab, SLAVE2, "database cluster status")
    assert "  127.0.85.74         : Connected Slave ( In Sync )" in status
    assert "  127.0.85.75 (me)    : Connected Slave ( In Sync )" in status
    assert "Last command          : 'database cluster join 127.0.85.73' (Success)" in status
    assert {lab.node(n).content_id for n in (MASTER, SLAVE1, SLAVE2)} == {original}


@pytest.fixture
def fresh_master(lab: SimulatedCluster) -> SimulatedCluster:
    """The lab disbanded, the master re-initialized with the valid lab bundle."""
    disband(lab)
    upload_new_bundle(lab, MASTER)
    run(lab, MASTER, "database cluster certs " + " ".join(LAB_BUNDLE))
    run(lab, MASTER, "database cluster initialize", "Y")
    settle(lab)
    return lab


def _join_with(lab: SimulatedCluster, bundle: DeviceBundle, target: str = MASTER) -> str:
    node = lab.node(SLAVE1)
    for name, data in bundle.files.items():
        node.file_path(name).write_bytes(data)
    assert run(lab, SLAVE1, bundle.certs_command()) == "Certificates updated\n"
    content_before = node.content_id
    run(lab, SLAVE1, f"database cluster join {target}", "Y")
    settle(lab)
    assert node.content_id == content_before, "a failed join must not touch the joiner's data"
    assert node.status == "Disabled"
    return run(lab, SLAVE1, "database cluster status")


def test_join_with_expired_certificates_fails(fresh_master: SimulatedCluster) -> None:
    lab = fresh_master
    upload_new_bundle(lab, SLAVE1)
    run(lab, SLAVE1, "database cluster certs " + " ".join(LAB_BUNDLE))
    lab.model.clock.advance(86400 * 365 * 6)  # past the lab bundle's notAfter (2031)
    run(lab, SLAVE1, "database cluster join 127.0.85.73", "Y")
    settle(lab)
    status = run(lab, SLAVE1, "database cluster status")
    assert "Server Certificate   : dbclusterserver.cer (expired)" in status
    assert "'database cluster join 127.0.85.73' (Failed)" in status


def test_join_with_a_foreign_ca_fails(fresh_master: SimulatedCluster) -> None:
    foreign = DeviceBundle.make(CertAuthority.make("Foreign CA", key_index=3))
    status = _join_with(fresh_master, foreign)
    assert "'database cluster join 127.0.85.73' (Failed)" in status


def test_join_with_a_client_cn_other_than_postgres_fails(lab: SimulatedCluster) -> None:
    ca = CertAuthority.make("Shared CA", key_index=4)
    disband(lab)
    good = DeviceBundle.make(ca, prefix="g")
    for name, data in good.files.items():
        lab.node(MASTER).file_path(name).write_bytes(data)
    run(lab, MASTER, good.certs_command())
    run(lab, MASTER, "database cluster initialize", "Y")
    settle(lab)
    status = _join_with(lab, DeviceBundle.make(ca, prefix="w", client_cn="callbridge"))
    assert "(Failed)" in status
    # The same CA with CN=postgres joins: the CN was the only defect.
    _ = run(lab, SLAVE1, "database cluster remove", "Y")
    settle(lab)
    node = lab.node(SLAVE1)
    for name, data in good.files.items():
        node.file_path(name).write_bytes(data)
    run(lab, SLAVE1, good.certs_command())
    run(lab, SLAVE1, "database cluster join 127.0.85.73", "Y")
    settle(lab)
    assert "'database cluster join 127.0.85.73' (Success)" in run(
        lab, SLAVE1, "database cluster status"
    )


def test_join_to_a_node_that_is_not_master_fails(fresh_master: SimulatedCluster) -> None:
    lab = fresh_master
    upload_new_bundle(lab, SLAVE2)
    run(lab, SLAVE2, "database cluster certs " + " ".join(LAB_BUNDLE))
    status = _join_with_lab_bundle_to(lab, SLAVE2)
    assert "(Failed)" in status


def _join_with_lab_bundle_to(lab: SimulatedCluster, target: str) -> str:
    upload_new_bundle(lab, SLAVE1)
    run(lab, SLAVE1, "database cluster certs " + " ".join(LAB_BUNDLE))
    run(lab, SLAVE1, f"database cluster join {target}", "Y")
    settle(lab)
    assert lab.node(SLAVE1).status == "Disabled"
    return run(lab, SLAVE1, "database cluster status")


def test_injected_failure_ends_failed_and_changes_nothing(fresh_master: SimulatedCluster) -> None:
    lab = fresh_master
    lab.fail_operation(SLAVE1, "join")
    status = _join_with_lab_bundle_to(lab, MASTER)
    assert "'database cluster join 127.0.85.73' (Failed)" in status


def test_partition_isolating_the_master_promotes_a_replica(lab: SimulatedCluster) -> None:
    lab.partition(MASTER, SLAVE1)
    lab.partition(MASTER, SLAVE2)
    isolated = run(lab, MASTER, "database cluster status")
    assert "  127.0.85.73 (me)    : Connected Slave\n" in isolated
    assert "  127.0.85.74         : Disconnected" in isolated
    majority = run(lab, SLAVE1, "database cluster status")
    assert "  127.0.85.74 (me)    : Connected Master" in majority
    assert "Node in use           : 127.0.85.74" in majority


def test_node_down_is_seen_disconnected_by_peers(lab: SimulatedCluster) -> None:
    lab.set_down(SLAVE2)
    assert "  127.0.85.75         : Disconnected" in run(lab, MASTER, "database cluster status")


def test_expiry_in_a_running_cluster_breaks_sync(fresh_master: SimulatedCluster) -> None:
    lab = fresh_master
    _join_with_lab_bundle_to_success(lab)
    assert "( In Sync )" in run(lab, MASTER, "database cluster status")
    lab.model.clock.advance(86400 * 365 * 6)
    status = run(lab, MASTER, "database cluster status")
    assert "  127.0.85.74         : Connected Slave\n" in status
    assert "(expired)" in status


def _join_with_lab_bundle_to_success(lab: SimulatedCluster) -> None:
    upload_new_bundle(lab, SLAVE1)
    run(lab, SLAVE1, "database cluster certs " + " ".join(LAB_BUNDLE))
    run(lab, SLAVE1, "database cluster join 127.0.85.73", "Y")
    settle(lab)
    assert lab.node(SLAVE1).last_command == ("database cluster join 127.0.85.73", "Success")


def test_pki_inspect_prints_the_reference_format(lab: SimulatedCluster) -> None:
    output = run(lab, MASTER, "pki inspect EXPRSVR.cer").splitlines()
    assert output[:5] == [
        "Checking ssh public keys...not found",
        "Checking user configured certificates and keys...found",
        "File contains a PEM encoded certificate",
        "Certificate:",
        "  Data:",
    ]
    assert "      Not After : Mar  9 08:57:17 2017 GMT" in output
    assert "    Signature Algorithm: sha256WithRSAEncryption" in output
    assert "      Public-Key: (2048 bit)" in output


def test_backup_snapshot_writes_bak_and_json(lab: SimulatedCluster) -> None:
    assert run(lab, SLAVE1, "backup snapshot before-rotation") == (
        "before-rotation.bak ready for download\n"
    )
    files = lab.node(SLAVE1).files
    assert (files / "before-rotation.bak").stat().st_size > 1024
    assert (files / "before-rotation.json").is_file()
    assert run(lab, SLAVE1, "backup list") == "before-rotation.bak\n"
    assert run(lab, SLAVE1, "backup snapshot bad/name").startswith("ERROR:")


def test_upgrade_schema_on_a_replica_fails_into_error_status(
    fresh_master: SimulatedCluster,
) -> None:
    lab = fresh_master
    _join_with_lab_bundle_to_success(lab)
    run(lab, SLAVE1, "database cluster upgrade_schema")
    settle(lab)
    status = run(lab, SLAVE1, "database cluster status")
    assert status.startswith("ERROR                 : Couldn't upgrade the schema\n")
    assert "Status                : Error" in status
    run(lab, SLAVE1, "database cluster clear error")
    assert "Status                : Enabled" in run(lab, SLAVE1, "database cluster status")


def test_pki_csr_writes_a_key_and_a_request_with_the_subject(lab: SimulatedCluster) -> None:
    from cryptography import x509

    output = run(lab, MASTER, "pki csr dbclusterclient CN:postgres O:Lab")
    assert "dbclusterclient.csr" in output
    files = lab.node(MASTER).files
    request = x509.load_pem_x509_csr((files / "dbclusterclient.csr").read_bytes())
    assert request.subject.rfc4514_string() == "O=Lab,CN=postgres"
    assert (files / "dbclusterclient.key").read_bytes().startswith(b"-----BEGIN PRIVATE KEY")
    assert run(lab, MASTER, "pki csr bad/name CN:x").startswith("Usage:")
    listing = run(lab, MASTER, "pki list").splitlines()
    assert "dbclusterclient.csr" in listing
    assert "EXPRSVR.cer" in listing


def test_backup_rollback_needs_capital_y_and_restores_data(lab: SimulatedCluster) -> None:
    from reconciler.simulator.commands import DisconnectRequested

    run(lab, SLAVE1, "backup snapshot before")
    saved = lab.node(SLAVE1).content_id
    lab.node(SLAVE1).content_id = "changed-since"
    assert "Are you sure" in run(lab, SLAVE1, "backup rollback before", "y")
    assert lab.node(SLAVE1).content_id == "changed-since"
    with pytest.raises(DisconnectRequested):  # the node reboots: the session ends
        run(lab, SLAVE1, "backup rollback before.bak", "Y")
    assert lab.node(SLAVE1).content_id == saved
    assert run(lab, SLAVE1, "backup rollback nothere").startswith("ERROR:")


def test_localnode_sets_the_interface_shown_by_status(lab: SimulatedCluster) -> None:
    assert run(lab, MASTER, "database cluster localnode b") == ""
    assert "Interface              : b" in run(lab, MASTER, "database cluster status")
    assert run(lab, MASTER, "database cluster localnode z").startswith("ERROR:")


def test_a_never_clustered_node_refuses_initialize_and_join_until_localnode(
    lab: SimulatedCluster,
) -> None:
    """choices.py "error.no_interface": refused before the (Y/n), nothing changes; the status
    shows an empty Interface, which the parser reads as none."""
    from reconciler.mmp.parsers.status import parse_cluster_status
    from reconciler.simulator.choices import say

    disband(lab)
    node = lab.node(SLAVE1)
    node.interface = None
    status = run(lab, SLAVE1, "database cluster status")
    assert parse_cluster_status(status).interface is None
    for line in ("database cluster initialize", f"database cluster join {MASTER}"):
        assert run(lab, SLAVE1, line, "Y") == say("error.no_interface") + "\n"
        assert node.operation is None
        assert node.status == "Disabled"
    assert run(lab, SLAVE1, "database cluster localnode a") == ""
    assert parse_cluster_status(run(lab, SLAVE1, "database cluster status")).interface == "a"
    assert "Are you sure" in run(lab, SLAVE1, "database cluster initialize", "Y")


def test_primary_replica_wording_and_layout(tmp_path: Path) -> None:
    from reconciler.simulator.state import Wording

    cluster = make_lab(tmp_path)
    cluster.model.wording = Wording.PRIMARY_REPLICA
    status = run(cluster, SLAVE1, "database cluster status")
    assert "    127.0.85.73          : Connected Primary" in status
    assert "    127.0.85.74 (me)     : Connected Replica\n" in status
    assert status.startswith("Status                   : Enabled\n")


def test_expiry_can_also_break_visibility(tmp_path: Path) -> None:
    """The other reading of 'nodes stop talking': peers Disconnected, the master demoted."""
    from reconciler.simulator.lab import build_cluster
    from reconciler.simulator.state import SimClock
    from tests.support.lab import FAST, LAB_PASSWORD, lab_topology

    cluster = build_cluster(
        LAB_MATERIAL,
        lab_topology(),
        env={"CMS_LAB_PASSWORD": LAB_PASSWORD},
        workdir=tmp_path,
        durations=FAST,
        clock=SimClock(),
        expiry_breaks_visibility=True,
    )
    status = run(cluster, MASTER, "database cluster status")
    assert "  127.0.85.73 (me)    : Connected Slave\n" in status
    assert "  127.0.85.74         : Disconnected" in status
    assert "Node in use           : 127.0.85.73" in status
