"""`reconcile plan --rehearse` against the simulated lab: the twin predicts what apply does.

The rehearsal runs the real executor on a twin built from the live read; the real lab must
see nothing but that read, and a real apply afterwards must end exactly as predicted.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from reconciler.simulator.service import SimulatedCluster
from tests.e2e.conftest import converge_then_cut, reconcile, wait_idle

pytestmark = pytest.mark.e2e

# What reading a node may send: status, and pki inspect when SFTP cannot read a file.
READ_ONLY = ("database cluster status", "pki inspect ")


def rehearse(repo: Path, *extra: str) -> tuple[int, dict[str, Any], str]:
    result = reconcile(
        "plan", "--rehearse", "--cluster", "lab", "--format", "json", *extra, repo=repo
    )
    data: dict[str, Any] = json.loads(result.stdout) if result.stdout.strip() else {}
    return result.returncode, data, result.stderr


def actual_final(lab_sim: SimulatedCluster) -> list[dict[str, Any]]:
    return [
        {
            "name": node["name"],
            "address": node["address"],
            "status": node["status"],
            "role": node["role"],
            "in_sync": node["in_sync"],
        }
        for node in lab_sim.snapshot()["nodes"]
    ]


@pytest.fixture(params=["master_slave", "primary_replica"])
def wording(request: pytest.FixtureRequest, lab_repo: Path) -> str:
    """The seed in both published vocabularies (set before `lab_sim` starts)."""
    scenario = lab_repo / "sim" / "lab" / "scenario.yaml"
    scenario.write_text(
        scenario.read_text().replace("wording: master_slave", f"wording: {request.param}")
    )
    return str(request.param)


def test_the_seed_rehearses_to_the_state_a_real_apply_then_reaches(
    wording: str, lab_sim: SimulatedCluster, lab_repo: Path
) -> None:
    assert lab_sim.model.wording.value == wording
    before = lab_sim.snapshot()
    code, plan, err = rehearse(lab_repo)
    assert code == 2, err  # changes to make, and the rehearsal converged
    cluster = plan["clusters"][0]
    rehearsal = cluster["rehearsal"]
    assert rehearsal["converges"] is True, rehearsal["problem"]
    assert rehearsal["problem"] is None
    assert rehearsal["steps_run"] == len(cluster["steps"]) == 27
    assert rehearsal["device_seconds"] >= rehearsal["outage_seconds"] > 0
    # The real nodes saw only the plan's read: no command that changes anything, no upload.
    after = lab_sim.snapshot()
    for node, earlier in zip(after["nodes"], before["nodes"], strict=True):
        commands = [e["detail"] for e in node["log"] if e["kind"] == "command"]
        assert commands
        assert all(c.startswith(READ_ONLY) for c in commands), commands
        sftp = [e["detail"] for e in node["log"] if e["kind"] == "sftp"]
        assert not [entry for entry in sftp if entry.startswith(("put", "remove"))], sftp
        assert node["files"] == earlier["files"]
        assert (node["status"], node["role"], node["certs"]) == (
            earlier["status"],
            earlier["role"],
            earlier["certs"],
        )
    # Then the real apply ends exactly as the twin said, node for node.
    applied = reconcile("--apply", "--cluster", "lab", "--auto-approve", repo=lab_repo)
    assert applied.returncode == 0, applied.stderr
    assert rehearsal["final"] == actual_final(lab_sim)
    # And a converged cluster rehearses to nothing.
    code, again, err = rehearse(lab_repo)
    assert code == 0, err
    converged = again["clusters"][0]["rehearsal"]
    assert converged["converges"] is True
    assert converged["steps_run"] == 0
    assert converged["final"] == actual_final(lab_sim)


def test_text_and_markdown_say_the_verdict(lab_sim: SimulatedCluster, lab_repo: Path) -> None:
    text = reconcile("plan", "--rehearse", "--cluster", "lab", repo=lab_repo)
    assert text.returncode == 2, text.stderr
    assert "Rehearsed on a twin: converges in 27 steps, device work about" in text.stdout
    markdown = reconcile(
        "plan", "--rehearse", "--cluster", "lab", "--format", "markdown", repo=lab_repo
    )
    assert markdown.returncode == 2, markdown.stderr
    assert "**Rehearsal:** rehearsed on a twin: converges in 27 steps" in markdown.stdout
    assert "<summary>Predicted final state (rehearsal)</summary>" in markdown.stdout


def test_a_failed_rehearsal_exits_1_and_its_saved_plan_is_refused_by_apply(
    lab_sim: SimulatedCluster, lab_repo: Path, tmp_path: Path
) -> None:
    saved = tmp_path / "plan.json"
    code, _, err = rehearse(lab_repo, "--out", str(saved))
    assert code == 2, err
    data = json.loads(saved.read_text())
    assert data["clusters"][0]["rehearsal"]["converges"] is True
    # A plan file whose rehearsal failed (here: edited to say so) is refused before any
    # node is contacted.
    data["clusters"][0]["rehearsal"]["converges"] = False
    data["clusters"][0]["rehearsal"]["problem"] = "step 4 (remove) on cms2 failed: test"
    saved.write_text(json.dumps(data))
    connections = {name: lab_sim.connections(name) for name in ("cms1", "cms2", "cms3")}
    applied = reconcile("apply", "--plan-file", str(saved), "--auto-approve", repo=lab_repo)
    assert applied.returncode == 1
    assert "failed its rehearsal for cluster lab (step 4 (remove) on cms2 failed" in applied.stderr
    assert {name: lab_sim.connections(name) for name in connections} == connections


def test_a_plan_that_cannot_work_fails_its_rehearsal_as_the_real_apply_then_fails(
    lab_sim: SimulatedCluster, lab_repo: Path
) -> None:
    # The network between cms1 and cms3 is cut: the planner has cms3 join the master again,
    # which cannot work while the cut lasts.
    converge_then_cut(lab_sim, lab_repo)
    code, plan, err = rehearse(lab_repo)
    assert code == 1, err
    rehearsal = plan["clusters"][0]["rehearsal"]
    assert rehearsal["converges"] is False
    assert "(a network partition)" in " ".join(rehearsal["assumptions"])
    # Apply rehearses it too, and refuses; past that (--skip-rehearsal) it fails as predicted.
    refused = reconcile("--apply", "--cluster", "lab", "--auto-approve", repo=lab_repo)
    assert refused.returncode == 1
    assert "the plan does not converge on a twin of the live cluster" in refused.stderr
    applied = reconcile(
        "--apply",
        "--cluster",
        "lab",
        "--auto-approve",
        "--skip-rehearsal",
        "--format",
        "json",
        repo=lab_repo,
    )
    assert applied.returncode == 1
    report = json.loads(applied.stdout)
    assert rehearsal["problem"] == report["clusters"][0]["error"]
    assert "ended (Failed)" in rehearsal["problem"]


def test_a_replica_whose_files_cannot_be_replaced_fails_as_the_real_apply_fails(
    lab_sim: SimulatedCluster, lab_repo: Path
) -> None:
    """The same fault on the twin and on the lab: the same words from the executor."""
    from reconciler.rehearse.rehearse import rehearse_cluster
    from reconciler.rehearse.twin import Twin
    from reconciler.run import Fleet
    from tests.e2e.conftest import LAB_ENV

    with Fleet(lab_repo, ["lab"], ref=None, env=LAB_ENV) as fleet:
        plan = fleet.plan().clusters[0]
        desired, live = fleet.clusters[0], fleet.live["lab"]

    def refuse(twin: Twin) -> None:
        twin.node("cms2").faults.sftp_refuse.add(("put", "dbclusterserver.cer"))

    rehearsal = rehearse_cluster(plan, desired, live, prepare=refuse)
    assert not rehearsal.converges
    lab_sim.refuse_sftp("cms2", "put", "dbclusterserver.cer")
    applied = reconcile(
        "--apply", "--cluster", "lab", "--auto-approve", "--format", "json", repo=lab_repo
    )
    assert applied.returncode == 1
    report = json.loads(applied.stdout)
    assert rehearsal.problem == report["clusters"][0]["error"]
    assert "cannot write dbclusterserver.cer over SFTP" in (rehearsal.problem or "")
    assert [node.model_dump() for node in rehearsal.final] == actual_final(lab_sim)


def test_right_after_a_failed_join_the_rehearsal_names_the_node(
    lab_sim: SimulatedCluster, lab_repo: Path
) -> None:
    """Issue 23: the twin's join succeeds where the real one just failed; the rehearsal must
    say that it assumed so, and on which node the last command failed."""
    lab_sim.fail_operation("cms2", "join")
    applied = reconcile("--apply", "--cluster", "lab", "--auto-approve", repo=lab_repo)
    assert applied.returncode == 1, applied.stderr
    wait_idle(lab_sim)
    code, plan, err = rehearse(lab_repo)
    assert code == 2, err
    rehearsal = plan["clusters"][0]["rehearsal"]
    assert rehearsal["converges"] is True
    assert rehearsal["last_command_failed"] == ["cms2"]
    cms1 = lab_sim.node("cms1").address
    assert any(
        assumption.startswith(
            f"cms2: its last cluster command, 'database cluster join {cms1}', failed; "
        )
        for assumption in rehearsal["assumptions"]
    )
    assert any(
        assumption.startswith("every operation the plan sends (remove, certs, initialize, join) ")
        for assumption in rehearsal["assumptions"]
    )
    text = reconcile("plan", "--rehearse", "--cluster", "lab", repo=lab_repo)
    assert text.returncode == 2, text.stderr
    assert (
        "; assumed: operations succeed, though the last cluster command failed on cms2"
    ) in " ".join(text.stdout.split())
