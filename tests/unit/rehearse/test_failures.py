"""Rehearsals that must fail, and say why in the executor's own words."""

from __future__ import annotations

from pathlib import Path

import pytest

from reconciler.errors import OptionError, Refused
from reconciler.live.models import LiveNode
from reconciler.plan.models import Action, Plan, Rehearsal
from reconciler.reconcile import ReconcileOptions, check_options
from reconciler.rehearse.plans import refuse_failed_rehearsal
from reconciler.rehearse.rehearse import rehearse_cluster
from reconciler.rehearse.twin import Twin
from tests.unit.rehearse.scenarios import named


def test_a_replica_whose_files_cannot_be_replaced_stops_at_its_upload() -> None:
    case = named("31-rolling-first-replica")
    upload = next(step for step in case.plan.steps if step.action is Action.UPLOAD)

    def refuse_uploads(twin: Twin) -> None:
        twin.node(upload.node).faults.sftp_refuse.add(("put", "*"))

    rehearsal = rehearse_cluster(case.plan, case.desired, case.live, prepare=refuse_uploads)
    assert not rehearsal.converges
    assert rehearsal.steps_run == upload.id
    name = upload.upload.remote_name if upload.upload else ""
    assert rehearsal.problem == (
        f"step {upload.id} (upload) on {upload.node_name} ({upload.node}) failed: "
        f"{upload.node_name}: cannot write {name} over SFTP: Failure\n"
        f"  command: {upload.command}"
    )
    # The replica was left out of the cluster, as a real apply would leave it.
    final = {node.name: node for node in rehearsal.final}
    assert final[upload.node_name].role == "none"


def test_a_node_the_live_read_could_not_reach_is_down_on_the_twin() -> None:
    case = named("31-rolling-first-replica")
    target = case.plan.steps[0]
    # The plan was made while the replica answered; now the read cannot reach it.
    nodes = tuple(
        LiveNode(name=node.name, address=node.address, reachable=False, error="timed out")
        if node.address == target.node
        else node
        for node in case.live.nodes
    )
    live = case.live.model_copy(update={"nodes": nodes})
    rehearsal = rehearse_cluster(case.plan, case.desired, live)
    assert not rehearsal.converges
    assert rehearsal.steps_run == 1
    assert rehearsal.problem is not None
    assert rehearsal.problem.startswith(
        f"step {target.id} ({target.action.value}) on {target.node_name} ({target.node}) failed"
    )
    assert "connection refused (the twin has this node down" in rehearsal.problem
    assert any("could not be read (timed out)" in text for text in rehearsal.assumptions)


def test_a_plan_edited_to_skip_the_backups_is_refused_before_anything_runs() -> None:
    case = named("02-seed-expired")
    steps = [step for step in case.plan.steps if step.action is not Action.BACKUP]
    edited = case.plan.model_copy(update={"steps": steps})
    rehearsal = rehearse_cluster(edited, case.desired, case.live)
    assert not rehearsal.converges
    assert rehearsal.steps_run == 0
    assert rehearsal.problem is not None
    assert rehearsal.problem.startswith("the plan breaks the safety rules; nothing was sent:")
    assert "destructive step before a backup of this node" in rehearsal.problem
    # Nothing ran: every node is as the live read found it.
    assert [(n.status, n.role) for n in rehearsal.final] == [
        ("Enabled", "master"),
        ("Enabled", "replica"),
        ("Enabled", "replica"),
    ]


def test_a_plan_edited_to_skip_a_replicas_certificates_fails_at_its_join() -> None:
    case = named("02-seed-expired")
    certs = next(
        step
        for step in case.plan.steps
        if step.action is Action.CERTS and step.node != case.desired.master.address
    )
    steps = [step for step in case.plan.steps if step is not certs]
    edited = case.plan.model_copy(update={"steps": steps})
    rehearsal = rehearse_cluster(edited, case.desired, case.live)
    join = next(s for s in steps if s.action is Action.JOIN and s.node == certs.node)
    assert not rehearsal.converges
    assert rehearsal.problem is not None
    assert rehearsal.problem.startswith(
        f"step {join.id} (join) on {join.node_name} ({join.node}) failed: {join.node_name}: "
        f"'{join.command}' ended (Failed)"
    )


def test_a_converged_cluster_rehearses_to_zero_steps() -> None:
    case = named("01-converged")
    assert not case.plan.steps
    rehearsal = rehearse_cluster(case.plan, case.desired, case.live)
    assert rehearsal == Rehearsal(
        converges=True,
        steps_run=0,
        device_seconds=0.0,
        outage_seconds=0.0,
        final=rehearsal.final,
        assumptions=rehearsal.assumptions,
    )
    assert len(rehearsal.final) == len(case.desired.nodes)


def _saved(rehearsal: Rehearsal | None) -> Plan:
    case = named("31-rolling-first-replica")
    cluster = case.plan.model_copy(update={"rehearsal": rehearsal})
    return Plan.model_validate(
        {
            "git": {"commit": "abc", "dirty": False},
            "created_at": "2026-11-27T07:40:00+00:00",
            "clusters": [cluster.model_dump()],
        }
    )


def test_apply_refuses_a_saved_plan_whose_rehearsal_failed() -> None:
    failed = Rehearsal(converges=False, steps_run=3, problem="step 3 (remove) on cms2 failed")
    with pytest.raises(Refused, match=r"plan.json failed its rehearsal for cluster lab \(step 3"):
        refuse_failed_rehearsal(_saved(failed), Path("plan.json"))
    refuse_failed_rehearsal(_saved(None), Path("plan.json"))  # not rehearsed: not refused
    refuse_failed_rehearsal(_saved(Rehearsal(converges=True, steps_run=8)), Path("plan.json"))


def test_rehearse_is_refused_on_apply() -> None:
    with pytest.raises(OptionError, match="--rehearse has no effect on apply"):
        check_options(ReconcileOptions(repo=Path("."), clusters=[], apply=True, rehearse=True))
    check_options(ReconcileOptions(repo=Path("."), clusters=[], rehearse=True))
