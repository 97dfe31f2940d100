"""The PR comment: marker, summary table, escaping, and staying under GitHub's size limit."""

from __future__ import annotations

import json
import re

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from reconciler.plan.models import (
    Action,
    ClusterPlan,
    DataAuthority,
    Finding,
    GitInfo,
    Impact,
    Plan,
    Step,
    Strategy,
)
from reconciler.plan.render import MARKER, load_plan_json, render_json, render_markdown
from reconciler.plan.render.markdown import GITHUB_COMMENT_LIMIT, md_code, md_text
from tests.unit.plan.test_render_plans import (
    blocked_cluster,
    blocked_plan,
    converged_cluster,
    converged_plan,
    huge_plan,
    master_change_plan,
    plan_of,
    reform_cluster,
    reform_plan,
)

SUMMARY_HEADER = (
    "| cluster | strategy | steps | nodes restarted | max nodes out | estimated duration | status |"
)
CUT = "this comment was cut"


def cells(row: str) -> list[str]:
    """Split a GFM table row on unescaped pipes (a backslash escapes the next character)."""
    parts: list[str] = []
    current = ""
    index = 0
    while index < len(row):
        char = row[index]
        if char == "\\":
            current += row[index : index + 2]
            index += 2
            continue
        if char == "|":
            parts.append(current)
            current = ""
        else:
            current += char
        index += 1
    parts.append(current)
    return parts[1:-1]


def table_rows(markdown: str) -> list[str]:
    return [line for line in markdown.split("\n") if line.startswith("| ")]


def test_marker_heading_and_summary_row() -> None:
    markdown = render_markdown(reform_plan(dirty=True))
    lines = markdown.splitlines()
    assert lines[0] == MARKER
    assert lines[1] == "### cms-reconciler plan"
    assert SUMMARY_HEADER in lines
    assert "| lab | reform | 18 | 3 | 3 | 40m | changes |" in lines
    assert "`1a2b3c4` with uncommitted changes (dirty)" in markdown
    assert markdown.endswith("</details>\n")
    assert CUT not in markdown


def test_summary_rows_for_each_status() -> None:
    markdown = render_markdown(
        plan_of(reform_cluster(), converged_cluster("b"), blocked_cluster("c"))
    )
    assert "| b | none | 0 | 0 | 0 | - | converged |" in markdown
    assert "| c | none | 0 | 0 | 0 | - | **BLOCKED** |" in markdown


def test_findings_table() -> None:
    markdown = render_markdown(reform_plan())
    assert "| node | what | live | desired | severity |" in markdown
    assert (
        "| 127.0.85.74 cms2 | server\\_cert | dbclusterserver.cer (expired) "
        "| dbclusterserver.cer sha256:394976a8fba7 | change |" in markdown
    )
    assert all(len(cells(row)) in (5, 7) for row in table_rows(markdown))


def test_steps_are_a_numbered_list_in_order() -> None:
    plan = reform_plan()
    markdown = render_markdown(plan)
    position = 0
    for step in plan.clusters[0].steps:
        found = markdown.find(f"\n{step.id}. **{step.action.value}** on {step.node_name}", position)
        assert found > 0, step.id
        position = found
    assert (
        "4. **upload** on cms1 (127.0.85.73): "
        "`put certs/lab/dbclusterserver.cer -> dbclusterserver.cer` — server\\_cert differs"
    ) in markdown
    assert "replica copies the master's database (after 16)" in markdown


def test_data_authority_and_impact() -> None:
    markdown = render_markdown(reform_plan())
    assert "> **Data authority:** cms1 (127.0.85.73) keeps its database" in markdown
    assert "allow-master-change" not in markdown.split("<details>")[0]
    assert "**Impact:** the cluster is down" in markdown
    assert "estimated up to 40m" in markdown
    assert "**Plan: 18 steps on 3 nodes (reform).**" in markdown


def test_master_change_is_a_bold_warning() -> None:
    markdown = render_markdown(master_change_plan())
    assert "> **⚠️ Master change: apply needs `--allow-master-change`.**" in markdown


def test_converged_and_blocked_sections() -> None:
    converged = render_markdown(converged_plan())
    assert "**No changes. Cluster lab is converged.**" in converged
    assert "**Steps**" not in converged
    blocked = render_markdown(blocked_plan())
    assert "#### Cluster `lab`: **BLOCKED**" in blocked
    assert "**Cannot plan cluster `lab`:**" in blocked
    assert "connection refused" in blocked
    assert "| 127.0.85.75 | reachable: ssh 127.0.85.75:2222: connection refused |" in blocked
    assert "**Steps**" not in blocked


def test_full_json_is_folded() -> None:
    plan = reform_plan()
    markdown = render_markdown(plan)
    folded = markdown.split("<details><summary>Full plan (JSON)</summary>\n\n```json\n", 1)[1]
    body = folded.split("```\n\n</details>\n", 1)[0]
    assert load_plan_json(body) == plan


def test_pipes_and_backticks_are_escaped() -> None:
    cluster = reform_cluster()
    finding = Finding(
        node="127.0.85.74",
        what="server_cert",
        live="a|b `c`",
        desired="<details>|",
        severity="warning",
    )
    step = cluster.steps[0].model_copy(update={"command": "put a|``b`` -> c", "reason": "x | y"})
    plan = plan_of(
        cluster.model_copy(update={"findings": [finding], "steps": [step, *cluster.steps[1:]]})
    )
    markdown = render_markdown(plan)
    assert (
        "| 127.0.85.74 cms2 | server\\_cert | a\\|b \\`c\\` | \\<details\\>\\| | warning |"
        in markdown
    )
    assert "```put a|``b`` -> c``` — x \\| y" in markdown
    assert all(len(cells(row)) in (5, 7) for row in table_rows(markdown))


def test_json_fence_outgrows_backticks_in_the_plan() -> None:
    cluster = reform_cluster()
    step = cluster.steps[0].model_copy(update={"command": "echo ````"})
    markdown = render_markdown(
        plan_of(cluster.model_copy(update={"steps": [step, *cluster.steps[1:]]}))
    )
    assert "\n`````json\n" in markdown


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("plain", "`plain`"),
        ("a`b", "``a`b``"),
        ("`x`", "`` `x` ``"),
        ("a``b", "```a``b```"),
        (" padded ", "`  padded  `"),
        ("  ", "`  `"),
        ("", "(empty)"),
        ("two\nlines", "`two lines`"),
    ],
)
def test_md_code(value: str, expected: str) -> None:
    assert md_code(value) == expected


def test_md_code_in_a_table_escapes_pipes() -> None:
    assert md_code("a|b", in_table=True) == "`a\\|b`"


def decode_code_span(span: str) -> str:
    """A CommonMark reader's view of one code span (single line)."""
    fence = re.match(r"`+", span)
    assert fence is not None
    size = len(fence.group())
    assert span.endswith("`" * size)
    inner = span[size:-size]
    assert not re.search(f"(?<!`)`{{{size}}}(?!`)", inner), "the fence closes early"
    if inner.startswith(" ") and inner.endswith(" ") and inner.strip(" "):
        inner = inner[1:-1]
    return inner


def decode_text(escaped: str) -> str:
    return re.sub(r"\\(.)", r"\1", escaped)


TRICKY = st.text(
    alphabet=st.one_of(
        st.characters(codec="utf-8"),  # utf-8: no lone surrogates
        st.sampled_from(["|", "`", "\\", "<", ">", "*", "_", "&", "$", "\n", " ", "é", "🙂"]),
    ),
    max_size=30,
)


def one_line(value: str) -> str:
    """What the renderer promises to keep: the text, with controls and line breaks as spaces."""
    return re.sub(r"\r\n|[\x00-\x08\x0a-\x1f\x7f-\x9f\u2028\u2029]", " ", value)


@given(value=TRICKY.filter(bool))
def test_md_code_shows_text_as_typed(value: str) -> None:
    code = md_code(value)
    assert len(code.splitlines()) == 1
    assert decode_code_span(code) == one_line(value)


@given(value=TRICKY)
def test_md_text_shows_text_as_typed(value: str) -> None:
    escaped = md_text(value)
    assert len(escaped.splitlines()) <= 1
    assert decode_text(escaped) == one_line(value)


def test_huge_plan_is_cut_below_the_limit() -> None:
    markdown = render_markdown(huge_plan())
    assert len(markdown) <= 65_000 < GITHUB_COMMENT_LIMIT
    assert markdown.startswith(MARKER + "\n")
    assert SUMMARY_HEADER in markdown
    assert "| lab | rolling | 3000 | 3 | 1 | 1h 5m | changes |" in markdown
    assert "<details>" not in markdown
    assert "run `reconcile --plan --format json`" in markdown
    shown = re.findall(r"^(\d+)\. \*\*upload\*\*", markdown, flags=re.MULTILINE)
    assert len(shown) > 100
    assert [int(number) for number in shown] == list(range(1, len(shown) + 1))
    assert f"… {3000 - len(shown)} more steps not shown; run `reconcile --plan` locally" in markdown
    assert "**Plan: 3000 steps on 3 nodes (rolling).**" in markdown
    last = markdown.rstrip("\n").splitlines()[-1]
    assert CUT in last
    assert "the folded JSON plan" in last


def test_json_goes_first_when_too_long() -> None:
    plan = reform_plan()
    full = render_markdown(plan)
    without_json = full.split("<details>")[0]
    markdown = render_markdown(plan, limit=len(without_json) + 400)
    assert "<details>" not in markdown
    assert "\n18. **join**" in markdown
    assert markdown.rstrip().endswith("Run `reconcile --plan` locally for the whole plan.")
    assert CUT in markdown


def test_tiny_limit_keeps_marker_and_summary() -> None:
    plan = plan_of(reform_cluster(), converged_cluster("b"), blocked_cluster("c"))
    markdown = render_markdown(plan, limit=1_000)
    assert len(markdown) <= 1_000
    assert markdown.startswith(MARKER)
    assert "| lab | reform | 18 | 3 | 3 | 40m | changes |" in markdown
    assert "| c | none | 0 | 0 | 0 | - | **BLOCKED** |" in markdown
    assert CUT in markdown


def test_summary_table_longer_than_the_limit_is_truncated() -> None:
    clusters = [converged_cluster(f"cluster-{number:03}") for number in range(200)]
    markdown = render_markdown(plan_of(*clusters), limit=2_000)
    assert len(markdown) <= 2_000
    assert markdown.startswith(MARKER)
    assert SUMMARY_HEADER in markdown
    assert CUT in markdown.splitlines()[-1]


def test_limit_must_leave_room() -> None:
    with pytest.raises(ValueError, match="too small"):
        render_markdown(reform_plan(), limit=100)


def test_empty_plan() -> None:
    markdown = render_markdown(plan_of())
    assert "No clusters in this plan." in markdown
    assert markdown.startswith(MARKER)


ADDRESSES = st.sampled_from(["127.0.85.73", "127.0.85.74", "10.0.0.1|x", "`db`"])
SEVERITIES = st.sampled_from(["change", "info", "warning", "error"])


@st.composite
def random_steps(draw: st.DrawFn) -> list[Step]:
    count = draw(st.integers(min_value=0, max_value=120))
    return [
        Step(
            id=number,
            node=draw(ADDRESSES),
            node_name=draw(TRICKY),
            action=draw(st.sampled_from(list(Action))),
            command=draw(TRICKY),
            reason=draw(TRICKY),
            after=draw(st.none() | st.lists(st.integers(1, number), max_size=3)),
        )
        for number in range(1, count + 1)
    ]


@st.composite
def random_clusters(draw: st.DrawFn) -> ClusterPlan:
    steps = draw(random_steps())
    findings = draw(
        st.lists(
            st.builds(
                Finding,
                node=st.none() | ADDRESSES,
                what=TRICKY,
                live=TRICKY,
                desired=TRICKY,
                severity=SEVERITIES,
                message=st.none() | TRICKY,
            ),
            max_size=40,
        )
    )
    authority = draw(
        st.none()
        | st.builds(
            DataAuthority,
            source=ADDRESSES,
            replaces=st.lists(ADDRESSES, max_size=3),
            statement=TRICKY,
            master_change=st.booleans(),
        )
    )
    return ClusterPlan(
        name=draw(TRICKY),
        state_fingerprint="f" * 64,
        strategy=draw(st.sampled_from(list(Strategy))),
        findings=findings,
        steps=steps,
        impact=Impact(
            restarts=draw(st.lists(ADDRESSES, max_size=3)),
            max_nodes_out=draw(st.integers(0, 5)),
            estimated_seconds=draw(st.integers(0, 10 * 86400)),
            summary=draw(TRICKY),
        ),
        data_authority=authority,
        blocked=draw(st.booleans()),
    )


@st.composite
def random_plans(draw: st.DrawFn) -> Plan:
    return Plan(
        git=GitInfo(commit=draw(st.none() | TRICKY), dirty=draw(st.booleans())),
        created_at=draw(TRICKY),
        clusters=draw(st.lists(random_clusters(), max_size=3)),
    )


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(plan=random_plans(), limit=st.integers(min_value=2_000, max_value=30_000))
def test_any_plan_fits_and_round_trips(plan: Plan, limit: int) -> None:
    markdown = render_markdown(plan, limit=limit)
    assert len(markdown) <= limit
    assert markdown.startswith(MARKER + "\n### cms-reconciler plan\n")
    if plan.clusters:
        assert SUMMARY_HEADER in markdown
        summary = [row for row in table_rows(markdown) if len(cells(row)) == 7]
        assert len(summary) == len(plan.clusters) + 2  # header, alignment, one per cluster
    for row in table_rows(markdown):
        assert len(cells(row)) in (5, 7), row
    text = render_json(plan)
    assert load_plan_json(text) == plan
    for cluster in json.loads(text)["clusters"]:
        for step in cluster["steps"]:
            assert None not in step.values()


def test_findings_are_cut_after_the_steps() -> None:
    finding = Finding(
        node="127.0.85.74", what="server_cert", live="a", desired="b", severity="change"
    )
    cluster = reform_cluster().model_copy(update={"findings": [finding] * 500})
    markdown = render_markdown(plan_of(cluster), limit=10_000)
    assert len(markdown) <= 10_000
    assert "**Steps**" in markdown
    assert "… 18 more steps not shown" in markdown
    assert re.search(r"… \d+ more findings not shown; run `reconcile --plan` locally", markdown)
    assert "18 steps" in markdown.splitlines()[-1]
    assert "findings not shown" in markdown.splitlines()[-1]
