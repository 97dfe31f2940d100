"""The outcome of ``reconcile --apply`` as PR comments: status first, rounded timings, journal."""

from __future__ import annotations

import io
import re
from pathlib import Path

import pytest
from rich.console import Console

from reconciler.apply.apply import ApplyReport
from reconciler.apply.executor import ClusterOutcome, StepOutcome
from reconciler.plan.models import ClusterPlan, Plan
from reconciler.plan.render import (
    APPLY_MARKER,
    MARKER,
    cluster_marker,
    render_apply_markdown,
    render_apply_markdown_comments,
    split_comments,
)
from reconciler.plan.render.markdown import GITHUB_COMMENT_LIMIT, comment_size
from reconciler.reconcile import ReconcileOptions, Terminal, _report, _show_plan
from tests.unit.plan.test_render_plans import (
    converged_cluster,
    lab_seed_cluster,
    lab_seed_plan,
    renamed,
)

MICROSECONDS = re.compile(r"\d{2}:\d{2}:\d{2}[.,]\d")
JOURNAL = ".reconcile/journal/lab-20261127T074012345678Z.jsonl"
STARTED = "2026-11-27T07:40:12.345678+00:00"
FINISHED = "2026-11-27T07:52:40.987654+00:00"


def outcome(cluster: ClusterPlan, *, fail_at: int | None = None) -> ClusterOutcome:
    steps: list[StepOutcome] = []
    error = None
    for step in cluster.steps:
        if fail_at is None or step.id < fail_at:
            steps.append(StepOutcome.of(step, "done", 27.4567, None))
        elif step.id == fail_at:
            cause = "join did not finish within 600s (Last command: join (Failed))"
            steps.append(StepOutcome.of(step, "failed", 600.0123, cause))
            error = (
                f"step {step.id} ({step.action.value}) on {step.node_name} ({step.node}) failed: "
                f"{cause}\n  command: {step.command}\n  last output:\n    ```\n"
                f"{MARKER}\n    Last command : 'database cluster join' (Failed)"
            )
        else:
            steps.append(StepOutcome.of(step, "not run"))
    return ClusterOutcome(
        name=cluster.name,
        journal=JOURNAL.replace("lab", cluster.name),
        steps=tuple(steps),
        error=error,
    )


def report_of(plan: Plan, outcomes: list[ClusterOutcome], final: Plan | None) -> ApplyReport:
    return ApplyReport(
        started=STARTED,
        finished=FINISHED,
        git={"commit": plan.git.commit, "dirty": plan.git.dirty},
        clusters=outcomes,
        converged=final is not None and not final.has_changes and not final.blocked,
        final_plan=final,
    )


def converged_after(plan: Plan) -> Plan:
    return plan.model_copy(
        update={"clusters": [converged_cluster(cluster.name) for cluster in plan.clusters]}
    )


def test_a_converged_apply() -> None:
    plan = lab_seed_plan()
    report = report_of(plan, [outcome(plan.clusters[0])], converged_after(plan))
    (comment,) = render_apply_markdown_comments(report, plan)
    lines = comment.split("\n")
    assert lines[0] == APPLY_MARKER == "<!-- cms-reconciler apply -->"
    assert lines[1] == cluster_marker("lab", "apply") == "<!-- cms-reconciler apply: lab -->"
    assert lines[2] == "### cms-reconciler apply of `lab`: converged ✅"
    assert lines[4:7] == [
        "- **Ran:** 27 of 27 steps done in 12m 21s.",
        "- **Result:** converged: the plan after apply is empty.",
        f"- **Journal:** `{JOURNAL}` on the machine that applied.",
    ]
    assert (
        "Desired state: `1a2b3c4`; started 2026-11-27 07:40:12 UTC, "
        "finished 2026-11-27 07:52:40 UTC." in lines
    )
    assert "| 1 | cms1 (127.0.85.73) | backup | `backup snapshot reconcile-lab-" in comment
    assert comment.count("| done | 27s |") == 27
    assert not MICROSECONDS.search(comment)
    assert "27.4567" not in comment
    assert MARKER not in comment


def test_a_failed_apply_says_where_why_and_what_next() -> None:
    plan = lab_seed_plan()
    report = report_of(plan, [outcome(plan.clusters[0], fail_at=26)], None)
    (comment,) = render_apply_markdown_comments(report, plan)
    lines = comment.split("\n")
    assert lines[2] == "### cms-reconciler apply of `lab`: **FAILED** at step 26"
    assert lines[4:8] == [
        "- **Ran:** 25 of 27 steps done; step 26 (join on cms2 (127.0.85.74)) failed after "
        "10m; 1 later step did not run; 21m 26s in all.",
        "- **Error:** join did not finish within 600s (Last command: join (Failed)).",
        "- **Next:** run `reconcile --plan` to see the safe continuation from the state left "
        "behind.",
        f"- **Journal:** `{JOURNAL}` on the machine that applied.",
    ]
    assert "\n````\nstep 26 (join) on cms2 (127.0.85.74) failed:" in comment
    assert "\n " + MARKER + "\n" in comment  # text from a node cannot start a comment
    assert (
        "| 26 | cms2 (127.0.85.74) | join | `database cluster join 127.0.85.73` | **failed** "
        in (comment)
    )
    assert (
        "| 27 | cms3 (127.0.85.75) | join | `database cluster join 127.0.85.73` | not run |  |"
        in (comment)
    )
    assert split_comments(comment, APPLY_MARKER) == [comment]


def test_clusters_after_a_failure_were_not_run() -> None:
    first, second = renamed(lab_seed_cluster(), "east"), renamed(lab_seed_cluster(), "west")
    idle = converged_cluster("north")
    plan = lab_seed_plan(first, second, idle)
    report = report_of(plan, [outcome(first, fail_at=4)], None)
    comments = render_apply_markdown_comments(report, plan)
    assert [comment.split("\n")[2] for comment in comments] == [
        "### cms-reconciler apply of `east`: **FAILED** at step 4",
        "### cms-reconciler apply of `west`: **not run**",
        "### cms-reconciler apply of `north`: not checked",
    ]
    assert "- **Not run:** apply stopped at cluster `east`; nothing was sent" in comments[1]
    assert "- **Ran:** nothing: it was converged when the plan was made." in comments[2]
    assert split_comments(render_apply_markdown(report, plan), APPLY_MARKER) == comments


def test_a_cluster_still_not_converged_after_apply() -> None:
    plan = lab_seed_plan()
    report = report_of(plan, [outcome(plan.clusters[0])], plan)  # the same plan again
    (comment,) = render_apply_markdown_comments(report, plan)
    assert "### cms-reconciler apply of `lab`: **NOT converged**" in comment
    assert "- **Result:** the plan after apply still has 27 steps (reform); run" in comment


def test_nothing_to_apply() -> None:
    plan = lab_seed_plan(converged_cluster())
    report = ApplyReport(started=plan.created_at, converged=True, final_plan=plan)
    (comment,) = render_apply_markdown_comments(report, plan)
    assert comment.split("\n")[2] == "### cms-reconciler apply of `lab`: converged ✅"
    assert "Desired state: `1a2b3c4`; started 2026-11-27 07:40:00 UTC." in comment
    assert "<details>" not in comment


def test_a_huge_outcome_fits() -> None:
    cluster = lab_seed_cluster()
    steps = [
        step.model_copy(update={"id": number, "command": step.command + " x" * 200})
        for number, step in enumerate(cluster.steps * 40, 1)
    ]
    cluster = cluster.model_copy(update={"steps": steps})
    plan = lab_seed_plan(cluster)
    report = report_of(plan, [outcome(cluster, fail_at=1000)], None)
    (comment,) = render_apply_markdown_comments(report, plan)
    assert comment_size(comment) <= 65_000 < GITHUB_COMMENT_LIMIT
    assert "more steps not shown; the journal has them all." in comment
    assert "**FAILED** at step 1000" in comment


def test_limit_must_leave_room() -> None:
    plan = lab_seed_plan()
    with pytest.raises(ValueError, match="too small"):
        render_apply_markdown_comments(report_of(plan, [], None), plan, limit=10)


# --- the CLI's streams ----------------------------------------------------------------------
def terminal() -> tuple[Terminal, io.StringIO, io.StringIO]:
    out, err = io.StringIO(), io.StringIO()
    return (
        Terminal(
            out=Console(file=out, width=200, color_system=None),
            err=Console(file=err, width=200, color_system=None),
            ask=None,
        ),
        out,
        err,
    )


def test_apply_in_markdown_keeps_stdout_for_the_outcome() -> None:
    plan = lab_seed_plan()
    term, out, err = terminal()
    _show_plan(plan, "markdown", term, to_stderr=True)
    assert out.getvalue() == ""
    assert "Plan: 27 steps on 3 nodes (reform)." in err.getvalue()

    report = report_of(plan, [outcome(plan.clusters[0], fail_at=26)], None)
    options = ReconcileOptions(repo=Path("."), clusters=(), apply=True, output_format="markdown")
    _report(report, plan, options, term)
    assert out.getvalue() == render_apply_markdown(report, plan)
    assert out.getvalue().startswith(APPLY_MARKER + "\n")
    assert "error: cluster lab" in err.getvalue()
