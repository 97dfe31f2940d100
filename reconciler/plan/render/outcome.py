"""The outcome of ``reconcile --apply`` as pull-request comments, one per cluster.

The same shape as the plan comments (``markdown.py``): each starts with ``APPLY_MARKER`` and
the cluster's own marker (``<!-- cms-reconciler apply: lab -->``), and ``--apply --format
markdown`` prints them one after the other, to be split at each line equal to
``APPLY_MARKER``. A comment says, first, the cluster's final status (converged, failed at a
step with the error, not converged, or not run), what ran and how long it took, and where
the journal is; then the steps with their results and rounded timings, folded.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from typing import TYPE_CHECKING

from reconciler.durations import format_duration
from reconciler.plan.models import ClusterPlan, Plan
from reconciler.plan.render.common import display_time, node_names, plural, without_fraction
from reconciler.plan.render.markdown import (
    DEFAULT_LIMIT,
    MIN_LIMIT,
    clip,
    cluster_marker,
    comment_size,
    fenced,
    md_code,
    md_text,
)

if TYPE_CHECKING:
    from reconciler.apply.apply import ApplyReport
    from reconciler.apply.executor import ClusterOutcome, StepOutcome

APPLY_MARKER = "<!-- cms-reconciler apply -->"
APPLY_HEADING = "### cms-reconciler apply"
_STEPS_HEADER = (
    "| step | node | action | command | result | time |",
    "| --: | --- | --- | --- | --- | --: |",
)
_CONTINUE = "run `reconcile --plan` to see the safe continuation from the state left behind"


def render_apply_markdown(report: ApplyReport, plan: Plan, *, limit: int = DEFAULT_LIMIT) -> str:
    """What ``--apply --format markdown`` prints: every cluster's comment, one after another."""
    return "".join(render_apply_markdown_comments(report, plan, limit=limit))


def render_apply_markdown_comments(
    report: ApplyReport, plan: Plan, *, limit: int = DEFAULT_LIMIT
) -> list[str]:
    """One comment per cluster of the applied ``plan``, each at most ``limit`` characters."""
    if limit < MIN_LIMIT:
        raise ValueError(f"limit {limit} is too small for a comment (minimum {MIN_LIMIT})")
    if not plan.clusters:
        return [f"{APPLY_MARKER}\n{APPLY_HEADING}\n\nNo clusters were applied.\n"]
    outcomes = {outcome.name: outcome for outcome in report.clusters}
    failed = next((outcome.name for outcome in report.clusters if outcome.failed), None)
    return [
        _comment(report, plan, cluster, outcomes.get(cluster.name), failed, limit)
        for cluster in plan.clusters
    ]


@dataclass(frozen=True)
class _Status:
    title: str
    lines: list[str]
    error: str | None = None


def _comment(
    report: ApplyReport,
    plan: Plan,
    cluster: ClusterPlan,
    outcome: ClusterOutcome | None,
    failed: str | None,
    limit: int,
) -> str:
    status = _status(report, cluster, outcome, failed)
    head = [
        APPLY_MARKER,
        cluster_marker(cluster.name, "apply"),
        f"{APPLY_HEADING} of {md_code(cluster.name)}: {status.title}",
        "",
        *status.lines,
    ]
    if outcome is not None:
        head.append(f"- **Journal:** {md_code(outcome.journal)} on the machine that applied.")
    head += ["", _provenance(report, plan)]
    error = ""
    if status.error:
        error = "\n" + fenced(status.error)
    rows = [_step_row(cluster, step) for step in outcome.steps] if outcome is not None else []
    document = _assemble(head, error, rows, len(rows))
    shown = len(rows)
    while shown > 0 and comment_size(document) > limit:
        shown //= 2
        document = _assemble(head, error, rows[:shown], len(rows))
    if comment_size(document) <= limit:
        return document
    document = _assemble(head, "", [], len(rows))
    if comment_size(document) <= limit:
        return document
    return clip(document, limit - comment_size("…\n")) + "…\n"


def _status(
    report: ApplyReport, cluster: ClusterPlan, outcome: ClusterOutcome | None, failed: str | None
) -> _Status:
    if outcome is None:
        if cluster.steps:
            return _Status(
                "**not run**",
                [
                    f"- **Not run:** apply stopped at cluster {md_code(failed or '?')}; "
                    "nothing was sent to this cluster."
                ],
            )
        return _final(
            report, cluster.name, "- **Ran:** nothing: it was converged when the plan was made."
        )
    done = [step for step in outcome.steps if step.state == "done"]
    broken = next((step for step in outcome.steps if step.state == "failed"), None)
    skipped = [step for step in outcome.steps if step.state == "not run"]
    took = _duration(sum(step.seconds for step in outcome.steps))
    ran = f"- **Ran:** {len(done)} of {plural(len(outcome.steps), 'step')} done"
    if outcome.error is None:
        return _final(report, cluster.name, f"{ran} in {took}.")
    if broken is not None:
        where = f"step {broken.id} ({broken.action} on {_name(cluster, broken.node)})"
        return _Status(
            f"**FAILED** at step {broken.id}",
            [
                f"{ran}; {where} failed after {_duration(broken.seconds)}; "
                f"{plural(len(skipped), 'later step')} did not run; {took} in all.",
                f"- **Error:** {md_text(without_fraction(broken.detail or 'see below'))}.",
                f"- **Next:** {_CONTINUE}.",
            ],
            error=without_fraction(outcome.error),
        )
    return _Status(
        "**FAILED** before the first step",
        [
            f"- **Ran:** nothing; {plural(len(skipped), 'step')} did not run.",
            f"- **Next:** {_CONTINUE}.",
        ],
        error=without_fraction(outcome.error),
    )


def _final(report: ApplyReport, name: str, ran: str) -> _Status:
    """Judged by the plan made after apply, not by the steps (as apply itself does)."""
    final = report.final_plan
    clusters = final.clusters if final is not None else []
    after = next((cluster for cluster in clusters if cluster.name == name), None)
    if after is None:
        return _Status("not checked", [ran, "- **Result:** not planned again after apply."])
    if after.blocked:
        errors = after.errors
        problem = (errors[0].message or errors[0].what) if errors else "an error"
        return _Status(
            "**NOT converged**",
            [ran, f"- **Result:** the plan after apply is blocked: {md_text(problem)}."],
        )
    if after.steps:
        return _Status(
            "**NOT converged**",
            [
                ran,
                f"- **Result:** the plan after apply still has "
                f"{plural(len(after.steps), 'step')} ({md_text(after.strategy.value)}); "
                f"{_CONTINUE}.",
            ],
        )
    return _Status("converged ✅", [ran, "- **Result:** converged: the plan after apply is empty."])


def _provenance(report: ApplyReport, plan: Plan) -> str:
    commit = report.git.commit or plan.git.commit
    shown = md_code(str(commit)[:7]) if commit else "no commit"
    text = f"Desired state: {shown}; started {md_text(display_time(report.started))}"
    if report.finished:
        text += f", finished {md_text(display_time(report.finished))}"
    return text + "."


def _step_row(cluster: ClusterPlan, step: StepOutcome) -> str:
    result = step.state if step.state != "failed" else "**failed**"
    time = _duration(step.seconds) if step.state != "not run" else ""
    cells = [
        str(step.id),
        md_text(_name(cluster, step.node)),
        md_text(step.action),
        md_code(step.command, in_table=True),
        result,
        time,
    ]
    return f"| {' | '.join(cells)} |"


def _assemble(head: list[str], error: str, rows: list[str], total: int) -> str:
    document = "\n".join(head) + "\n" + error
    if total:
        summary = f"Steps ({total})"
        lines = ["", f"<details><summary>{summary}</summary>", ""]
        if rows:
            lines += [*_STEPS_HEADER, *rows]
        if len(rows) < total:
            lines += ["", f"… {total - len(rows)} more steps not shown; the journal has them all."]
        lines += ["", "</details>"]
        document += "\n".join(lines) + "\n"
    return document


def _name(cluster: ClusterPlan, address: str) -> str:
    name = node_names(cluster).get(address)
    return f"{name} ({address})" if name else address


def _duration(seconds: float) -> str:
    """Whole seconds (``0s``, ``42s``, ``4m 12s``): timings to the second are plenty."""
    return format_duration(timedelta(seconds=round(seconds)))
