"""The plan for a terminal, terraform-like: findings, numbered steps in execution order, impact.

Everything is printed as ``rich.text.Text`` (never markup strings), so a ``[`` in a command or
a file name is shown as typed; colour comes only from styles, which rich drops by itself when
the output is not a terminal or ``NO_COLOR`` is set.
"""

from __future__ import annotations

from rich.console import Console
from rich.text import Text

from reconciler.live.caveats import caveat_notes
from reconciler.plan.models import (
    AccessReport,
    Action,
    ClusterPlan,
    DataAuthority,
    Finding,
    Plan,
    Rehearsal,
    Step,
)
from reconciler.plan.render.common import (
    access_changes_sentence,
    access_sentence,
    closing_line,
    day,
    estimated_duration,
    grouped_findings,
    master_change_warning,
    named_nodes,
    node_label,
    node_names,
    not_contacted_sentence,
    pending_sentence,
    plural,
    sentence,
    short_commit,
    step_nodes,
)
from reconciler.plan.render.outage import IF_EVERY_WAIT_TIMES_OUT, outage_span, sentence_start
from reconciler.plan.render.rehearsal import final_row, verdict
from reconciler.plan.render.window import window_sentence

SEVERITY_SYMBOL = {"change": "~", "warning": "!", "error": "x", "info": "i"}
SEVERITY_STYLE = {"change": "yellow", "warning": "bold yellow", "error": "bold red", "info": "dim"}
# Each step kind's colour (a test fails naming an Action missing here).
ACTION_STYLE = {
    Action.BACKUP: "cyan",
    Action.UPLOAD: "blue",
    Action.REMOVE: "red",
    Action.CERTS: "magenta",
    Action.LOCALNODE: "magenta",
    Action.INITIALIZE: "green",
    Action.JOIN: "green",
    Action.CONNECT: "green",
}
ACTION_WIDTH = max(len(action.value) for action in Action) + 2


def render_text(plan: Plan, console: Console) -> None:
    """Print every cluster of the plan; long lines are left to the terminal to wrap so that
    commands can be copied whole."""
    if not plan.clusters:
        _print(console, Text("No clusters in this plan."))
        return
    for index, cluster in enumerate(plan.clusters):
        if index:
            _print(console, Text())
        _render_cluster(plan, cluster, console)
    # Once, however many clusters say "No changes", after them: what that could not see.
    for note in caveat_notes(caveat for cluster in plan.clusters for caveat in cluster.caveats):
        _print(console, Text())
        _print(console, Text(note, style="dim"))


def text_summary(plan: Plan) -> str:
    """One plain line per cluster, for logs and the audit trail."""
    if not plan.clusters:
        return "no clusters"
    return "\n".join(_summary_line(cluster) for cluster in plan.clusters)


def _summary_line(cluster: ClusterPlan) -> str:
    if cluster.blocked:
        errors = cluster.errors
        first = f": {_finding_plain(cluster, errors[0])}" if errors else ""
        return f"{cluster.name}: BLOCKED ({plural(len(errors), 'error')}){first}"
    if not cluster.steps:
        return f"{cluster.name}: converged"
    line = (
        f"{cluster.name}: {cluster.strategy.value}, {plural(len(cluster.steps), 'step')} on "
        f"{plural(len(step_nodes(cluster)), 'node')}, "
        f"at most {estimated_duration(cluster)}"
    )
    if cluster.data_authority is not None and cluster.data_authority.master_change:
        line += ", master change (needs --allow-master-change)"
    if cluster.condition is not None:
        line += f", {cluster.condition.label}"
    return line


def _render_cluster(plan: Plan, cluster: ClusterPlan, console: Console) -> None:
    header = Text()
    header.append(f"Cluster {cluster.name}", style="bold")
    header.append(f"  strategy: {cluster.strategy.value}")
    header.append(f"  git: {short_commit(plan.git)}", style="yellow" if plan.git.dirty else "")
    _print(console, header)
    condition = cluster.condition
    if condition is not None:  # before anything else: it is out of service already
        label = sentence_start(condition.label)
        _print(console, Text(f"{label}: {sentence(condition.detail)}.", style="bold red"))
    if cluster.access is not None:
        _print_access(console, cluster.access, node_names(cluster))

    if cluster.blocked:
        _print_blocked(console, cluster)
        return

    if cluster.data_authority is not None:
        _print_authority(console, cluster.data_authority)
    if plan.recertify and cluster.steps:
        _print(
            console,
            Text(
                "Recertify: every node re-loads its certificates, even where its files "
                "already match (--recertify).",
                style="bold cyan",
            ),
        )

    if cluster.findings:
        _print(console, Text("Findings:", style="bold"))
        for finding in cluster.findings:
            _print_finding(console, cluster, finding)

    if cluster.steps:
        _print_steps(console, cluster, plan.created_at)

    if cluster.rehearsal is not None:
        _print_rehearsal(console, cluster.rehearsal)

    style = "bold green" if not cluster.steps else "bold"
    _print(console, Text(closing_line(cluster), style=style))


def _print_access(console: Console, access: AccessReport, names: dict[str, str]) -> None:
    _print(console, Text(f"Access: {sentence(access_sentence(access))}.", style="cyan"))
    changes = access_changes_sentence(access)
    if changes is not None:
        _print(console, Text(f"Access change: {sentence(changes)}.", style="bold yellow"))
    skipped = not_contacted_sentence(access, names)
    if skipped is not None:
        _print(console, Text(f"Not contacted: {sentence(skipped)}.", style="bold yellow"))
    pending = pending_sentence(access)
    if pending is not None:
        _print(console, Text(f"Access pending: {sentence(pending)}.", style="bold yellow"))


def _print_blocked(console: Console, cluster: ClusterPlan) -> None:
    _print(console, Text(f"Cannot plan cluster {cluster.name}:", style="bold red"))
    errors = cluster.errors
    for finding, nodes in grouped_findings(errors):
        _print_finding(console, cluster, finding, nodes)
    if not errors:
        _print(console, Text("  x the planner marked it blocked without saying why", "red"))


def _print_authority(console: Console, authority: DataAuthority) -> None:
    style = "bold red" if authority.master_change else "bold cyan"
    line = Text("Data authority: ", style=style)
    line.append(authority.statement, style="bold")
    _print(console, line)
    if authority.master_change:
        _print(console, Text(master_change_warning(), style="bold red"))


def _print_steps(console: Console, cluster: ClusterPlan, planned_at: str) -> None:
    _print(console, Text("Steps:", style="bold"))
    width = len(str(max(step.id for step in cluster.steps)))
    for step in cluster.steps:
        _print_step(console, step, width)
    _print_impact(console, cluster)
    window = window_sentence(cluster, planned_at)
    if window is not None:
        style = (
            "bold yellow"
            if cluster.window is not None and not cluster.window.applies_now
            else "dim"
        )
        _print(console, Text(f"  maintenance window: {window}", style=style))


def _print_rehearsal(console: Console, rehearsal: Rehearsal) -> None:
    style = "bold red"
    if rehearsal.converges:  # yellow: it converges only if what just failed succeeds
        style = "bold yellow" if rehearsal.last_command_failed else "bold green"
    _print(console, Text(verdict(rehearsal)[:1].upper() + verdict(rehearsal)[1:], style=style))
    problem = (rehearsal.problem or "").splitlines()
    for line in problem[1:]:
        _print(console, Text(f"  {line}", style="red"))
    if rehearsal.final:
        _print(console, Text("  predicted final state:", style="dim"))
        rows = [final_row(node) for node in rehearsal.final]
        widths = [max(len(row[column]) for row in rows) for column in range(5)]
        for row in rows:
            cells = "  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True))
            _print(console, Text(f"    {cells}".rstrip(), style="dim"))
    for assumption in rehearsal.assumptions:
        _print(console, Text(f"  assumed: {assumption}", style="dim"))


def _print_finding(
    console: Console, cluster: ClusterPlan, finding: Finding, nodes: list[str | None] | None = None
) -> None:
    line = Text("  ")
    line.append(SEVERITY_SYMBOL[finding.severity], style=SEVERITY_STYLE[finding.severity])
    line.append(" ")
    line.append(_finding_plain(cluster, finding, nodes), style=_finding_body_style(finding))
    _print(console, line)
    if finding.message and not _is_problem(finding):
        _print(console, Text(f"    {finding.message}", style="dim"))
    certificate = finding.desired_certificate
    if certificate is not None:  # what the markdown's table shows of it, too
        _print(
            console,
            Text(
                f"    new certificate: subject {certificate.subject}; issuer "
                f"{certificate.issuer}; valid until {day(certificate.not_after)}",
                style="dim",
            ),
        )


def _is_problem(finding: Finding) -> bool:
    """A node that cannot be planned for: its message says it all (cause and fix)."""
    return finding.severity == "error" and not finding.live and not finding.desired


def _finding_plain(
    cluster: ClusterPlan, finding: Finding, nodes: list[str | None] | None = None
) -> str:
    if _is_problem(finding) and finding.message:
        return f"{named_nodes(cluster, nodes or [finding.node])}: {finding.message}"
    if nodes is not None and len(nodes) > 1:
        text = f"{named_nodes(cluster, nodes)} {finding.what}"
    else:
        text = f"{node_label(cluster, finding.node)} {finding.what}"
    if finding.live == finding.desired and finding.live:
        text += f": {finding.live}"
    elif finding.live or finding.desired:
        text += f": {finding.live or '(none)'} -> {finding.desired or '(none)'}"
    elif finding.message:
        text += f": {finding.message}"
    return text


def _finding_body_style(finding: Finding) -> str:
    return {"error": "red", "info": "dim"}.get(finding.severity, "")


def _print_step(console: Console, step: Step, width: int) -> None:
    line = Text(f"  {step.id:>{width}}. ")
    line.append(f"[{step.node} {step.node_name}]" if step.node_name else f"[{step.node}]")
    line.append(" ")
    line.append(f"{step.action.value:<{ACTION_WIDTH}}", style=ACTION_STYLE[step.action])
    line.append(step.command, style="bold")
    _print(console, line)
    reason = step.reason
    if step.after:
        reason += f" (after {', '.join(str(after) for after in step.after)})"
    _print(console, Text(" " * (width + 4) + reason, style="dim"))


def _print_impact(console: Console, cluster: ClusterPlan) -> None:
    impact = cluster.impact
    line = Text("Impact: ", style="bold")
    line.append(impact.summary)
    _print(console, line)
    # The one outage line: modelled (with a rehearsal) and bound, each said to be what it is.
    _print(console, Text(f"  outage: {outage_span(cluster)}", style="dim"))
    restarted = ", ".join(node_label(cluster, node) for node in impact.restarts) or "none"
    details = (
        f"  restarts: {restarted}; at most {plural(impact.max_nodes_out, 'node')} out at once; "
        f"the whole apply at most {estimated_duration(cluster)} {IF_EVERY_WAIT_TIMES_OUT}"
    )
    _print(console, Text(details, style="dim"))


def _print(console: Console, text: Text) -> None:
    console.print(text, soft_wrap=True, highlight=False)
