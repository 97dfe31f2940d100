"""The plan as GitHub pull-request comments: one comment per cluster, readable in 30 seconds.

Each comment starts with two hidden lines: ``MARKER`` (``<!-- cms-reconciler plan -->``, the
same for every comment, so one line tells where each comment starts) and the cluster's own
marker (``<!-- cms-reconciler plan: lab -->``, so CI keeps one comment per cluster and edits
it in place). Then, in the order a reviewer needs them:

1. a cluster already down, half taken apart or broken before anything runs, said first (in
   the heading, then node by node); the outage (what is out, between which steps, how long
   as modelled by a rehearsal and at most, which nodes restart), whose database survives, and
   what merging runs;
2. the findings, one row per change with the nodes it applies to (the same change on every
   node is one row), new certificates by subject, issuer and expiry;
3. a Mermaid flowchart of the plan's phases;
4. the steps, folded; the cluster's plan JSON, folded (it loads as a plan file).

``--format markdown`` prints the comments one after another; CI splits them at every line
that is exactly ``MARKER`` (``split_comments``). GitHub refuses comments of more than 65,536
characters; a comment longer than ``limit`` is shortened in steps (the folded JSON first,
then the step list, then the finding rows, then the drawing) and says so at its end.

Every piece of text that comes from the plan goes through ``md_text`` or ``md_code``: file
names and reasons may contain ``|``, backticks or ``<`` and must not break the tables, spans
or the ``<details>`` blocks.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from reconciler.plan.models import AccessReport, ClusterPlan, Finding, Plan, Rehearsal, Step
from reconciler.plan.render.comment import (
    DEFAULT_LIMIT,
    LINES,
    MIN_LIMIT,
    clip,
    cluster_marker,
    comment_size,
    fenced,
    md_code,
    md_text,
    plain_name,
)
from reconciler.plan.render.common import (
    access_changes_sentence,
    access_sentence,
    commit_text,
    day,
    display_time,
    node_names,
    not_contacted_sentence,
    pending_sentence,
    plural,
    sentence,
    short_name,
    without_fraction,
)
from reconciler.plan.render.json import render_json
from reconciler.plan.render.mermaid import mermaid_block
from reconciler.plan.render.outage import data_sentence, outage_sentence, sentence_start
from reconciler.plan.render.rehearsal import final_row, verdict
from reconciler.plan.render.window import window_sentence

MARKER = "<!-- cms-reconciler plan -->"
HEADING = "### cms-reconciler plan"
# What the apply workflow does once the pull request is merged (.github/workflows/apply.yml).
MERGE_SENTENCE = (
    "plans the merged commit again and, once an approver of `cms-{name}-apply` has seen that "
    "plan, applies exactly it (`reconcile apply --plan-file`)"
)

_FINDINGS_HEADER = (
    "| what | nodes | live | desired | severity |",
    "| --- | --- | --- | --- | --- |",
)


def split_comments(text: str, marker: str = MARKER) -> list[str]:
    """The comments of ``--format markdown`` output: a new one at each line equal to ``marker``.

    The inverse of ``"".join(comments)``; what a CI script does with ``awk`` or ``csplit``.
    """
    comments: list[str] = []
    for line in LINES.findall(text):
        if not comments or line.rstrip("\n") == marker:
            comments.append("")
        comments[-1] += line
    return comments


def render_markdown(plan: Plan, *, limit: int = DEFAULT_LIMIT) -> str:
    """What ``--format markdown`` prints: every cluster's comment, one after the other."""
    return "".join(render_markdown_comments(plan, limit=limit))


def render_markdown_comments(plan: Plan, *, limit: int = DEFAULT_LIMIT) -> list[str]:
    """One PR comment per cluster (one saying so for a plan without clusters), each at most
    ``limit`` characters and starting with ``MARKER`` and the cluster's marker."""
    if limit < MIN_LIMIT:
        raise ValueError(f"limit {limit} is too small for a plan comment (minimum {MIN_LIMIT})")
    if not plan.clusters:
        return [f"{MARKER}\n{HEADING}\n\nNo clusters in this plan.\n"]
    return [_comment(plan, cluster, limit) for cluster in plan.clusters]


# --- one cluster's comment -------------------------------------------------------------------
@dataclass(frozen=True)
class _Parts:
    """One cluster, pre-rendered, so that shortening is only a matter of joining."""

    name: str
    head: list[str]
    findings_title: str
    findings: list[str]  # table rows, header excluded
    mermaid: str | None
    steps: list[str]
    json: str


@dataclass(frozen=True)
class _Cut:
    """How far a comment is shortened; ``None`` caps mean everything is shown."""

    json: bool = False
    steps: int | None = None
    findings: int | None = None
    mermaid: bool = False
    truncated: bool = False

    @property
    def any(self) -> bool:
        return (
            self.json
            or self.steps is not None
            or self.findings is not None
            or self.mermaid
            or self.truncated
        )

    def note(self, name: str, hidden_steps: int = 0, hidden_findings: int = 0) -> str:
        """The closing note: says the comment was cut, what is missing and where to see it."""
        left_out: list[str] = []
        if self.json:
            left_out.append("the folded JSON plan")
        if hidden_steps:
            left_out.append(plural(hidden_steps, "step"))
        if hidden_findings:
            left_out.append(plural(hidden_findings, "finding"))
        if self.mermaid:
            left_out.append("the flowchart")
        if self.truncated:
            left_out.append("the end of the summary")
        return (
            "\n---\n\n"
            "> **Note:** this comment was cut to fit GitHub's comment size limit "
            f"({', '.join(left_out) or 'some details'} not shown). "
            f"Run {md_code(_local_command(name))} for the whole plan.\n"
        )


def _local_command(name: str) -> str:
    if not plain_name(name):
        return "reconcile --plan"
    return f"reconcile --plan --cluster {name}"


def _comment(plan: Plan, cluster: ClusterPlan, limit: int) -> str:
    parts = _parts(plan, cluster)
    for cut in (_Cut(), _Cut(json=True)):
        document = _assemble(parts, cut)
        if comment_size(document) <= limit:
            return document
    ladders: list[tuple[int, Callable[[int], _Cut]]] = [
        (len(parts.steps) - 1, lambda cap: _Cut(json=True, steps=cap)),
        (len(parts.findings) - 1, lambda cap: _Cut(json=True, steps=0, findings=cap)),
    ]
    if parts.mermaid is not None:
        ladders.append(
            (len(parts.findings), lambda cap: _Cut(json=True, steps=0, findings=cap, mermaid=True))
        )
    for highest, make in ladders:
        shortened = _fitting(parts, make, highest, limit)
        if shortened is not None:
            return shortened
    return _hard_cut(parts, limit)


def _fitting(parts: _Parts, make: Callable[[int], _Cut], highest: int, limit: int) -> str | None:
    """The comment with the largest cap in ``0..highest`` that fits, or None."""
    cap = _largest_fitting(highest, lambda value: _assemble(parts, make(value)), limit)
    return _assemble(parts, make(cap)) if cap is not None else None


def _parts(plan: Plan, cluster: ClusterPlan) -> _Parts:
    said = _authority_finding(cluster)  # the head says it
    findings = cluster.errors if cluster.blocked else cluster.findings
    findings = [finding for finding in findings if finding is not said]
    names = node_names(cluster)
    single = plan.model_copy(
        update={"created_at": without_fraction(plan.created_at), "clusters": [cluster]}
    )
    return _Parts(
        name=cluster.name,
        head=_head(plan, cluster),
        findings_title="**Errors**" if cluster.blocked else "**Findings**",
        findings=[_finding_row(names, finding, nodes) for finding, nodes in _grouped(findings)],
        mermaid=mermaid_block(cluster),
        steps=[_step_line(step) for step in cluster.steps],
        json=render_json(single),
    )


def _state(cluster: ClusterPlan) -> str:
    """What the heading says of the cluster: first, whether it is out of service already."""
    if cluster.blocked:
        state = "**BLOCKED**"
    elif not cluster.steps:
        state = "converged"
    else:
        state = f"{plural(len(cluster.steps), 'step')} ({md_text(cluster.strategy.value)})"
    condition = cluster.condition
    return state if condition is None else f"{condition.label}; {state}"


def _head(plan: Plan, cluster: ClusterPlan) -> list[str]:
    # The heading is the first line after the markers: it says a cluster already down first.
    lines = [
        MARKER,
        cluster_marker(cluster.name),
        f"{HEADING} for {md_code(cluster.name)}: {_state(cluster)}",
    ]
    lines.append("")
    condition = cluster.condition
    if condition is not None:
        label = f"**{sentence_start(condition.label)}:**"
        lines.append(f"- ⛔ {label} {md_text(sentence(condition.detail))}.")
    label = "**Blocked:**" if cluster.blocked else "**Outage:**"
    lines.append(f"- {label} {md_text(sentence(outage_sentence(cluster)))}.")
    data = data_sentence(cluster)
    if data is not None:
        lines.append(f"- **Data:** {md_text(sentence(data))}.")
    authority = cluster.data_authority
    master_change = bool(cluster.steps) and authority is not None and authority.master_change
    said = _authority_finding(cluster)
    if authority is not None and (master_change or (said is not None and said.severity != "info")):
        lines.append(f"  - **Why:** {md_text(sentence(authority.statement))}.")
    if master_change:
        lines.append(
            "- ⚠️ **Master change:** apply refuses this plan without `--allow-master-change`; "
            "check that the database named above is the one to keep."
        )
    if plan.recertify and cluster.steps:
        lines.append(
            "- **Recertify:** every node re-loads its certificates, even where its files "
            "already match (`--recertify`)."
        )
    merging = MERGE_SENTENCE.format(name=md_text(cluster.name))
    effect = _merge_effect(cluster, master_change, recertify=plan.recertify)
    lines.append(f"- **Merging** {merging}{effect}.")
    window = window_sentence(cluster, plan.created_at)
    if window is not None:
        lines.append(f"- **Maintenance window:** {md_text(sentence(window))}.")
    lines += [f"- **Note:** {_with_code(sentence(caveat.detail))}." for caveat in cluster.caveats]
    if cluster.rehearsal is not None:
        lines += _rehearsal_lines(cluster.rehearsal)
    if cluster.access is not None:
        lines += _access_lines(cluster.access, node_names(cluster))
    commit = md_code(commit_text(plan.git)) if plan.git.commit else "no commit"
    dirty = " with uncommitted changes (dirty)" if plan.git.dirty else ""
    lines += [
        "",
        f"Desired state: {commit}{dirty}; planned at {md_text(display_time(plan.created_at))}.",
    ]
    return lines


def _access_lines(access: AccessReport, names: dict[str, str]) -> list[str]:
    """Where access came from; what the pull request would change in it; who was skipped."""
    lines = [f"- **Access:** {md_text(sentence(access_sentence(access)))}."]
    changes = access_changes_sentence(access)
    if changes is not None:
        lines.append(f"  - ⚠️ **Access change:** {md_text(sentence(changes))}.")
    skipped = not_contacted_sentence(access, names)
    if skipped is not None:
        lines.append(f"  - **Not contacted:** {md_text(sentence(skipped))}.")
    pending = pending_sentence(access)
    if pending is not None:
        lines.append(f"  - 🔑 **Access pending:** {md_text(sentence(pending))}.")
    return lines


def _rehearsal_lines(rehearsal: Rehearsal) -> list[str]:
    """The verdict, then the predicted final table (and what the twin assumed), folded."""
    mark = "❌"
    if rehearsal.converges:  # a warning: it converges only if what just failed succeeds
        mark = "⚠️" if rehearsal.last_command_failed else "✅"
    lines = [f"- {mark} **Rehearsal:** {md_text(sentence(verdict(rehearsal)))}."]
    details = []
    if rehearsal.problem and "\n" in rehearsal.problem:
        details += ["", fenced(rehearsal.problem).rstrip("\n")]
    if rehearsal.final:
        details += ["", "| node | address | status | role | sync |", "|" + " --- |" * 5]
        details += [
            "| " + " | ".join(md_text(cell) for cell in final_row(node)) + " |"
            for node in rehearsal.final
        ]
    if rehearsal.assumptions:
        details += ["", "Assumed by the twin:", ""]
        details += [f"- {md_text(assumption)}" for assumption in rehearsal.assumptions]
    if details:
        lines += [
            "",
            "<details><summary>Predicted final state (rehearsal)</summary>",
            *details,
            "",
            "</details>",
        ]
    return lines


def _authority_finding(cluster: ClusterPlan) -> Finding | None:
    """The planner's finding that repeats the data authority (the head says it instead)."""
    authority = cluster.data_authority
    if authority is None or not cluster.steps:
        return None
    for finding in cluster.findings:
        if finding.what == "data" and finding.message == authority.statement:
            return finding
    return None


def _merge_effect(cluster: ClusterPlan, master_change: bool, *, recertify: bool = False) -> str:
    if cluster.blocked:
        return "; apply refuses to start while this cluster is blocked"
    if not cluster.steps:
        return "; it sends nothing to this cluster"
    if recertify:  # the apply workflow plans without it
        return (
            "; made without `--recertify`, that plan re-loads no certificates where the files "
            "already match, so these steps run only from `reconcile apply --recertify`"
        )
    if master_change:
        return "; apply stops before the first command unless it is given --allow-master-change"
    return ": the steps below, if the nodes are still as they were read"


def _with_code(text: str) -> str:
    """Our own sentence with its backquoted commands as code spans, the rest as text."""
    return "".join(
        md_code(part) if odd else md_text(part)
        for odd, part in ((index % 2 == 1, part) for index, part in enumerate(text.split("`")))
    )


def _grouped(findings: list[Finding]) -> list[tuple[Finding, list[str | None]]]:
    """Findings that say the same thing of several nodes, as one, with those nodes; errors
    first, then in the planner's order."""
    groups: dict[str, tuple[Finding, list[str | None]]] = {}
    for finding in findings:
        key = finding.model_copy(update={"node": None}).model_dump_json()
        if key not in groups:
            groups[key] = (finding, [])
        nodes = groups[key][1]
        if finding.node not in nodes:
            nodes.append(finding.node)
    ordered = list(groups.values())
    return sorted(ordered, key=lambda group: group[0].severity != "error")


def _finding_row(names: dict[str, str], finding: Finding, nodes: list[str | None]) -> str:
    what = md_text(finding.what)
    if finding.message:
        what += f": {md_text(finding.message)}"
    severity = md_text(finding.severity)
    if finding.severity == "error":
        severity = f"**{severity}**"
    desired = md_text(finding.desired)
    certificate = finding.desired_certificate
    if certificate is not None:
        desired += (
            f"; subject {md_code(certificate.subject, in_table=True)}"
            f"; issuer {md_code(certificate.issuer, in_table=True)}"
            f"; valid until {md_text(day(certificate.not_after))}"
        )
    cells = [
        what,
        _nodes_cell(names, nodes),
        md_text(finding.live),
        desired,
        severity,
    ]
    return f"| {' | '.join(cells)} |"


def _nodes_cell(names: dict[str, str], nodes: list[str | None]) -> str:
    listed = ", ".join(md_text(short_name(names, node)) for node in nodes)
    if len(nodes) > 1 and set(nodes) == set(names):
        return f"all {len(nodes)}: {listed}"
    return listed


def _step_line(step: Step) -> str:
    where = md_text(step.node)
    if step.node_name:
        where = f"{md_text(step.node_name)} ({where})"
    after = ""
    if step.after:
        after = f" (after {', '.join(str(number) for number in step.after)})"
    return (
        f"{step.id}. **{step.action.value}** on {where}: {md_code(step.command)} "
        f"— {md_text(step.reason)}{after}"
    )


def _json_block(parts: _Parts) -> str:
    return (
        f"<details><summary>Plan of {md_text(parts.name)} (JSON)"
        "</summary>\n\n" + fenced(parts.json, "json") + "\n</details>\n"
    )


def _assemble(parts: _Parts, cut: _Cut) -> str:
    findings, hidden_findings = _capped(parts.findings, cut.findings)
    steps, hidden_steps = _capped(parts.steps, cut.steps)
    lines = [*parts.head, *_findings_section(parts, findings, hidden_findings)]
    if parts.mermaid is not None and not cut.mermaid:
        lines += ["", parts.mermaid.rstrip("\n")]
    lines += _steps_section(parts, steps, hidden_steps)
    document = "\n".join(lines) + "\n"
    if not cut.json:
        document += "\n" + _json_block(parts)
    if cut.any:
        document += cut.note(parts.name, hidden_steps, hidden_findings)
    return document


def _capped(rows: list[str], cap: int | None) -> tuple[list[str], int]:
    """The rows a cap leaves in, and how many it hides (the note counts them)."""
    if cap is None or len(rows) <= cap:
        return rows, 0
    return rows[:cap], len(rows) - cap


def _findings_section(parts: _Parts, shown: list[str], hidden: int) -> list[str]:
    lines: list[str] = []
    if shown:
        lines += ["", parts.findings_title, "", *_FINDINGS_HEADER, *shown]
    if hidden:
        lines += ["", f"… {hidden} more findings not shown."]
    return lines


def _steps_section(parts: _Parts, shown: list[str], hidden: int) -> list[str]:
    """Folded, and titled with every step's count even when some are cut."""
    if not shown:
        return ["", f"The {plural(hidden, 'step')} are not shown."] if hidden else []
    lines = ["", f"<details><summary>{plural(len(parts.steps), 'step')}</summary>", "", *shown]
    if hidden:
        lines += ["", f"… {hidden} more steps not shown."]
    return [*lines, "", "</details>"]


def _largest_fitting(highest: int, render: Callable[[int], str], limit: int) -> int | None:
    """The largest cap in ``0..highest`` whose rendering fits, or None (length grows with cap)."""
    if highest < 0 or comment_size(render(0)) > limit:
        return None
    low, high = 0, highest
    while low < high:
        middle = (low + high + 1) // 2
        if comment_size(render(middle)) <= limit:
            low = middle
        else:
            high = middle - 1
    return low


def _hard_cut(parts: _Parts, limit: int) -> str:
    """Last resort (a summary longer than the limit): keep whole lines while they fit."""
    note = _Cut(json=True, mermaid=parts.mermaid is not None, truncated=True).note(parts.name)
    budget = limit - comment_size(note)
    kept: list[str] = []
    used = 0
    for line in parts.head:
        size = comment_size(line) + 1
        if used + size > budget:
            room = budget - used - comment_size("…\n")
            if room > 0 and len(kept) >= 2:
                kept.append(clip(line, room) + "…")
            break
        kept.append(line)
        used += size
    return "\n".join(kept) + "\n" + note
