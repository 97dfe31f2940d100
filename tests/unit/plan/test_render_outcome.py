"""The outcome of ``reconcile --apply`` as PR comments: status first, rounded timings, journal."""

from __future__ import annotations

import io
import re
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from rich.console import Console

from reconciler.apply.apply import ApplyReport
from reconciler.apply.executor import BackupRecord, ClusterOutcome, StepOutcome
from reconciler.apply.outage import Mark, measure
from reconciler.apply.render import (
    APPLY_MARKER,
    outage_words,
    render_apply_markdown,
    render_apply_markdown_comments,
    render_apply_text,
)
from reconciler.plan.models import Action, ClusterPlan, Plan
from reconciler.plan.render import MARKER, cluster_marker, split_comments
from reconciler.plan.render.comment import GITHUB_COMMENT_LIMIT, comment_size
from reconciler.reconcile import ReconcileOptions, Terminal, _report, _show_plan
from tests.unit.apply.test_outage import rolling
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
        # As apply judges: nothing failed, and the plan after apply, of every cluster, is empty.
        converged=final is not None
        and len(final.clusters) == len(plan.clusters)
        and not any(one.failed for one in outcomes)
        and not final.has_changes
        and not final.blocked,
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
    assert lines[2] == "### cms-reconciler apply of `lab`: **failed at step 26**"
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


def test_clusters_after_a_failure_were_not_started() -> None:
    first, second = renamed(lab_seed_cluster(), "east"), renamed(lab_seed_cluster(), "west")
    idle = converged_cluster("north")
    plan = lab_seed_plan(first, second, idle)
    # Apply plans again the clusters that ended without a failure: here only north.
    report = report_of(plan, [outcome(first, fail_at=4)], lab_seed_plan(idle))
    comments = render_apply_markdown_comments(report, plan)
    assert [comment.split("\n")[2] for comment in comments] == [
        "### cms-reconciler apply of `east`: **failed at step 4**",
        "### cms-reconciler apply of `west`: **not started**",
        "### cms-reconciler apply of `north`: converged ✅",
    ]
    assert (
        "- **Not started:** apply stopped at cluster `east`, which failed; nothing was sent "
        "to this cluster." in comments[1]
    )
    assert "- **Ran:** nothing: it was converged when the plan was made." in comments[2]
    assert split_comments(render_apply_markdown(report, plan), APPLY_MARKER) == comments


def test_a_cluster_still_not_converged_after_apply() -> None:
    plan = lab_seed_plan()
    report = report_of(plan, [outcome(plan.clusters[0])], plan)  # the same plan again
    (comment,) = render_apply_markdown_comments(report, plan)
    assert "### cms-reconciler apply of `lab`: **not converged**" in comment
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
    assert "**failed at step 1000**" in comment


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


# --- every planned cluster, in every output (issue 23) -----------------------------------
def interrupted(cluster: ClusterPlan, *, at: int, running: bool) -> ClusterOutcome:
    """Stopped by Ctrl-C at step ``at`` (sent, when ``running``) or before it."""
    steps = [StepOutcome.of(step, "done", 3.0) for step in cluster.steps if step.id < at]
    if running:
        steps.append(StepOutcome.of(cluster.steps[at - 1], "interrupted", 1.0))
    steps += [StepOutcome.of(step, "not run") for step in cluster.steps[len(steps) :]]
    return ClusterOutcome(
        name=cluster.name,
        journal=JOURNAL.replace("lab", cluster.name),
        error="interrupted: cluster stopped",
        steps=tuple(steps),
        interrupted=True,
    )


@pytest.mark.reliability(
    section="truthful", case="apply's outcome lists every planned cluster (unit: every result)"
)
def test_every_planned_cluster_has_a_result_in_text_and_markdown() -> None:
    names = ("east", "west", "south", "north", "idle")
    east, west, south, north = (renamed(lab_seed_cluster(), name) for name in names[:4])
    idle = converged_cluster("idle")
    plan = lab_seed_plan(east, west, south, north, idle)
    outcomes = [outcome(east, fail_at=4), outcome(west), interrupted(south, at=9, running=True)]
    # Planned again after apply: the clusters that ended without a failure (west, idle).
    report = report_of(plan, outcomes, lab_seed_plan(converged_cluster("west"), idle))
    text = render_apply_text(report, plan)
    assert text.splitlines() == [
        "Apply outcome:",
        "  east   failed at step 4",
        "  west   converged",
        "  south  interrupted at step 9",
        "  north  not started",
        "  idle   converged",
    ]
    titles = [c.split("\n")[2] for c in render_apply_markdown_comments(report, plan)]
    assert titles == [
        "### cms-reconciler apply of `east`: **failed at step 4**",
        "### cms-reconciler apply of `west`: converged ✅",
        "### cms-reconciler apply of `south`: **interrupted at step 9**",
        "### cms-reconciler apply of `north`: **not started**",
        "### cms-reconciler apply of `idle`: converged ✅",
    ]


def test_an_interrupted_cluster_says_where_it_stopped() -> None:
    plan = lab_seed_plan()
    cluster = plan.clusters[0]
    between = report_of(plan, [interrupted(cluster, at=5, running=False)], None)
    (comment,) = render_apply_markdown_comments(between, plan)
    assert (
        comment.split("\n")[2] == "### cms-reconciler apply of `lab`: **interrupted after step 4**"
    )
    assert "- **Ran:** 4 of 27 steps done; interrupted after step 4 completed; 23 later" in comment
    assert render_apply_text(between, plan).splitlines()[1:] == ["  lab  interrupted after step 4"]
    during = report_of(plan, [interrupted(cluster, at=5, running=True)], None)
    (comment,) = render_apply_markdown_comments(during, plan)
    assert "interrupted at step 5 (remove on cms3 (127.0.85.75)), which the node may" in comment
    assert "| 5 | cms3 (127.0.85.75) | remove | `database cluster remove` | interrupted |" in (
        comment
    )


def test_a_cluster_done_but_not_planned_again_is_not_verified() -> None:
    first, second = renamed(lab_seed_cluster(), "east"), renamed(lab_seed_cluster(), "west")
    plan = lab_seed_plan(first, second)
    report = report_of(plan, [outcome(first), interrupted(second, at=3, running=True)], None)
    assert render_apply_text(report, plan).splitlines()[1:] == [
        "  east  not verified",
        "  west  interrupted at step 3",
    ]
    comments = render_apply_markdown_comments(report, plan)
    assert "- **Result:** not planned again: apply was interrupted; run" in comments[0]
    assert "- **Not started:**" not in comments[0]  # it ran: its steps are shown, not "not started"


def test_the_text_outcome_ends_with_the_verdict_when_converged() -> None:
    plan = lab_seed_plan()
    report = report_of(plan, [outcome(plan.clusters[0])], converged_after(plan))
    assert render_apply_text(report, plan).splitlines() == [
        "Apply outcome:",
        "  lab  converged",
        "Apply complete: every cluster is converged.",
    ]
    skipped = report.model_copy(update={"rehearsal_skipped": True})
    assert "Not rehearsed on a twin before apply (--skip-rehearsal)." in render_apply_text(
        skipped, plan
    )
    (comment,) = render_apply_markdown_comments(skipped, plan)
    assert "; not rehearsed on a twin before apply (`--skip-rehearsal`)." in comment


# --- where the backups went and how long the cluster was down (issue 23) --------------------
T0 = datetime(2026, 11, 27, 7, 40, tzinfo=UTC)


def at(seconds: float) -> Mark:
    return Mark(1000.0 + seconds, T0 + timedelta(seconds=seconds))


def measured(cluster: ClusterPlan, *, fail_at: int | None = None) -> ClusterOutcome:
    """``outcome``, with the backups of steps 1 to 3 and an outage measured as the executor
    does: removes sent at 30, 40, 50 s, initialize at 100 s, the joins at 130 and 160 s,
    the last one verified at 342.4 s (when nothing failed)."""
    sent = {4: at(30), 5: at(40), 6: at(50), 25: at(100), 26: at(130), 27: at(160)}
    verified = {4: at(35), 5: at(45), 6: at(55), 25: at(120), 26: at(150), 27: at(342.4)}
    if fail_at is not None:
        sent = {step: mark for step, mark in sent.items() if step <= fail_at}
        verified = {step: mark for step, mark in verified.items() if step < fail_at}
    backups = tuple(
        BackupRecord(
            node=step.node,
            node_name=step.node_name,
            step=step.id,
            on_node=f"{step.backup_name}.bak",
            local_copy=f".reconcile/backups/lab/{step.node_name}/{step.backup_name}.bak",
        )
        for step in cluster.steps
        if step.action is Action.BACKUP and (fail_at is None or step.id < fail_at)
    )
    outage = measure(cluster, began=at(0), sent=sent, verified=verified, stopped=at(750))
    return outcome(cluster, fail_at=fail_at).model_copy(
        update={"backups": backups, "outage": outage}
    )


BACKUP = "reconcile-lab-20261127T074000Z.bak"


def test_the_outcome_says_where_the_backups_are_and_how_long_the_cluster_was_down() -> None:
    plan = lab_seed_plan()
    report = report_of(plan, [measured(plan.clusters[0])], converged_after(plan))
    assert render_apply_text(report, plan).splitlines() == [
        "Apply outcome:",
        "  lab  converged",
        "Outage of lab (measured): cluster down 5m 12s (from step 4 until step 27 was "
        "verified); no master for 1m 10s (from step 6 until step 25 was verified)",
        "Backups of lab: the file on each node, and its local copy",
        f"  cms1 (127.0.85.73): {BACKUP}  .reconcile/backups/lab/cms1/{BACKUP}",
        f"  cms2 (127.0.85.74): {BACKUP}  .reconcile/backups/lab/cms2/{BACKUP}",
        f"  cms3 (127.0.85.75): {BACKUP}  .reconcile/backups/lab/cms3/{BACKUP}",
        "Apply complete: every cluster is converged.",
    ]
    (comment,) = render_apply_markdown_comments(report, plan)
    assert (
        "\n- **Outage (measured):** cluster down 5m 12s (from step 4 until step 27 was "
        "verified); no master for 1m 10s (from step 6 until step 25 was verified).\n"
        "- **Backups:** 3 backups taken and downloaded to the machine that applied:\n"
        f"  - cms1 (127.0.85.73): `{BACKUP}` on the node; local copy "
        f"`.reconcile/backups/lab/cms1/{BACKUP}`\n" in comment
    )


def test_a_cluster_left_down_is_said_to_be_still_down() -> None:
    plan = lab_seed_plan()
    report = report_of(plan, [measured(plan.clusters[0], fail_at=26)], None)
    outage = (
        "cluster still down when apply stopped, 12m after step 4 took it down (step 27 would "
        "have brought the last node back); no master for 1m 10s (from step 6 until step 25 "
        "was verified)"
    )
    assert render_apply_text(report, plan).splitlines()[1:3] == [
        "  lab  failed at step 26",
        f"Outage of lab (measured): {outage}",
    ]
    (comment,) = render_apply_markdown_comments(report, plan)
    assert f"- **Outage (measured):** {outage}." in comment


def test_an_apply_stopped_before_the_cluster_went_down_says_there_was_no_outage() -> None:
    plan = lab_seed_plan()
    report = report_of(plan, [measured(plan.clusters[0], fail_at=2)], None)
    assert render_apply_text(report, plan).splitlines()[1:] == [
        "  lab  failed at step 2",
        "Outage of lab (measured): none: apply stopped before step 4, which would have taken "
        "the cluster down",
        "Backups of lab: the file on each node, and its local copy",
        f"  cms1 (127.0.85.73): {BACKUP}  .reconcile/backups/lab/cms1/{BACKUP}",
    ]


def test_a_failed_cluster_s_error_is_one_line_that_carries_the_reason() -> None:
    """Issue 23: ``error: cluster blue: `` stood alone, the reason on the line below."""
    plan = lab_seed_plan()
    term, _, err = terminal()
    report = report_of(plan, [outcome(plan.clusters[0], fail_at=26)], None)
    _report(report, plan, ReconcileOptions(repo=Path("."), clusters=(), apply=True), term)
    assert err.getvalue().splitlines()[:2] == [
        "error: cluster lab: step 26 (join) on cms2 (127.0.85.74) failed: join did not finish "
        "within 600s (Last command: join (Failed))",
        "  command: database cluster join 127.0.85.73",
    ]


def test_a_rolling_apply_says_the_cluster_stayed_up_and_which_node_was_out() -> None:
    cluster = rolling()  # cms2: remove at step 2, join at step 3
    back = measure(
        cluster,
        began=at(0),
        sent={2: at(1), 3: at(9)},
        verified={2: at(5), 3: at(65)},
        stopped=at(66),
    )
    assert outage_words(cluster, back) == (
        "the cluster stayed up (the master kept serving); cms2 (10.0.0.2) out of the cluster "
        "1m 4s (from step 2 until step 3 was verified)"
    )
    out = measure(cluster, began=at(0), sent={2: at(1)}, verified={}, stopped=at(3.5))
    assert outage_words(cluster, out) == (
        "the cluster stayed up (the master kept serving); cms2 (10.0.0.2) still out of the "
        "cluster when apply stopped, 2s after step 2"
    )
    before = measure(cluster, began=at(0), sent={}, verified={}, stopped=at(1))
    assert outage_words(cluster, before) == (
        "none: apply stopped before step 2, which would have taken cms2 (10.0.0.2) out of the "
        "cluster"
    )
    only_backups = cluster.model_copy(update={"steps": []})
    assert outage_words(only_backups, before) == (
        "none: no step took the cluster or a node out of service"
    )
