"""The outcome of ``reconcile --apply`` as pull-request comments, one per cluster.

The same shape as the plan comments (``plan.render.markdown``, on the same primitives,
``plan.render.comment``): each starts with ``APPLY_MARKER`` and the cluster's own marker
(``<!-- cms-reconciler apply: lab -->``), and ``--apply --format markdown`` prints them one
after the other, to be split at each line equal to ``APPLY_MARKER``. A comment says, first,
the cluster's result (``apply.results``: converged, not converged, failed at step N with the
error, interrupted at step N, not verified or not started), what ran and how long it took,
the outage it measured (``apply.outage``), where each node's backup is (on the node and its
local copy) and where the journal is; then the steps with their results and rounded timings,
folded. ``render_apply_text`` is the same verdict as text: one line per planned cluster, then
each cluster's measured outage and backups. The view lives in ``apply``, above what it shows
(the plan and the apply), never in ``plan``.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

from reconciler.apply.apply import ApplyReport
from reconciler.apply.executor import ClusterOutcome, StepOutcome
from reconciler.apply.outage import Outage, Span, planned
from reconciler.apply.results import ClusterResult, judge
from reconciler.durations import format_duration
from reconciler.live.caveats import caveat_notes
from reconciler.plan.models import ClusterPlan, Plan
from reconciler.plan.render.comment import (
    DEFAULT_LIMIT,
    MIN_LIMIT,
    clip,
    cluster_marker,
    comment_size,
    fenced,
    md_code,
    md_text,
)
from reconciler.plan.render.common import (
    display_time,
    node_names,
    plural,
    sentence,
    without_fraction,
)

APPLY_MARKER = "<!-- cms-reconciler apply -->"
APPLY_HEADING = "### cms-reconciler apply"
_STEPS_HEADER = (
    "| step | node | action | command | result | time |",
    "| --: | --- | --- | --- | --- | --: |",
)
_CONTINUE = "run `reconcile --plan` to see the safe continuation from the state left behind"


def render_apply_text(report: ApplyReport, plan: Plan) -> str:
    """Every planned cluster and its result, one line each (``lab  failed at step 26``);
    then, for each cluster apply ran, its measured outage and where its backups are; then,
    when every cluster converged, the line that says so."""
    results = _results(report, plan)
    if not results:
        return "No clusters were applied."
    width = max(len(result.name) for result in results)
    lines = ["Apply outcome:"]
    for result in results:
        lines.append(f"  {result.name.ljust(width)}  {result.summary}")
        if result.window is not None:
            lines.append(f"  {' ' * width}  {result.window}")
    outcomes = {outcome.name: outcome for outcome in report.clusters}
    for cluster in plan.clusters:
        outcome = outcomes.get(cluster.name)
        if outcome is not None:
            lines += _measured_lines(cluster, outcome)
    if report.rehearsal_skipped:
        lines.append("Not rehearsed on a twin before apply (--skip-rehearsal).")
    if report.converged:
        lines.append("Apply complete: every cluster is converged.")
        # "Converged" as a plan judges it: from the files on disk (live/caveats.py).
        final = report.final_plan.clusters if report.final_plan else []
        lines += caveat_notes(caveat for cluster in final for caveat in cluster.caveats)
    return "\n".join(lines)


def _measured_lines(cluster: ClusterPlan, outcome: ClusterOutcome) -> list[str]:
    """``Outage of lab (measured): ...``, then ``Backups of lab ...`` and a line per backup."""
    lines = []
    if outcome.outage is not None:
        lines.append(
            f"Outage of {cluster.name} (measured): {outage_words(cluster, outcome.outage)}"
        )
    if outcome.backups:
        lines.append(f"Backups of {cluster.name}: the file on each node, and its local copy")
        lines += [
            f"  {_name(cluster, backup.node)}: {backup.on_node}  {backup.local_copy}"
            for backup in outcome.backups
        ]
    return lines


def outage_words(cluster: ClusterPlan, outage: Outage) -> str:
    """What apply took out of service and for how long, as measured (``apply.outage``):
    ``cluster down 5m 12s (from step 4 until step 27 was verified); no master for 3m 1s
    (from step 6 until step 25 was verified)``; ``still down`` when apply stopped before
    verifying its way back."""
    bridges = "".join(f"; {_bridge_out(cluster, span)}" for span in outage.bridges_out)
    down = outage.cluster_down
    if down is not None:
        return _cluster_down(down) + _no_master(outage.no_master) + bridges
    if outage.nodes_out or outage.bridges_out:
        nodes = [_node_out(cluster, span) for span in outage.nodes_out]
        out = f"; {', '.join(nodes)}" if nodes else ""
        return f"the cluster stayed up (the master kept serving){out}{bridges}"
    spans = planned(cluster)
    first = next((span for span in spans if span.begins is not None), None)
    if first is None or first.begins is None:
        return "none: no step took the cluster or a node out of service"
    if first.kind == "cluster_down":
        what = "the cluster down"
    elif first.kind == "bridge_out":
        what = f"call bridge {_name(cluster, first.begins.node)} off its database"
    else:
        what = f"{_name(cluster, first.begins.node)} out of the cluster"
    return f"none: apply stopped before step {first.begins.id}, which would have taken {what}"


def _cluster_down(span: Span) -> str:
    took = _measured(span.seconds)
    if span.down_before_apply:
        if span.still_down:
            return f"cluster still down when apply stopped (down before apply began; {took} since)"
        return (
            f"cluster down before apply began; back {took} after apply began, when step "
            f"{span.until_step} was verified"
        )
    if span.still_down:
        return (
            f"cluster still down when apply stopped, {took} after step {span.from_step} took "
            f"it down (step {span.until_step} would have brought the last node back)"
        )
    return (
        f"cluster down {took} (from step {span.from_step} until step {span.until_step} was "
        "verified)"
    )


def _no_master(span: Span | None) -> str:
    if span is None:
        return ""
    took = _measured(span.seconds)
    if span.still_down:
        since = "before apply began" if span.down_before_apply else f"step {span.from_step}"
        return f"; no master since {since}"
    if span.down_before_apply:
        return f"; no master until step {span.until_step} was verified, {took} after apply began"
    return (
        f"; no master for {took} (from step {span.from_step} until step {span.until_step} was "
        "verified)"
    )


def _node_out(cluster: ClusterPlan, span: Span) -> str:
    name = _name(cluster, span.node or "")
    took = _measured(span.seconds)
    if span.still_down:
        return (
            f"{name} still out of the cluster when apply stopped, {took} after step "
            f"{span.from_step}"
        )
    return (
        f"{name} out of the cluster {took} (from step {span.from_step} until step "
        f"{span.until_step} was verified)"
    )


def _bridge_out(cluster: ClusterPlan, span: Span) -> str:
    name = _name(cluster, span.node or "")
    took = _measured(span.seconds)
    if span.still_down:
        since = "before apply began" if span.down_before_apply else f"step {span.from_step}"
        return f"call bridge {name} still without the database when apply stopped (since {since})"
    if span.down_before_apply:
        return (
            f"call bridge {name} without the database until step {span.until_step} was "
            f"verified, {took} after apply began"
        )
    return (
        f"call bridge {name} without the database {took} (from step {span.from_step} until "
        f"step {span.until_step} was verified)"
    )


def _measured(seconds: float) -> str:
    """A measured duration: whole seconds, and never ``0s`` for a real outage."""
    return "under 1s" if seconds < 1 else _duration(seconds)


def _results(report: ApplyReport, plan: Plan) -> list[ClusterResult]:
    return report.results or judge(plan, report.clusters, report.final_plan)


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
    results = _results(report, plan)
    stopper = next((r for r in results if r.result in ("failed", "interrupted")), None)
    return [
        _comment(report, plan, cluster, outcomes.get(cluster.name), result, stopper, limit)
        for cluster, result in zip(plan.clusters, results, strict=True)
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
    result: ClusterResult,
    stopper: ClusterResult | None,
    limit: int,
) -> str:
    status = _status(report, cluster, outcome, result, stopper)
    head = [
        APPLY_MARKER,
        cluster_marker(cluster.name, "apply"),
        f"{APPLY_HEADING} of {md_code(cluster.name)}: {status.title}",
        "",
        *status.lines,
    ]
    if result.window is not None:
        head.append(f"- **Maintenance window:** {md_text(sentence(result.window))}.")
    if outcome is not None:
        if outcome.outage is not None:
            head.append(
                f"- **Outage (measured):** {md_text(outage_words(cluster, outcome.outage))}."
            )
        if outcome.backups:
            head.append(
                f"- **Backups:** {plural(len(outcome.backups), 'backup')} taken and downloaded "
                "to the machine that applied:"
            )
            head += [
                f"  - {md_text(_name(cluster, backup.node))}: {md_code(backup.on_node)} on the "
                f"node; local copy {md_code(backup.local_copy)}"
                for backup in outcome.backups
            ]
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
    report: ApplyReport,
    cluster: ClusterPlan,
    outcome: ClusterOutcome | None,
    result: ClusterResult,
    stopper: ClusterResult | None,
) -> _Status:
    title = "converged ✅" if result.result == "converged" else f"**{result.summary}**"
    if result.result == "deferred":
        return _Status(
            "**deferred** ⏳",
            [
                f"- **Deferred:** {md_text(sentence(result.summary))}; nothing was sent to "
                "this cluster. Once its maintenance window is open it can be applied: "
                "the scheduled apply plans it again then and asks for approval, or run "
                "`reconcile apply` in the window.",
            ],
        )
    if result.result == "not started":
        if stopper is not None and stopper.result == "failed":
            why = f"apply stopped at cluster {md_code(stopper.name)}, which failed"
        else:
            why = "apply was interrupted (Ctrl-C or SIGTERM) before it began"
        return _Status(title, [f"- **Not started:** {why}; nothing was sent to this cluster."])
    if outcome is None:
        ran = "- **Ran:** nothing: it was converged when the plan was made."
        return _Status(title, [ran, _result_line(report, cluster.name, result)])
    done = [step for step in outcome.steps if step.state == "done"]
    skipped = [step for step in outcome.steps if step.state == "not run"]
    took = _duration(sum(step.seconds for step in outcome.steps))
    ran = f"- **Ran:** {len(done)} of {plural(len(outcome.steps), 'step')} done"
    if result.result == "interrupted":
        running = next((step for step in outcome.steps if step.state == "interrupted"), None)
        if running is not None:
            where = (
                f"interrupted at step {running.id} ({running.action} on "
                f"{_name(cluster, running.node)}), which the node may still be carrying out"
            )
        elif done:
            where = f"interrupted after step {done[-1].id} completed"
        else:
            where = "interrupted before its first step"
        return _Status(
            title,
            [
                f"{ran}; {where}; {plural(len(skipped), 'later step')} not sent; {took} in all.",
                f"- **Next:** {_CONTINUE}.",
            ],
        )
    if result.result == "failed":
        broken = next((step for step in outcome.steps if step.state == "failed"), None)
        if broken is None:
            return _Status(
                title,
                [
                    f"- **Ran:** nothing; {plural(len(skipped), 'step')} did not run.",
                    f"- **Next:** {_CONTINUE}.",
                ],
                error=without_fraction(outcome.error or ""),
            )
        where = f"step {broken.id} ({broken.action} on {_name(cluster, broken.node)})"
        return _Status(
            title,
            [
                f"{ran}; {where} failed after {_duration(broken.seconds)}; "
                f"{plural(len(skipped), 'later step')} did not run; {took} in all.",
                f"- **Error:** {md_text(without_fraction(broken.detail or 'see below'))}.",
                f"- **Next:** {_CONTINUE}.",
            ],
            error=without_fraction(outcome.error or ""),
        )
    return _Status(title, [f"{ran} in {took}.", _result_line(report, cluster.name, result)])


def _result_line(report: ApplyReport, name: str, result: ClusterResult) -> str:
    """Judged by the plan made after apply, not by the steps (as apply itself does)."""
    if result.result == "not verified":
        return f"- **Result:** not planned again: apply was interrupted; {_CONTINUE}."
    final = report.final_plan
    after = next((c for c in final.clusters if c.name == name), None) if final else None
    if result.result == "converged" or after is None:
        return "- **Result:** converged: the plan after apply is empty."
    if after.blocked:
        errors = after.errors
        problem = (errors[0].message or errors[0].what) if errors else "an error"
        return f"- **Result:** the plan after apply is blocked: {md_text(problem)}."
    return (
        f"- **Result:** the plan after apply still has {plural(len(after.steps), 'step')} "
        f"({md_text(after.strategy.value)}); {_CONTINUE}."
    )


def _provenance(report: ApplyReport, plan: Plan) -> str:
    commit = report.git.commit or plan.git.commit
    shown = md_code(str(commit)[:7]) if commit else "no commit"
    text = f"Desired state: {shown}; started {md_text(display_time(report.started))}"
    if report.finished:
        text += f", finished {md_text(display_time(report.finished))}"
    if report.rehearsal_skipped:
        text += "; not rehearsed on a twin before apply (`--skip-rehearsal`)"
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
