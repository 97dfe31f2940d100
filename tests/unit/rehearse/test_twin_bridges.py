"""Connected call bridges in the twin: built from the live read, re-read like the real ones.

A bridge the live read showed using the master is connected to it in the twin, and keeps
using it (even on stand-in certificates) until the master's certificates or the files the
bridge connected with change; then the device model's real check decides.
"""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

from reconciler.desired.state import DesiredCluster
from reconciler.live.models import LiveCluster, LiveNode
from reconciler.mmp.parsers.status import parse_cluster_status
from reconciler.plan.models import Action
from reconciler.plan.planner import plan_cluster
from reconciler.plan.render.rehearsal import final_row
from reconciler.rehearse.rehearse import _read, rehearse_cluster
from reconciler.rehearse.twin import Twin, build_twin
from reconciler.simulator.cluster import ClusterModel
from reconciler.simulator.state import CertConfig
from tests.support.planning import NOW, desired_cluster, live_cluster
from tests.unit.rehearse.material import bundle_material, real_contents

MASTER = "10.0.0.1"
CB1, CB2 = "10.0.0.21", "10.0.0.22"
CERTS = {
    "server_key": "dbserver.key",
    "server_cert": "dbserver.cer",
    "client_key": "dbclient.key",
    "client_cert": "dbclient.cer",
    "ca_cert": "ca.cer",
}
FILES = {"dbserver.key": "sk1", "dbserver.cer": "sc1", "dbclient.key": "ck1"}
FILES |= {"dbclient.cer": "cc1", "ca.cer": "ca1"}
CLIENT_CERTS = {role: CERTS[role] for role in ("client_key", "client_cert", "ca_cert")}
MEMBERS = {MASTER: "master", "10.0.0.2": "in_sync", "10.0.0.3": "in_sync"}

DESIRED: dict[str, Any] = {
    "master": MASTER,
    "nodes": [{"name": f"cms{i}", "address": f"10.0.0.{i}"} for i in (1, 2, 3)],
    "connected": [{"name": "cb1", "address": CB1}, {"name": "cb2", "address": CB2}],
    "bundle": {role: [CERTS[role], FILES[CERTS[role]]] for role in CERTS},
}


def _bridge(in_use: str | None, labels: tuple[str, str, str]) -> dict[str, Any]:
    """A bridge's live read: Connected, using ``in_use``, its client files labelled."""
    return {
        "state": "Connected",
        "node_in_use": in_use or "None",
        "certs": dict(CLIENT_CERTS),
        "files": dict(zip(CLIENT_CERTS.values(), labels, strict=True)),
    }


DESIRED_FILES = ("ck1", "cc1", "ca1")  # the cluster's client files: real bytes in the twin
OTHER_FILES = ("old-ck", "old-cc", "old-ca")  # known by hash only: stood in by the twin


def _case(bridges: dict[str, Any]) -> tuple[DesiredCluster, LiveCluster]:
    node = {"state": "Enabled", "members": MEMBERS, "node_in_use": MASTER}
    node |= {"certs": CERTS, "files": FILES}
    live: dict[str, Any] = {
        "nodes": {address: copy.deepcopy(node) for address in MEMBERS},
        "bridges": bridges,
    }
    with real_contents(DESIRED):
        desired = desired_cluster(DESIRED)
        return desired, live_cluster(live, desired)


def _bridges(read: LiveCluster) -> dict[str, LiveNode]:
    return {bridge.address: bridge for bridge in read.bridges}


def _in_use(twin: Twin, address: str) -> str | None:
    output = twin.session(address).run("database cluster status").output
    status = parse_cluster_status(output)
    assert status.state == "Connected", output
    return status.node_in_use


def test_bridges_using_the_master_re_read_as_they_were_read(tmp_path: Path) -> None:
    """cb1 holds the cluster's files (real bytes), cb2 others (stand-ins): both re-read
    Connected, using the master, with the client files they showed."""
    desired, live = _case({CB1: _bridge(MASTER, DESIRED_FILES), CB2: _bridge(MASTER, OTHER_FILES)})
    twin = build_twin(desired, live, tmp_path)
    assert set(twin.bridges) == {CB1, CB2}
    assert twin.names[CB1] == "cb1"
    assert twin.names[CB2] == "cb2"
    for address in (CB1, CB2):
        sim = twin.node(address)
        assert sim.group is None
        assert sim.status == "Disabled"
        assert sim.connected_to == MASTER
        assert sim.connected_with is sim.certs
    read = _read(twin, desired, live)
    for address, bridge in _bridges(read).items():
        was = next(b for b in live.bridges if b.address == address)
        assert bridge.readable, bridge.error
        assert bridge.status is not None
        assert was.status is not None
        assert bridge.status.state == "Connected"
        assert bridge.status.members == ()
        assert bridge.status.node_in_use == MASTER
        assert bridge.status.certificates == was.status.certificates
        assert bridge.status.interface == was.status.interface
    # cb1's files are the desired bytes: the very files the live read hashed.
    cb1 = _bridges(read)[CB1]
    was_cb1 = next(b for b in live.bridges if b.address == CB1)
    for name, file in was_cb1.files.items():
        assert cb1.files[name].sha256 == file.sha256
    # cb2's stand-ins cannot prove its TLS with the master: the live read does (vouched).
    now = twin.clock.now()
    cb2, master = twin.node(CB2), twin.node(MASTER)
    assert ClusterModel.bridge_tls_problem(twin.model, cb2, master, now) is not None
    assert twin.model.bridge_tls_problem(cb2, master, now) is None
    assert not any("no database in use" in text for text in twin.assumptions)


def test_a_bridge_with_no_database_in_use_is_connected_to_the_desired_master(
    tmp_path: Path,
) -> None:
    desired, live = _case({CB1: _bridge(None, DESIRED_FILES), CB2: _bridge(None, OTHER_FILES)})
    twin = build_twin(desired, live, tmp_path)
    assert twin.node(CB1).connected_to == MASTER
    assert twin.node(CB2).connected_to == MASTER
    assert "cb1 showed no database in use; the twin has it connected to cms1 (10.0.0.1)" in (
        twin.assumptions
    )
    assert "cb2 showed no database in use; the twin has it connected to cms1 (10.0.0.1)" in (
        twin.assumptions
    )
    # Not vouched (it was not seen using the master): the device model's check decides.
    # cb1 has the cluster's own client files, cb2 stand-ins that do not chain to its CA.
    bridges = _bridges(_read(twin, desired, live))
    cb1, cb2 = bridges[CB1].status, bridges[CB2].status
    assert cb1 is not None
    assert cb1.node_in_use == MASTER
    assert cb2 is not None
    assert cb2.node_in_use is None


def test_a_vouched_bridge_needs_certs_and_connect_once_the_master_is_recertified(
    tmp_path: Path,
) -> None:
    desired, live = _case({CB1: _bridge(MASTER, DESIRED_FILES), CB2: _bridge(MASTER, OTHER_FILES)})
    twin = build_twin(desired, live, tmp_path)
    assert _in_use(twin, CB2) == MASTER

    # A new CA and new files on the master, as a re-form's certs would load.
    new = {"server_key": "sk2", "server_cert": "sc2", "client_key": "ck2"}
    new |= {"client_cert": "cc2", "ca_cert": "ca2"}
    material = bundle_material(
        {"bundle": {role: [f"{role}.new", label] for role, label in new.items()}}
    )
    master = twin.node(MASTER)
    files = {role: f"new-{CERTS[role]}" for role in CERTS}
    for role, name in files.items():
        master.file_path(name).write_bytes(material[new[role]])
    master.certs = CertConfig(files, {role: material[new[role]] for role in files})
    assert twin.model.bridge_tls_problem(twin.node(CB2), master, twin.clock.now()) is not None
    assert _in_use(twin, CB2) is None
    assert _in_use(twin, CB1) is None  # the old CA, even with real bytes

    # The new client files and CA loaded: not used until the bridge connects again.
    session = twin.session(CB2)
    client = [files["client_key"], files["client_cert"], files["ca_cert"]]
    for role, name in zip(("client_key", "client_cert", "ca_cert"), client, strict=True):
        session.write_file(name, material[new[role]])
    output = session.run("database cluster certs " + " ".join(client)).output
    assert "Certificates updated" in output
    assert _in_use(twin, CB2) is None
    session.run(f"database cluster connect {MASTER}")
    assert twin.node(CB2).connected_with is twin.node(CB2).certs
    assert _in_use(twin, CB2) == MASTER
    assert _in_use(twin, CB1) is None  # untouched: still on the old files


def test_an_unreadable_bridge_is_not_in_the_twin_and_stays_as_read(tmp_path: Path) -> None:
    member = {"state": "Enabled", "members": {MASTER: "master", CB2: "in_sync"}}
    member |= {"node_in_use": MASTER}
    desired, live = _case({CB1: {"unreachable": "connection refused"}, CB2: member})
    twin = build_twin(desired, live, tmp_path)
    assert twin.bridges == ()
    assert CB1 not in twin.model.nodes
    assert CB1 not in twin.names
    # A status that is not a call bridge's (here a cluster member's) is not guessed at.
    assert CB2 not in twin.model.nodes
    read = _read(twin, desired, live)
    assert read.bridges == live.bridges
    assert [b.address for b in read.bridges] == [CB1, CB2]


def test_a_readable_bridge_is_re_read_beside_an_unreadable_one(tmp_path: Path) -> None:
    desired, live = _case(
        {CB1: {"unreachable": "connection refused"}, CB2: _bridge(MASTER, DESIRED_FILES)}
    )
    twin = build_twin(desired, live, tmp_path)
    assert twin.bridges == (CB2,)
    # Mark the twin's bridge so the re-read provably comes from the twin, not the live read.
    twin.node(CB2).interface = "b"
    read = _read(twin, desired, live)
    bridges = _bridges(read)
    assert bridges[CB1] == next(b for b in live.bridges if b.address == CB1)
    cb2 = bridges[CB2]
    assert cb2.status is not None
    assert cb2.status.interface == "b"
    assert cb2.status.node_in_use == MASTER


def test_a_bridge_using_a_replica_shows_it_until_it_connects_again(tmp_path: Path) -> None:
    desired, live = _case({CB1: _bridge("10.0.0.2", DESIRED_FILES)})
    twin = build_twin(desired, live, tmp_path)
    assert _in_use(twin, CB1) == "10.0.0.2"  # as read, not the device model's master
    assert any("cb1 showed cms2 (10.0.0.2) in use" in text for text in twin.assumptions)
    twin.session(CB1).run(f"database cluster connect {MASTER}")
    assert _in_use(twin, CB1) == MASTER


def test_a_rehearsal_that_reconnects_a_bridge_ends_with_it_using_the_master() -> None:
    desired, live = _case(
        {CB1: _bridge("10.0.0.2", DESIRED_FILES), CB2: _bridge(MASTER, DESIRED_FILES)}
    )
    plan = plan_cluster(desired, live, now=NOW)
    assert {step.node for step in plan.steps} == {CB1}
    assert plan.steps[-1].action is Action.CONNECT
    rehearsal = rehearse_cluster(plan, desired, live)
    assert rehearsal.converges, rehearsal.problem
    bridges = [node for node in rehearsal.final if node.bridge]
    assert [(node.name, node.status, node.uses) for node in bridges] == [
        ("cb1", "Connected", MASTER),
        ("cb2", "Connected", MASTER),
    ]
    assert final_row(bridges[0])[3:] == ("call bridge", f"uses {MASTER}")
    assert [node.name for node in rehearsal.final if not node.bridge] == ["cms1", "cms2", "cms3"]
