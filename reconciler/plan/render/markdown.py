"""The plan as a GitHub pull-request comment.

CI finds its previous comment by ``MARKER`` and edits it, so the marker is always the first
line. GitHub refuses comments over 65,535 characters; rather than fail the CI job, the
comment is shortened in steps (folded JSON first, then the step lists, then the finding
tables, then the cluster details) until it fits, and says so at the end. The marker and the
summary table are what reviewers need most and are kept whenever they fit at all.

Every piece of text that comes from the plan goes through ``md_text`` or ``md_code``: file
names and reasons may contain ``|``, backticks or ``<`` and must not break the tables, spans
or the ``<details>`` block.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field

from reconciler.plan.models import ClusterPlan, Finding, Plan, Step
from reconciler.plan.render.common import (
    closing_line,
    commit_text,
    estimated_duration,
    node_label,
    plural,
    status_word,
)
from reconciler.plan.render.json import render_json

MARKER = "<!-- cms-reconciler plan -->"
HEADING = "### cms-reconciler plan"
GITHUB_COMMENT_LIMIT = 65_535
DEFAULT_LIMIT = 65_000
MIN_LIMIT = 1_000  # room for the marker, the heading and the note saying what was cut

_RUN_LOCALLY = "run `reconcile --plan` locally"
# Line breaks and other control characters: none belongs in one markdown line, and
# ``str.splitlines`` in a CI script would split on several of them.
_LINE_BREAK = re.compile(r"\r\n|[\x00-\x08\x0a-\x1f\x7f-\x9f\u2028\u2029]")
# Characters with a meaning in GitHub markdown wherever they appear in a line. ``&`` stops
# entities, ``<``/``>`` stop HTML, ``$`` stops math, ``|`` stops table cells.
_MD_SPECIAL = re.compile(r"([\\`*_\[\]<>|~&$])")
_BACKTICKS = re.compile(r"`+")
_SUMMARY_HEADER = (
    "| cluster | strategy | steps | nodes restarted | max nodes out "
    "| estimated duration | status |",
    "| --- | --- | --: | --: | --: | --- | --- |",
)
_FINDINGS_HEADER = (
    "| node | what | live | desired | severity |",
    "| --- | --- | --- | --- | --- |",
)


def md_text(value: str) -> str:
    """Plain text inside a markdown line or table cell: shown as typed, on one line."""
    return _MD_SPECIAL.sub(r"\\\1", _LINE_BREAK.sub(" ", value))


def md_code(value: str, *, in_table: bool = False) -> str:
    """An inline code span that holds any text, backticks included (CommonMark rules).

    The fence is one backtick longer than the longest run inside; a space pads content that
    starts or ends with a backtick (or with spaces on both ends, which CommonMark strips).
    In a table cell ``|`` must still be escaped, even inside a code span (GFM).
    """
    value = _LINE_BREAK.sub(" ", value)
    if not value:
        return "(empty)"
    longest = max((len(run) for run in _BACKTICKS.findall(value)), default=0)
    fence = "`" * (longest + 1)
    padded = value.startswith("`") or value.endswith("`")
    padded = padded or (value.startswith(" ") and value.endswith(" ") and bool(value.strip()))
    if padded:
        value = f" {value} "
    if in_table:
        value = value.replace("|", "\\|")
    return f"{fence}{value}{fence}"


def render_markdown(plan: Plan, *, limit: int = DEFAULT_LIMIT) -> str:
    """The PR comment, at most ``limit`` characters (GitHub allows 65,535)."""
    if limit < MIN_LIMIT:
        raise ValueError(f"limit {limit} is too small for a plan comment (minimum {MIN_LIMIT})")
    head = _head(plan)
    sections = [_section(cluster) for cluster in plan.clusters]
    json_block = _json_block(render_json(plan))

    document = _assemble(head, sections, json_block, _Cut())
    if len(document) <= limit:
        return document

    cut = _Cut(json=True)
    json_note = (
        "_The full JSON plan is too long for a comment; "
        "run `reconcile --plan --format json` to see it._\n"
    )
    document = _assemble(head, sections, json_note, cut)
    if len(document) <= limit:
        return document

    most_steps = max((len(section.steps) for section in sections), default=0)
    step_cap = _largest_fitting(
        most_steps - 1,
        lambda cap: _assemble(head, sections, json_note, _Cut(json=True, steps=cap)),
        limit,
    )
    if step_cap is not None:
        return _assemble(head, sections, json_note, _Cut(json=True, steps=step_cap))

    most_findings = max((len(section.findings) for section in sections), default=0)
    finding_cap = _largest_fitting(
        most_findings - 1,
        lambda cap: _assemble(head, sections, json_note, _Cut(json=True, steps=0, findings=cap)),
        limit,
    )
    if finding_cap is not None:
        return _assemble(head, sections, json_note, _Cut(json=True, steps=0, findings=finding_cap))

    document = _assemble(head, [], "", _Cut(json=True, details=True))
    if len(document) <= limit:
        return document
    return _hard_cut(head, limit)


@dataclass(frozen=True)
class _Cut:
    """How far the comment is shortened; ``None`` caps mean everything is shown."""

    json: bool = False
    steps: int | None = None
    findings: int | None = None
    details: bool = False
    truncated: bool = False

    @property
    def any(self) -> bool:
        return (
            self.json
            or self.steps is not None
            or self.findings is not None
            or self.details
            or self.truncated
        )

    def note(self, hidden_steps: int = 0, hidden_findings: int = 0) -> str:
        """The closing note: says the comment was cut, what is missing and where to see it."""
        left_out: list[str] = []
        if self.json:
            left_out.append("the folded JSON plan")
        if self.details:
            left_out.append("the per-cluster findings, steps and impact")
        if hidden_steps:
            left_out.append(plural(hidden_steps, "step"))
        if hidden_findings:
            left_out.append(plural(hidden_findings, "finding"))
        if self.truncated:
            left_out.append("the end of the summary table")
        return (
            "\n---\n\n"
            "> **Note:** this comment was cut to fit GitHub's comment size limit "
            f"({', '.join(left_out) or 'some details'} not shown). "
            "Run `reconcile --plan` locally for the whole plan.\n"
        )


@dataclass
class _Section:
    """One cluster, pre-rendered as lines so that shortening is only a matter of joining."""

    intro: list[str]
    findings: list[str]  # table rows, header excluded
    findings_title: str
    steps: list[str]
    outro: list[str] = field(default_factory=list)


def _head(plan: Plan) -> list[str]:
    commit = md_code(commit_text(plan.git)) if plan.git.commit else "no commit"
    dirty = " with uncommitted changes (dirty)" if plan.git.dirty else ""
    lines = [
        MARKER,
        HEADING,
        "",
        f"Desired state: {commit}{dirty}; planned at {md_text(plan.created_at)}.",
        "",
    ]
    if not plan.clusters:
        lines.append("No clusters in this plan.")
        return lines
    lines.extend(_SUMMARY_HEADER)
    for cluster in plan.clusters:
        status = status_word(cluster)
        if cluster.blocked:
            status = f"**{status}**"
        cells = [
            md_text(cluster.name),
            md_text(cluster.strategy.value),
            str(len(cluster.steps)),
            str(len(cluster.impact.restarts)),
            str(cluster.impact.max_nodes_out),
            estimated_duration(cluster),
            status,
        ]
        lines.append(f"| {' | '.join(cells)} |")
    return lines


def _section(cluster: ClusterPlan) -> _Section:
    title = md_code(cluster.name)
    if cluster.blocked:
        intro = [
            f"#### Cluster {title}: **BLOCKED**",
            "",
            f"**Cannot plan cluster {title}:** no step will run until these errors are fixed.",
        ]
        findings = cluster.errors
        return _Section(
            intro=intro,
            findings=[_finding_row(cluster, finding) for finding in findings],
            findings_title="**Errors**",
            steps=[],
        )

    state = md_text(cluster.strategy.value) if cluster.steps else "converged"
    intro = [f"#### Cluster {title}: {state}"]
    authority = cluster.data_authority
    if authority is not None:
        intro += ["", f"> **Data authority:** {md_text(authority.statement)}"]
        if authority.master_change:
            intro += [
                ">",
                "> **⚠️ Master change: apply needs `--allow-master-change`.** "
                "Check that the database named above is the one to keep.",
            ]
    outro: list[str] = []
    if cluster.steps:
        impact = cluster.impact
        restarted = ", ".join(md_text(node_label(cluster, node)) for node in impact.restarts)
        outro += [
            f"**Impact:** {md_text(impact.summary)}",
            "",
            f"Restarts: {restarted or 'none'}; at most "
            f"{plural(impact.max_nodes_out, 'node')} out of the cluster at once; "
            f"estimated up to {estimated_duration(cluster)}.",
            "",
        ]
    outro.append(f"**{md_text(closing_line(cluster))}**")
    return _Section(
        intro=intro,
        findings=[_finding_row(cluster, finding) for finding in cluster.findings],
        findings_title="**Findings**",
        steps=[_step_line(step) for step in cluster.steps],
        outro=outro,
    )


def _finding_row(cluster: ClusterPlan, finding: Finding) -> str:
    what = md_text(finding.what)
    if finding.message:
        what += f": {md_text(finding.message)}"
    severity = md_text(finding.severity)
    if finding.severity == "error":
        severity = f"**{severity}**"
    cells = [
        md_text(node_label(cluster, finding.node)),
        what,
        md_text(finding.live),
        md_text(finding.desired),
        severity,
    ]
    return f"| {' | '.join(cells)} |"


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


def _json_block(json_text: str) -> str:
    longest = max((len(run) for run in _BACKTICKS.findall(json_text)), default=0)
    fence = "`" * max(3, longest + 1)
    return (
        "<details><summary>Full plan (JSON)</summary>\n\n"
        f"{fence}json\n{json_text}{fence}\n\n"
        "</details>\n"
    )


def _assemble(head: list[str], sections: list[_Section], tail: str, cut: _Cut) -> str:
    lines = list(head)
    hidden_steps = hidden_findings = 0
    for section in sections:
        lines += ["", *section.intro]
        findings = section.findings
        if cut.findings is not None and len(findings) > cut.findings:
            hidden = len(findings) - cut.findings
            hidden_findings += hidden
            findings = findings[: cut.findings]
        else:
            hidden = 0
        if findings:
            lines += ["", section.findings_title, "", *_FINDINGS_HEADER, *findings]
        if hidden:
            lines += ["", f"… {hidden} more findings not shown; {_RUN_LOCALLY}"]
        steps = section.steps
        if cut.steps is not None and len(steps) > cut.steps:
            hidden = len(steps) - cut.steps
            hidden_steps += hidden
            steps = steps[: cut.steps]
        else:
            hidden = 0
        if steps or hidden:
            lines += ["", "**Steps**", "", *steps]
        if hidden:
            lines += ["", f"… {hidden} more steps not shown; {_RUN_LOCALLY}"]
        if section.outro:
            lines += ["", *section.outro]
    document = "\n".join(lines) + "\n"
    if tail:
        document += "\n" + tail
    if cut.any:
        document += cut.note(hidden_steps, hidden_findings)
    return document


def _largest_fitting(highest: int, render: Callable[[int], str], limit: int) -> int | None:
    """The largest cap in ``0..highest`` whose rendering fits, or None (length grows with cap)."""
    if highest < 0 or len(render(0)) > limit:
        return None
    low, high = 0, highest
    while low < high:
        middle = (low + high + 1) // 2
        if len(render(middle)) <= limit:
            low = middle
        else:
            high = middle - 1
    return low


def _hard_cut(head: list[str], limit: int) -> str:
    """Last resort (a summary table longer than the limit): keep whole lines while they fit."""
    note = _Cut(json=True, details=True, truncated=True).note()
    budget = limit - len(note)
    kept: list[str] = []
    used = 0
    for line in head:
        if used + len(line) + 1 > budget:
            room = budget - used - 2
            if room > 0:
                kept.append(line[:room] + "…")
            break
        kept.append(line)
        used += len(line) + 1
    return "\n".join(kept) + "\n" + note
