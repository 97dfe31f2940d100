"""Executor checks that need no SSH: the certs step on a node the plan thinks is Disabled."""

from __future__ import annotations

import threading
from pathlib import Path

import pytest

from reconciler.apply.executor import Executor
from reconciler.apply.journal import Journal
from reconciler.apply.safety import plan_problems
from reconciler.apply.waits import Clock
from reconciler.errors import ApplyFailed, ApplyInterrupted
from reconciler.plan.models import Action, ClusterPlan, Impact, Step, Strategy
from tests.support.fake_session import FakeSession
from tests.unit.apply.test_safety import BRIDGED, CERTS, DESIRED

DISABLED = "Status : Disabled\nNode in use : None\n\nInterface : a\n\nCertificates\n"
ENABLED = DISABLED.replace("Disabled", "Enabled")
REFUSED = (
    "ERROR: Cannot change certificates when clustering enabled.\n"
    "Disable clustering on this node first\n"
)
STEP = Step(id=1, node="10.0.0.2", node_name="cms2", action=Action.CERTS, command=CERTS, reason="t")


def executor(session: FakeSession, tmp_path: Path) -> Executor:
    plan = ClusterPlan(
        name="lab",
        state_fingerprint="x",
        strategy=Strategy.REFORM,
        findings=[],
        steps=[STEP],
        impact=Impact(restarts=[], max_nodes_out=0, estimated_seconds=0, summary=""),
    )
    return Executor(
        plan,
        DESIRED,
        {"10.0.0.2": session},
        journal=Journal(tmp_path / "j.jsonl"),
        backup_dir=tmp_path,
    )


def test_certs_refused_as_clustered_on_a_disabled_node_says_what_to_do(tmp_path: Path) -> None:
    session = FakeSession(statuses=[DISABLED])
    session.replies[CERTS] = REFUSED
    with pytest.raises(ApplyFailed, match="run 'database cluster remove' on it by hand"):
        executor(session, tmp_path)._certs(STEP)


def test_certs_is_not_sent_to_a_node_that_is_not_disabled(tmp_path: Path) -> None:
    session = FakeSession(statuses=[ENABLED])
    with pytest.raises(ApplyFailed, match="not Disabled"):
        executor(session, tmp_path)._certs(STEP)
    assert session.commands == ["database cluster status"]


def test_without_a_backup_nothing_destructive_runs(tmp_path: Path) -> None:
    session = FakeSession(statuses=[DISABLED])
    outcome = executor(session, tmp_path).run_steps()
    assert outcome.error is not None
    assert "before a backup" in outcome.error
    assert session.commands == []


# --- cancelled from another thread (Ctrl-C while clusters apply at once) --------------------

DISABLING = "Status : Disabling (Started 3 seconds ago)\n\nNodes:\nNode in use : None\n"
REMOVE = Step(
    id=2,
    node="10.0.0.2",
    node_name="cms2",
    action=Action.REMOVE,
    command="database cluster remove",
    reason="t",
)
BACKUP = Step(
    id=1,
    node="10.0.0.2",
    node_name="cms2",
    action=Action.BACKUP,
    command="backup snapshot lab-cms2-20261202T050000Z",
    reason="t",
    backup_name="lab-cms2-20261202T050000Z",
)


def plan_of(*steps: Step) -> ClusterPlan:
    return ClusterPlan(
        name="lab",
        state_fingerprint="x",
        strategy=Strategy.REFORM,
        findings=[],
        steps=list(steps),
        impact=Impact(restarts=[], max_nodes_out=0, estimated_seconds=0, summary=""),
    )


def test_a_cancelled_executor_sends_nothing_more(tmp_path: Path) -> None:
    session = FakeSession(statuses=[DISABLED])
    cancel = threading.Event()
    cancel.set()
    stopped = Executor(
        plan_of(BACKUP),
        DESIRED,
        {"10.0.0.2": session},
        journal=Journal(tmp_path / "j.jsonl"),
        backup_dir=tmp_path,
        cancel=cancel,
    )
    assert plan_problems(stopped.plan, DESIRED) == []  # refused for the cancel, not the plan
    with pytest.raises(KeyboardInterrupt):
        stopped.run_steps()
    assert session.commands == []
    assert stopped.current_step is None
    assert stopped.last_done is None


def test_a_wait_stops_at_its_next_poll_once_cancelled(tmp_path: Path) -> None:
    session = FakeSession(statuses=[ENABLED, DISABLING])
    cancel = threading.Event()
    sleeps: list[float] = []

    def sleep(seconds: float) -> None:
        sleeps.append(seconds)
        if len(sleeps) == 3:
            cancel.set()  # as the main thread does on Ctrl-C

    running = Executor(
        plan_of(REMOVE),
        DESIRED,
        {"10.0.0.2": session},
        journal=Journal(tmp_path / "j.jsonl"),
        backup_dir=tmp_path,
        clock=Clock(now=lambda: float(len(sleeps)), sleep=sleep),
        cancel=cancel,
    )
    running.backed_up.add("10.0.0.2")
    with pytest.raises(KeyboardInterrupt):
        running._execute(REMOVE)
    assert len(sleeps) == 3  # no poll after the cancel
    assert session.commands.count("database cluster status") == 4  # before, and 3 polls


def test_an_interrupt_of_several_clusters_names_each_stop_and_journal() -> None:
    first = ApplyInterrupted("lab", REMOVE, Path("/j/lab.jsonl"))
    second = ApplyInterrupted("branch", None, Path("/j/branch.jsonl"), after=STEP)
    assert str(first).startswith("apply interrupted: cluster lab stopped at step 2 (remove")
    message = str(ApplyInterrupted.together([first, second]))
    assert "cluster lab stopped at step 2 (remove on cms2 10.0.0.2" in message
    assert "cluster branch stopped after step 1 (certs on cms2) completed" in message
    assert message.index("/j/lab.jsonl") < message.index("/j/branch.jsonl")
    assert message.endswith("Run `reconcile plan` to see the safe continuation from here.")


# --- database cluster localnode (a never-clustered node) ------------------------------------

NO_INTERFACE = DISABLED.replace("Interface : a", "Interface :")
LOCALNODE = Step(
    id=1,
    node="10.0.0.2",
    node_name="cms2",
    action=Action.LOCALNODE,
    command="database cluster localnode a",
    reason="t",
)


def test_localnode_is_sent_to_a_node_without_interface_and_read_back(tmp_path: Path) -> None:
    session = FakeSession(statuses=[NO_INTERFACE, DISABLED])
    session.replies[LOCALNODE.command] = ""  # no output in any source (reference §1.9)
    assert executor(session, tmp_path)._localnode(LOCALNODE) == "Interface a"
    assert session.commands == [
        "database cluster status",
        "database cluster localnode a",
        "database cluster status",
    ]


def test_localnode_never_changes_a_working_interface(tmp_path: Path) -> None:
    session = FakeSession(statuses=[DISABLED.replace("Interface : a", "Interface : b")])
    with pytest.raises(ApplyFailed, match="uses interface b; a working interface is not changed"):
        executor(session, tmp_path)._localnode(LOCALNODE)
    assert session.commands == ["database cluster status"]


def test_localnode_already_set_sends_nothing(tmp_path: Path) -> None:
    session = FakeSession(statuses=[DISABLED])
    assert executor(session, tmp_path)._localnode(LOCALNODE) == "Interface a (already set)"
    assert session.commands == ["database cluster status"]


@pytest.mark.parametrize(
    ("reply", "after", "message"),
    [
        ("ERROR: Unknown interface: a\n", DISABLED, "the node refused: Unknown interface: a"),
        ("", NO_INTERFACE, "shows interface none after it, not a"),
    ],
    ids=["refused", "not-set-after"],
)
def test_localnode_is_judged_by_its_post_condition(
    tmp_path: Path, reply: str, after: str, message: str
) -> None:
    session = FakeSession(statuses=[NO_INTERFACE, after])
    session.replies[LOCALNODE.command] = reply
    with pytest.raises(ApplyFailed, match=message):
        executor(session, tmp_path)._localnode(LOCALNODE)


def test_localnode_needs_a_backup_and_the_file_s_interface() -> None:
    """A plan file's localnode is checked like any state-changing step (apply.safety)."""
    wrong = LOCALNODE.model_copy(update={"id": 2, "command": "database cluster localnode b"})
    problems = [why for _, why in plan_problems(plan_of(LOCALNODE), DESIRED)]
    assert problems == ["destructive step before a backup of this node (SPEC §6.2)"]
    problems = [why for _, why in plan_problems(plan_of(BACKUP, wrong), DESIRED)]
    assert problems == ["the command should be 'database cluster localnode a'"]


# --- connect on a connected call bridge (issue 24, item 7) ------------------------------------

BRIDGE_STATUS = (
    "Status : Connected\nNode in use : {in_use}\n\nCertificates\n  Client Key : c.key\n"
    "  Client Certificate : c.cer\n  CA Certificate : ca.cer\n"
)
MASTER_STATUS = (
    "Status : Enabled\nNodes:\n 10.0.0.1 (me) : Connected Master\n"
    " 10.0.0.2 : Connected Slave ( In Sync )\nNode in use : 10.0.0.1\n\nInterface : a\n\n"
    "Certificates\n Server Key : s.key\n Server Certificate : s.cer\n Client Key : c.key\n"
    " Client Certificate : c.cer\n CA Certificate : ca.cer\n"
)
CONNECT = Step(
    id=2,
    node="10.0.0.21",
    node_name="cb1",
    action=Action.CONNECT,
    command="database cluster connect 10.0.0.1",
    reason="t",
)


def bridge_executor(bridge: FakeSession, master: FakeSession, tmp_path: Path) -> Executor:
    return Executor(
        plan_of(CONNECT),
        BRIDGED,
        {"10.0.0.21": bridge, "10.0.0.1": master},
        journal=Journal(tmp_path / "j.jsonl"),
        backup_dir=tmp_path,
        clock=Clock(now=lambda: 0.0, sleep=lambda seconds: None),
    )


def test_connect_is_judged_by_the_bridge_using_the_master_and_records_what_it_printed(
    tmp_path: Path,
) -> None:
    bridge = FakeSession(
        "10.0.0.21",
        statuses=[BRIDGE_STATUS.format(in_use="None"), BRIDGE_STATUS.format(in_use="10.0.0.1")],
    )
    bridge.replies[CONNECT.command] = "Connecting...\n"
    master = FakeSession("10.0.0.1", statuses=[MASTER_STATUS])
    run = bridge_executor(bridge, master, tmp_path)
    assert run._connect(CONNECT) == "Node in use: 10.0.0.1"
    assert bridge.commands == [
        "database cluster status",
        "database cluster connect 10.0.0.1",
        "database cluster status",
    ]
    journal = (tmp_path / "j.jsonl").read_text()
    assert '"device.unknown"' in journal
    assert "Connecting..." in journal


def test_connect_is_not_sent_while_the_master_does_not_serve(tmp_path: Path) -> None:
    bridge = FakeSession("10.0.0.21", statuses=[BRIDGE_STATUS.format(in_use="None")])
    master = FakeSession("10.0.0.1", statuses=[DISABLED])
    with pytest.raises(ApplyFailed, match=r"the desired master 10\.0\.0\.1 is Disabled"):
        bridge_executor(bridge, master, tmp_path)._connect(CONNECT)
    assert bridge.commands == ["database cluster status"]


def test_connect_is_not_sent_while_the_master_runs_other_files(tmp_path: Path) -> None:
    bridge = FakeSession("10.0.0.21", statuses=[BRIDGE_STATUS.format(in_use="None")])
    master = FakeSession("10.0.0.1", statuses=[MASTER_STATUS.replace("ca.cer", "old-ca.cer")])
    with pytest.raises(ApplyFailed, match="desired"):
        bridge_executor(bridge, master, tmp_path)._connect(CONNECT)
    assert bridge.commands == ["database cluster status"]


def test_connect_is_not_sent_to_a_cluster_member(tmp_path: Path) -> None:
    bridge = FakeSession("10.0.0.21", statuses=[MASTER_STATUS])
    master = FakeSession("10.0.0.1", statuses=[MASTER_STATUS])
    with pytest.raises(ApplyFailed, match="not a connected bridge"):
        bridge_executor(bridge, master, tmp_path)._connect(CONNECT)
    assert bridge.commands == ["database cluster status"]
    assert master.commands == []


def test_a_refused_connect_fails_the_step(tmp_path: Path) -> None:
    bridge = FakeSession("10.0.0.21", statuses=[BRIDGE_STATUS.format(in_use="None")])
    bridge.replies[CONNECT.command] = "ERROR: No database cluster client certificates configured\n"
    master = FakeSession("10.0.0.1", statuses=[MASTER_STATUS])
    with pytest.raises(ApplyFailed, match="the node refused"):
        bridge_executor(bridge, master, tmp_path)._connect(CONNECT)
