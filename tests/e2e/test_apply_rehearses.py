"""Apply rehearses the plan itself, every time, and never takes a plan file's word for it.

A saved plan carries its rehearsal's verdict, and nothing in the file protects it: whoever
can edit the file can make a failed rehearsal read ``converges: true``, or delete it. The
steps themselves cannot be forged (apply plans again and refuses a file whose steps differ),
so the realistic attack is a genuine plan that does not converge, with its verdict edited.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from reconciler.simulator.service import SimulatedCluster
from tests.e2e.conftest import converge_then_cut, reconcile
from tests.support.lab import changes_sent

pytestmark = pytest.mark.e2e


def journal_starts(repo: Path) -> list[dict[str, Any]]:
    return [
        event
        for path in sorted((repo / ".reconcile" / "journal").glob("lab-*.jsonl"))
        for event in map(json.loads, path.read_text().splitlines())
        if event["event"] == "apply.start"
    ]


def plan_that_cannot_work(lab_sim: SimulatedCluster, lab_repo: Path, saved: Path) -> None:
    """Converge the lab, cut cms1 from cms3 and save the plan: cms3 is to join cms1 again,
    which cannot work while the cut lasts, and its rehearsal says so."""
    converge_then_cut(lab_sim, lab_repo)
    planned = reconcile(
        "plan", "--rehearse", "--cluster", "lab", "--out", str(saved), repo=lab_repo
    )
    assert planned.returncode == 1, planned.stderr
    rehearsal = json.loads(saved.read_text())["clusters"][0]["rehearsal"]
    assert rehearsal["converges"] is False
    assert "ended (Failed)" in rehearsal["problem"]


def forge(saved: Path, how: str) -> None:
    data = json.loads(saved.read_text())
    cluster = data["clusters"][0]
    if how == "converges: true":
        cluster["rehearsal"]["converges"] = True
        cluster["rehearsal"]["problem"] = None
    else:
        del cluster["rehearsal"]
    saved.write_text(json.dumps(data, indent=2))


@pytest.mark.reliability(
    section="hostile-input",
    case="plan file whose failed rehearsal was edited to converge (or deleted): apply "
    "rehearses itself and refuses",
)
@pytest.mark.parametrize("how", ["converges: true", "rehearsal deleted"])
def test_a_forged_rehearsal_verdict_does_not_make_apply_run_the_plan(
    lab_sim: SimulatedCluster, lab_repo: Path, tmp_path: Path, how: str
) -> None:
    saved = tmp_path / "plan.json"
    plan_that_cannot_work(lab_sim, lab_repo, saved)
    forge(saved, how)
    before = changes_sent(lab_sim)
    applied = reconcile(
        "apply", "--plan-file", str(saved), "--cluster", "lab", "--auto-approve", repo=lab_repo
    )
    assert applied.returncode == 1, applied.stderr
    # Nothing was sent: no step ran on any node.
    assert changes_sent(lab_sim) == before, applied.stderr
    errors = [line for line in applied.stderr.splitlines() if line.startswith("error: ")]
    assert len(errors) == 1, applied.stderr
    assert errors[0].startswith(
        "error: cluster lab: the plan does not converge on a twin of the live cluster (the "
        "twin stopped at step "
    ), errors[0]
    assert "ended (Failed)" in errors[0]
    assert "nothing was sent" in errors[0]
    assert "--skip-rehearsal" in errors[0]
    assert "Traceback" not in applied.stderr
    # The locks are gone.
    nodes = lab_sim.snapshot()["nodes"]
    assert [node["name"] for node in nodes if "reconcile-apply.lock" in node["files"]] == []
    # The operator who knows better can still go ahead, and the journal records it.
    skipped = reconcile(
        "apply",
        "--plan-file",
        str(saved),
        "--skip-rehearsal",
        "--auto-approve",
        "--format",
        "json",
        repo=lab_repo,
    )
    assert skipped.returncode == 1  # the join fails for real, as the twin said
    assert "warning: --skip-rehearsal: the plan was not rehearsed on a twin" in skipped.stderr
    report = json.loads(skipped.stdout)
    assert report["rehearsal_skipped"] is True
    assert report["clusters"][0]["result"] == "failed"
    assert any(command.startswith("database cluster join") for command in lab_sim.commands("cms3"))
    start = journal_starts(lab_repo)[-1]
    assert start["rehearsal_skipped"] is True
    assert "rehearsal" not in start["plan"] or start["plan"]["rehearsal"] is None


@pytest.mark.reliability(
    section="truthful", case="apply rehearses the plan itself before its first command"
)
def test_apply_without_a_plan_file_rehearses_and_refuses_before_anything_is_sent(
    lab_sim: SimulatedCluster, lab_repo: Path
) -> None:
    converge_then_cut(lab_sim, lab_repo)
    before = changes_sent(lab_sim)
    refused = reconcile("--apply", "--cluster", "lab", "--auto-approve", repo=lab_repo)
    assert refused.returncode == 1
    assert changes_sent(lab_sim) == before, refused.stderr
    assert "error: cluster lab: the plan does not converge on a twin" in refused.stderr
    # The plan shown says the same, from the rehearsal apply just ran.
    assert "does NOT converge" in refused.stdout
    # The journal of the apply that ran keeps the verdict it ran on.
    start = journal_starts(lab_repo)[-1]
    assert start["rehearsal_skipped"] is False
    assert start["plan"]["rehearsal"]["converges"] is True
