"""The outage apply measures (``apply.outage``): the plan's spans, timed as they really ran."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

from reconciler.apply.executor import BackupRecord, Executor
from reconciler.apply.journal import Journal
from reconciler.apply.outage import Mark, Outage, Span, measure, planned
from reconciler.apply.render import outage_words
from reconciler.plan.models import Action, ClusterPlan, Step
from tests.support.fake_session import FakeSession
from tests.unit.apply.test_executor import (
    BACKUP,
    DISABLED,
    DISABLING,
    ENABLED,
    REMOVE,
    plan_of,
)
from tests.unit.apply.test_safety import DESIRED
from tests.unit.plan.test_render_plans import lab_seed_cluster, scenario_cluster

T0 = datetime(2026, 11, 27, 7, 40, tzinfo=UTC)


def at(seconds: float) -> Mark:
    return Mark(1000.0 + seconds, T0 + timedelta(seconds=seconds))


def test_a_reform_takes_the_cluster_down_from_its_first_remove_to_its_last_join() -> None:
    """The lab's re-form: replicas removed at steps 4 and 5, the master at 6; cms1
    initializes at 25; cms2 and cms3 join at 26 and 27 (as the plan's outage line says)."""
    spans = planned(lab_seed_cluster())
    assert [(s.kind, s.begins.id if s.begins else None, s.ends.id) for s in spans] == [
        ("cluster_down", 4, 27),
        ("no_master", 6, 25),
    ]


def test_a_whole_reform_measured_from_sent_to_verified() -> None:
    cluster = lab_seed_cluster()
    sent = {4: at(30), 5: at(40), 6: at(50), 25: at(100), 26: at(130), 27: at(160)}
    verified = {4: at(35), 5: at(45), 6: at(55), 25: at(120), 26: at(150), 27: at(342.4)}
    outage = measure(cluster, began=at(0), sent=sent, verified=verified, stopped=at(350))
    assert outage.cluster_down == Span(
        from_step=4,
        until_step=27,
        started="2026-11-27T07:40:30+00:00",
        ended="2026-11-27T07:45:42.400000+00:00",
        seconds=312.4,
        still_down=False,
    )
    no_master = outage.no_master
    assert no_master is not None
    assert (no_master.from_step, no_master.until_step, no_master.seconds) == (6, 25, 70.0)
    assert outage.nodes_out == ()


def test_a_reform_that_stopped_in_between_is_still_down_up_to_the_stop() -> None:
    """Join 26 failed: the cluster was never verified whole again. The master is back (25)."""
    cluster = lab_seed_cluster()
    sent = {4: at(30), 5: at(40), 6: at(50), 25: at(100), 26: at(130)}
    verified = {4: at(35), 5: at(45), 6: at(55), 25: at(120)}
    outage = measure(cluster, began=at(0), sent=sent, verified=verified, stopped=at(730))
    down = outage.cluster_down
    assert down is not None
    assert (down.still_down, down.ended, down.seconds) == (True, None, 700.0)
    assert outage.no_master is not None
    assert not outage.no_master.still_down


def test_nothing_measured_when_apply_stopped_before_the_first_remove() -> None:
    outage = measure(lab_seed_cluster(), began=at(0), sent={}, verified={}, stopped=at(9))
    assert outage == Outage()


def test_a_cluster_already_down_is_measured_from_when_apply_began() -> None:
    """No remove before initialize: nobody was clustered when apply began."""
    cluster = lab_seed_cluster()
    steps = [step for step in cluster.steps if step.action is not Action.REMOVE]
    cluster = cluster.model_copy(update={"steps": steps})
    verified = {25: at(60), 26: at(80), 27: at(95)}
    outage = measure(cluster, began=at(0), sent={}, verified=verified, stopped=at(99))
    down = outage.cluster_down
    assert down is not None
    assert (down.from_step, down.started, down.down_before_apply) == (None, None, True)
    assert (down.until_step, down.seconds, down.still_down) == (27, 95.0, False)


def rolling() -> ClusterPlan:
    """cms2 out of the cluster (remove 2, join 3) while the master keeps serving."""
    join = Step(
        id=3,
        node="10.0.0.2",
        node_name="cms2",
        action=Action.JOIN,
        command="database cluster join 10.0.0.1",
        reason="t",
    )
    return plan_of(REMOVE, join)


def test_without_a_reform_each_node_is_out_from_its_remove_to_its_join() -> None:
    outage = measure(
        rolling(), began=at(0), sent={2: at(1), 3: at(9)}, verified={2: at(5)}, stopped=at(21)
    )
    assert outage.cluster_down is None
    (out,) = outage.nodes_out
    assert (out.node, out.node_name, out.from_step, out.until_step) == ("10.0.0.2", "cms2", 2, 3)
    assert (out.still_down, out.seconds) == (True, 20.0)


# --- what the executor records ---------------------------------------------------------------


def running(tmp_path: Path, session: FakeSession, plan: ClusterPlan) -> Executor:
    executor = Executor(
        plan,
        DESIRED,
        {"10.0.0.2": session},
        journal=Journal(tmp_path / "j.jsonl"),
        backup_dir=tmp_path / "backups",
    )
    executor.backed_up.add("10.0.0.2")
    return executor


def test_the_executor_marks_when_a_command_was_sent_and_when_its_end_was_verified(
    tmp_path: Path,
) -> None:
    done = DISABLED + "\nLast command : 'database cluster remove' (Success)\n"
    executor = running(tmp_path, FakeSession(statuses=[ENABLED, DISABLING, done]), rolling())
    executor._execute(REMOVE)
    assert list(executor.sent) == list(executor.verified) == [2]
    assert executor.sent[2].monotonic <= executor.verified[2].monotonic
    outcome = executor.interrupted_outcome("stopped")  # as Ctrl-C before the join
    assert outcome.outage is not None
    (out,) = outcome.outage.nodes_out
    assert (out.from_step, out.until_step, out.still_down) == (2, 3, True)


def test_a_command_the_node_refused_begins_no_outage(tmp_path: Path) -> None:
    session = FakeSession(statuses=[ENABLED])
    session.run_confirmed = lambda command, timeout=None: session.run(command)  # type: ignore[method-assign]
    session.replies[REMOVE.command] = "ERROR: not possible\n"
    executor = running(tmp_path, session, rolling())
    outcome = executor.run_steps()
    assert outcome.failed
    assert executor.sent == {}
    assert outcome.outage == Outage()


def test_a_backup_names_the_file_on_the_node_and_its_local_copy(tmp_path: Path) -> None:
    session = FakeSession(statuses=[ENABLED])
    session.replies[BACKUP.command] = "lab-cms2-20261202T050000Z.bak ready for download\n"
    session.files = {
        "lab-cms2-20261202T050000Z.bak": b"backup",
        "lab-cms2-20261202T050000Z.json": b"{}",
    }
    outcome = running(tmp_path, session, plan_of(BACKUP)).run_steps()
    local = tmp_path / "backups" / "lab" / "cms2" / "lab-cms2-20261202T050000Z.bak"
    assert outcome.backups == (
        BackupRecord(
            node="10.0.0.2",
            node_name="cms2",
            step=1,
            on_node="lab-cms2-20261202T050000Z.bak",
            local_copy=str(local),
        ),
    )
    assert local.read_bytes() == b"backup"
    assert outcome.outage == Outage()  # a backup takes nothing out of service


# --- connected call bridges (issue 24, item 7) ------------------------------------------------


def test_a_bridge_is_off_its_database_from_the_first_remove_until_its_connect_is_verified() -> None:
    cluster = scenario_cluster("50-connected-new-ca")  # re-form; cb1, cb2 connect at 32, 37
    bridges = [span for span in planned(cluster) if span.kind == "bridge_out"]
    assert [
        (s.begins.id if s.begins else None, s.ends.id, s.node.node_name if s.node else None)
        for s in bridges
    ] == [
        (6, 32, "cb1"),
        (6, 37, "cb2"),
    ]
    outage = measure(
        cluster,
        began=at(0),
        sent={6: at(10)},
        verified={32: at(70)},
        stopped=at(100),
    )
    first, second = outage.bridges_out
    assert (first.node_name, first.seconds, first.still_down) == ("cb1", 60.0, False)
    assert (second.node_name, second.seconds, second.still_down) == ("cb2", 90.0, True)
    words = outage_words(cluster, outage)
    assert (
        "call bridge cb1 (10.0.0.21) without the database 1m (from step 6 until step 32 was "
        "verified)" in words
    )
    assert (
        "call bridge cb2 (10.0.0.22) still without the database when apply stopped (since step 6)"
        in words
    )


def test_around_a_serving_master_a_bridge_is_off_from_its_own_certs() -> None:
    cluster = scenario_cluster("54-connected-rolling")  # cb1: certs 12, connect 13
    (bridge,) = [span for span in planned(cluster) if span.kind == "bridge_out"]
    assert (bridge.begins.id if bridge.begins else None, bridge.ends.id) == (12, 13)
    outage = measure(
        cluster,
        began=at(0),
        sent={3: at(1), 9: at(5), 12: at(20), 13: at(21)},
        verified={3: at(2), 9: at(15), 13: at(24)},
        stopped=at(30),
    )
    assert [span.seconds for span in outage.bridges_out] == [4.0]
    assert outage_words(cluster, outage).endswith(
        "; call bridge cb1 (10.0.0.21) without the database 4s (from step 12 until step 13 "
        "was verified)"
    )
