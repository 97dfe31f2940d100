"""The PR comments: one per cluster, outage and data first, grouped findings, a drawing, the
steps and JSON folded, escaping, and staying under GitHub's size limit."""

from __future__ import annotations

import re

import pytest
from hypothesis import HealthCheck, event, example, given, settings
from hypothesis import strategies as st

from reconciler.plan.models import (
    Action,
    CertificateDetail,
    ClusterPlan,
    DataAuthority,
    Finding,
    GitInfo,
    Impact,
    Plan,
    Rehearsal,
    Step,
    Strategy,
)
from reconciler.plan.render import (
    MARKER,
    cluster_marker,
    load_plan_json,
    render_json,
    render_markdown,
    render_markdown_comments,
    split_comments,
)
from reconciler.plan.render.comment import GITHUB_COMMENT_LIMIT, comment_size, md_code, md_text
from tests.unit.plan.test_render_mermaid import assert_well_formed, mermaid_blocks
from tests.unit.plan.test_render_plans import (
    NODES,
    blocked_plan,
    converged_plan,
    huge_plan,
    lab_seed_cluster,
    lab_seed_plan,
    master_change_plan,
    plan_of,
    reform_cluster,
    reform_plan,
    renamed,
)

CUT = "this comment was cut"
MICROSECONDS = re.compile(r"\d{2}:\d{2}:\d{2}[.,]\d")
FINDINGS_HEADER = "| what | nodes | live | desired | severity |"
LAB_BROKEN = (
    "- ⛔ **Already broken:** the certificates in use have expired on cms1, cms2 and cms3; "
    "cms2 and cms3 are not in sync; cms1 is still master."
)


LAB_OUTAGE = (
    "- **Outage:** cluster down from step 4 to step 27 (no master from step 6 until cms1 "
    "initializes at step 25): at most 43 min if every wait runs to its timeout. 3 nodes restart "
    "(cms1, cms2 and cms3)."
)
LAB_DATA = (
    "- **Data:** cms1's database (127.0.85.73) is kept; cms2 and cms3 are replaced by copies of it."
)
LAB_MERGE = (
    "- **Merging** plans the merged commit again and, once an approver of `cms-lab-apply` has "
    "seen that plan, applies exactly it (`reconcile apply --plan-file`): the steps below, if the "
    "nodes are still as they were read."
)


def cells(row: str) -> list[str]:
    """Split a GFM table row as GitHub (cmark-gfm) does: a pipe right after a backslash is
    part of the cell, whatever comes before that backslash.

    cmark-gfm scans a cell as the longest run of ``escaped_char | [^|]`` (ext_scanners.re), so
    in ``\\|`` the first backslash is a plain character and ``\\|`` an escaped pipe; the
    cell's ``\\|`` are then unescaped to ``|`` before its inlines are parsed.
    """
    return re.split(r"(?<!\\)\|", row)[1:-1]


def table_rows(markdown: str) -> list[str]:
    return [line for line in markdown.split("\n") if line.startswith("| ")]


def finding_rows(markdown: str) -> list[str]:
    rows = table_rows(markdown)
    return rows[2:] if rows and rows[0] == FINDINGS_HEADER else []


def only(plan: Plan) -> str:
    comments = render_markdown_comments(plan)
    assert len(comments) == 1
    return comments[0]


# --- the lab's 27-step re-form, as a reviewer reads it --------------------------------------
def test_the_lab_comment_starts_with_both_markers_and_says_what_it_is() -> None:
    markdown = only(lab_seed_plan())
    lines = markdown.split("\n")
    assert lines[0] == MARKER == "<!-- cms-reconciler plan -->"
    assert lines[1] == cluster_marker("lab") == "<!-- cms-reconciler plan: lab -->"
    assert lines[2] == "### cms-reconciler plan for `lab`: already broken; 27 steps (reform)"
    assert "Desired state: `1a2b3c4`; planned at 2026-11-27 07:40:00 UTC." in lines
    assert CUT not in markdown


def test_outage_data_and_merge_come_first_then_findings_drawing_steps_and_json() -> None:
    markdown = only(lab_seed_plan())
    lines = markdown.split("\n")
    assert lines[4:8] == [LAB_BROKEN, LAB_OUTAGE, LAB_DATA, LAB_MERGE]
    order = [
        markdown.index(LAB_OUTAGE),
        markdown.index(LAB_DATA),
        markdown.index(FINDINGS_HEADER),
        markdown.index("```mermaid\n"),
        markdown.index("<details><summary>27 steps</summary>"),
        markdown.index("<details><summary>Plan of lab (JSON)</summary>"),
    ]
    assert order == sorted(order)
    assert markdown.endswith("</details>\n")


def test_the_lab_comment_is_short() -> None:
    markdown = only(lab_seed_plan())
    assert len(markdown) < 30_000  # about 27,700: two thirds of it the folded JSON
    before_steps = markdown.split("<details>")[0]
    assert len(before_steps) < 5_000  # what a reviewer reads without unfolding


def test_the_same_change_on_every_node_is_one_row_with_the_new_certificate() -> None:
    rows = finding_rows(only(lab_seed_plan()))
    assert [cells(row)[0].strip() for row in rows] == [
        "server\\_key",
        "server\\_cert",
        "client\\_key",
        "client\\_cert",
        "ca\\_cert",
        "membership",
    ]
    server = cells(rows[1])
    assert server[1].strip() == "all 3: cms1, cms2, cms3"
    assert server[2].strip() == "dbclusterserver.cer (expired)"
    desired = server[3]
    assert "subject `CN=cms-lab-db.example,O=LAB ONLY`" in desired
    assert "issuer `CN=LAB ONLY CAVD root CA,O=LAB ONLY`" in desired
    assert "valid until 2031-11-01" in desired
    assert "sha256:" in desired
    client = cells(rows[3])
    assert client[2].strip() == "EXPRSVR.cer (expired)"
    assert "subject `CN=postgres,O=LAB ONLY`" in client[3]
    membership = cells(rows[5])
    assert membership[1].strip() == "cms2, cms3"  # the master is fine: not "all"


def test_differing_changes_stay_separate_rows() -> None:
    cluster = lab_seed_cluster()
    findings = [
        finding.model_copy(update={"live": "old-client.cer (expired)"})
        if finding.what == "client_cert" and finding.node == "127.0.85.75"
        else finding
        for finding in cluster.findings
    ]
    plan = lab_seed_plan(cluster.model_copy(update={"findings": findings}))
    rows = [cells(row) for row in finding_rows(only(plan))]
    client = [row for row in rows if row[0].strip() == "client\\_cert"]
    assert [(row[1].strip(), row[2].strip()) for row in client] == [
        ("cms1, cms2", "EXPRSVR.cer (expired)"),
        ("cms3", "old-client.cer (expired)"),
    ]
    server = [row for row in rows if row[0].strip() == "server\\_cert"]
    assert len(server) == 1


def test_the_data_finding_is_said_once_at_the_top() -> None:
    markdown = only(lab_seed_plan())
    assert "keeps its database" not in markdown.split("<details>")[0]
    assert "**Why:**" not in markdown  # the master simply stays master


def test_the_phases_are_drawn() -> None:
    markdown = only(lab_seed_plan())
    (block,) = mermaid_blocks(markdown)
    labels = assert_well_formed(block)
    assert labels == [
        "cluster lab<br/>cms1 127.0.85.73 (master)<br/>cms2 127.0.85.74<br/>cms3 127.0.85.75",
        "steps 1-3<br/>backup cms1, cms2, cms3",
        "steps 4-5<br/>remove cms2, cms3",
        "step 6<br/>remove cms1 (master)",
        "steps 7-24<br/>certificates cms1, cms2, cms3",
        "step 25<br/>initialize cms1 (master)",
        "steps 26-27<br/>join cms2, cms3",
    ]


def test_no_microseconds_anywhere() -> None:
    plan = lab_seed_plan()
    assert MICROSECONDS.search(plan.created_at)
    assert not MICROSECONDS.search(only(plan))


def test_the_folded_json_is_the_clusters_plan() -> None:
    plan = lab_seed_plan()
    markdown = only(plan)
    folded = markdown.split("<details><summary>Plan of lab (JSON)</summary>\n\n```json\n", 1)[1]
    body = folded.split("```\n\n</details>\n", 1)[0]
    assert load_plan_json(body) == plan.model_copy(
        update={"created_at": "2026-11-27T07:40:00+00:00"}
    )


def test_steps_are_folded_as_a_numbered_list_in_order() -> None:
    plan = lab_seed_plan()
    markdown = only(plan)
    folded = markdown.split("<details><summary>27 steps</summary>\n\n", 1)[1].split("</details>")[0]
    position = 0
    for step in plan.clusters[0].steps:
        found = folded.find(f"{step.id}. **{step.action.value}** on {step.node_name}", position)
        assert found >= 0, step.id
        position = found
    assert (
        "26. **join** on cms2 (127.0.85.74): `database cluster join 127.0.85.73` — replicate "
        "from the master cms1; this node's own database is replaced"
    ) in folded


# --- one comment per cluster ---------------------------------------------------------------
def test_twenty_clusters_are_twenty_comments_each_under_the_limit() -> None:
    clusters = [renamed(lab_seed_cluster(), f"site-{number:02}") for number in range(1, 21)]
    plan = lab_seed_plan(*clusters)
    comments = render_markdown_comments(plan)
    assert len(comments) == 20
    for number, comment in enumerate(comments, start=1):
        assert comment_size(comment) < GITHUB_COMMENT_LIMIT
        assert comment.startswith(f"{MARKER}\n<!-- cms-reconciler plan: site-{number:02} -->\n")
        assert comment.count(MARKER) == 1
        assert CUT not in comment
    printed = render_markdown(plan)
    assert len(printed) > GITHUB_COMMENT_LIMIT  # one comment could not hold them
    assert split_comments(printed) == comments


def test_one_cluster_prints_exactly_one_comment() -> None:
    plan = plan_of(reform_cluster())
    assert split_comments(render_markdown(plan)) == render_markdown_comments(plan)
    assert len(render_markdown_comments(plan)) == 1


def test_an_empty_plan_is_one_comment_saying_so() -> None:
    (comment,) = render_markdown_comments(plan_of())
    assert comment.startswith(MARKER + "\n")
    assert "No clusters in this plan." in comment


def test_split_comments_cuts_only_at_marker_lines() -> None:
    text = f"{MARKER}\na\n  {MARKER}\nb\n{MARKER}\nc"
    assert split_comments(text) == [f"{MARKER}\na\n  {MARKER}\nb\n", f"{MARKER}\nc"]


@pytest.mark.parametrize(
    ("name", "marker"),
    [
        ("lab", "<!-- cms-reconciler plan: lab -->"),
        ("a-->b", "<!-- cms-reconciler plan: a--_b -->"),
        ("x y\nz", "<!-- cms-reconciler plan: x_y_z -->"),
        ("", "<!-- cms-reconciler plan: _ -->"),
    ],
)
def test_cluster_markers_stay_hidden(name: str, marker: str) -> None:
    assert cluster_marker(name) == marker


# --- other shapes -------------------------------------------------------------------------
def test_a_plan_file_without_allowances_bounds_the_whole_apply() -> None:
    markdown = only(reform_plan(dirty=True))
    assert (
        "- **Outage:** cluster down from step 10 to step 18 (no master from step 12 until cms1 "
        "initializes at step 16): at most 40 min, the bound of the whole apply, if every wait "
        "runs to its timeout. 3 nodes restart (cms1, cms2 and cms3)." in markdown
    )
    assert "`1a2b3c4` with uncommitted changes (dirty)" in markdown


def test_findings_without_step_names_show_addresses_and_messages() -> None:
    markdown = only(reform_plan())
    assert (
        "| server\\_cert | all 3: cms1, cms2, cms3 | dbclusterserver.cer (expired) "
        "| dbclusterserver.cer sha256:394976a8fba7 | change |" in markdown
    )
    assert (
        "| ca\\_cert: CA certificate unchanged; expires in 3y 41d | cluster | CAVD.cer "
        "| CAVD.cer | info |" in markdown
    )
    assert all(len(cells(row)) == 5 for row in table_rows(markdown))


def test_master_change_says_why_and_warns() -> None:
    markdown = only(master_change_plan())
    head = markdown.split("**Findings**")[0]
    assert (
        "- **Data:** cms2's database (127.0.85.74) becomes the master copy; cms1 and cms3 are "
        "replaced by copies of it." in head
    )
    assert "  - **Why:** cms2 (127.0.85.74) becomes master: its database replaces" in head
    assert "- ⚠️ **Master change:** apply refuses this plan without `--allow-master-change`" in head
    assert "apply stops before the first command unless it is given --allow-master-change" in head


def test_converged_comment_is_short_and_has_no_drawing() -> None:
    markdown = only(converged_plan())
    assert markdown.split("\n")[2] == "### cms-reconciler plan for `lab`: converged"
    assert "- **Outage:** none: converged, nothing will run." in markdown
    assert "it sends nothing to this cluster" in markdown
    assert "```mermaid" not in markdown
    assert "steps</summary>" not in markdown


def test_blocked_comment_lists_only_errors() -> None:
    markdown = only(blocked_plan())
    assert "### cms-reconciler plan for `lab`: **BLOCKED**" in markdown
    assert "- **Blocked:** cannot plan (1 error); nothing will run until it is fixed." in markdown
    assert "; apply refuses to start while this cluster is blocked" in markdown
    assert "**Errors**" in markdown
    rows = finding_rows(markdown)
    assert rows == [
        "| reachable: ssh 127.0.85.75:2222: connection refused | 127.0.85.75 "
        "| connection refused | reachable over ssh | **error** |"
    ]
    assert "```mermaid" not in markdown


def test_errors_come_first_among_findings() -> None:
    cluster = reform_cluster()
    error = Finding(node=None, what="x", live="a", desired="b", severity="error")
    plan = plan_of(cluster.model_copy(update={"findings": [*cluster.findings, error]}))
    assert cells(finding_rows(only(plan))[0])[4].strip() == "**error**"


def test_certificate_detail_is_escaped_in_the_table() -> None:
    cluster = reform_cluster()
    detail = CertificateDetail(
        subject="CN=a|b`c`", issuer="CN=<x>", not_after="garbage", fingerprint_sha256="0" * 64
    )
    finding = cluster.findings[0].model_copy(update={"desired_certificate": detail})
    markdown = only(plan_of(cluster.model_copy(update={"findings": [finding]})))
    (row,) = finding_rows(markdown)
    assert len(cells(row)) == 5
    assert "subject `` CN=a\\|b`c` ``" in row
    assert "issuer `CN=<x>`" in row
    assert "valid until garbage" in row


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
    markdown = only(plan)
    assert "| server\\_cert | cms2 | a\\|b \\`c\\` | \\<details\\>\\| | warning |" in markdown
    assert "```put a|``b`` -> c``` — x \\| y" in markdown
    assert all(len(cells(row)) == 5 for row in table_rows(markdown))


def test_json_fence_outgrows_backticks_in_the_plan() -> None:
    cluster = reform_cluster()
    step = cluster.steps[0].model_copy(update={"command": "echo ````"})
    markdown = only(plan_of(cluster.model_copy(update={"steps": [step, *cluster.steps[1:]]})))
    assert "\n`````json\n" in markdown


# --- escaping helpers ---------------------------------------------------------------------
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
@example(value=" \xa0 ")  # spaces around a no-break space: CommonMark strips the spaces
def test_md_code_shows_text_as_typed(value: str) -> None:
    code = md_code(value)
    assert len(code.splitlines()) == 1
    assert decode_code_span(code) == one_line(value)


@given(value=TRICKY)
def test_md_text_shows_text_as_typed(value: str) -> None:
    escaped = md_text(value)
    assert len(escaped.splitlines()) <= 1
    assert decode_text(escaped) == one_line(value)


# --- size ---------------------------------------------------------------------------------
def test_huge_plan_is_cut_below_the_limit() -> None:
    markdown = only(huge_plan())
    assert comment_size(markdown) <= 65_000 < GITHUB_COMMENT_LIMIT
    assert markdown.startswith(MARKER + "\n" + cluster_marker("lab") + "\n")
    assert "### cms-reconciler plan for `lab`: 3000 steps (rolling)" in markdown
    assert "- **Outage:** no node leaves the cluster" in markdown
    assert "Plan of lab (JSON)" not in markdown
    shown = re.findall(r"^(\d+)\. \*\*upload\*\*", markdown, flags=re.MULTILINE)
    assert len(shown) > 100
    assert [int(number) for number in shown] == list(range(1, len(shown) + 1))
    assert f"… {3000 - len(shown)} more steps not shown." in markdown
    last = markdown.rstrip("\n").splitlines()[-1]
    assert CUT in last
    assert "the folded JSON plan" in last
    assert "Run `reconcile --plan --cluster lab` for the whole plan." in last


def test_json_goes_first_when_too_long() -> None:
    plan = lab_seed_plan()
    full = only(plan)
    without_json = full.split("<details><summary>Plan of lab")[0]
    markdown = render_markdown_comments(plan, limit=len(without_json) + 400)[0]
    assert "Plan of lab (JSON)" not in markdown
    assert "\n27. **join**" in markdown
    assert "```mermaid" in markdown
    assert CUT in markdown


def test_five_nodes_with_long_findings_fit_one_comment() -> None:
    """A worst case for one cluster: five nodes, each with its own certificates (no row merges)
    and long texts; the comment is shortened, never over the limit."""
    base = lab_seed_cluster()
    addresses = [f"10.1.0.{number}" for number in range(1, 6)]
    long = "certificate details that go on and on " * 4
    findings = [
        Finding(
            node=address,
            what=role,
            live=f"{role}-{address}.cer (expired) {long}",
            desired=f"{role}-{address}.cer sha256:{'ab' * 8}",
            severity="change",
            message=long,
            desired_certificate=CertificateDetail(
                subject=f"CN={address},O={long}",
                issuer=f"CN=CA,O={long}",
                not_after="2027-12-01T00:00:00+00:00",
                fingerprint_sha256="cd" * 32,
            ),
        )
        for address in addresses
        for role in ("server_key", "server_cert", "client_key", "client_cert", "ca_cert")
    ]
    steps = [
        step.model_copy(update={"reason": step.reason + " " + long}) for step in base.steps
    ] * 2
    steps = [step.model_copy(update={"id": number}) for number, step in enumerate(steps, 1)]
    cluster = base.model_copy(update={"findings": findings, "steps": steps})
    (markdown,) = render_markdown_comments(lab_seed_plan(cluster))
    assert comment_size(markdown) <= 65_000
    assert markdown.startswith(MARKER + "\n" + cluster_marker("lab") + "\n")
    assert "- **Outage:**" in markdown
    assert len(finding_rows(markdown)) == 25
    assert "\n54. **join**" in markdown
    assert markdown.rstrip().endswith(
        "(the folded JSON plan not shown). Run `reconcile --plan --cluster lab` for the whole plan."
    )

    huge = cluster.model_copy(
        update={"findings": [f.model_copy(update={"message": "x" * 3_000}) for f in findings]}
    )
    (cut,) = render_markdown_comments(lab_seed_plan(huge))
    assert comment_size(cut) <= 65_000
    assert "- **Outage:**" in cut
    assert "findings not shown" in cut.splitlines()[-1]


def test_tiny_limit_keeps_markers_and_outage() -> None:
    plan = plan_of(reform_cluster())
    markdown = render_markdown_comments(plan, limit=1_000)[0]
    assert len(markdown) <= 1_000
    assert markdown.startswith(MARKER + "\n" + cluster_marker("lab") + "\n")
    assert "- **Outage:** cluster down" in markdown
    assert CUT in markdown


def test_a_head_longer_than_the_limit_is_truncated() -> None:
    cluster = master_change_plan().clusters[0]
    authority = cluster.data_authority
    assert authority is not None
    long = authority.model_copy(update={"statement": "why " * 1_000})
    markdown = render_markdown_comments(
        plan_of(cluster.model_copy(update={"data_authority": long})), limit=2_000
    )[0]
    assert comment_size(markdown) <= 2_000
    assert markdown.startswith(MARKER + "\n" + cluster_marker("lab") + "\n")
    assert CUT in markdown.splitlines()[-1]
    assert "the end of the summary" in markdown.splitlines()[-1]


def test_limit_must_leave_room() -> None:
    with pytest.raises(ValueError, match="too small"):
        render_markdown_comments(reform_plan(), limit=100)


def test_findings_are_cut_after_the_steps() -> None:
    findings = [
        Finding(node=NODES[1][0], what=f"file{number}", live="a", desired="b", severity="change")
        for number in range(500)
    ]
    cluster = reform_cluster().model_copy(update={"findings": findings})
    markdown = render_markdown_comments(plan_of(cluster), limit=10_000)[0]
    assert len(markdown) <= 10_000
    assert "The 18 steps are not shown." in markdown
    assert re.search(r"… \d+ more findings not shown\.", markdown)
    assert "18 steps" in markdown.splitlines()[-1]
    assert "findings not shown" in markdown.splitlines()[-1]


# --- any plan -----------------------------------------------------------------------------
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
                desired_certificate=st.none()
                | st.builds(
                    CertificateDetail,
                    subject=TRICKY,
                    issuer=TRICKY,
                    not_after=TRICKY,
                    fingerprint_sha256=TRICKY,
                ),
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
            action_seconds=draw(
                st.none() | st.dictionaries(st.sampled_from(list(Action)), st.integers(0, 900))
            ),
        ),
        data_authority=authority,
        blocked=draw(st.booleans()),
        node_names=draw(st.none() | st.dictionaries(ADDRESSES, TRICKY, max_size=4)),
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
def test_any_plan_fits_splits_and_round_trips(plan: Plan, limit: int) -> None:
    comments = render_markdown_comments(plan, limit=limit)
    assert len(comments) == max(1, len(plan.clusters))
    for comment, cluster in zip(comments, plan.clusters, strict=False):
        assert comment_size(comment) <= limit
        assert comment.startswith(f"{MARKER}\n{cluster_marker(cluster.name)}\n")
        for row in table_rows(comment):
            assert len(cells(row)) == 5, row
        for block in mermaid_blocks(comment):
            assert_well_formed(block)
            event("a flowchart was drawn")
        if CUT in comment:
            event("a comment was cut")
    assert split_comments(render_markdown(plan, limit=limit)) == comments
    assert load_plan_json(render_json(plan)) == plan


# --- issue 23: words that mislead -------------------------------------------------------------
def rehearsed(cluster: ClusterPlan, outage_seconds: float = 290.0) -> ClusterPlan:
    """``cluster`` as ``--rehearse`` leaves it: converged on its twin, the outage modelled."""
    rehearsal = Rehearsal(
        converges=True,
        steps_run=len(cluster.steps),
        device_seconds=330.0,
        outage_seconds=outage_seconds,
    )
    return cluster.model_copy(update={"rehearsal": rehearsal})


def test_a_cluster_already_broken_is_said_on_the_first_line_after_the_markers() -> None:
    lines = only(lab_seed_plan()).split("\n")
    assert lines[:2] == [MARKER, cluster_marker("lab")]  # bots find the comment by these
    assert lines[2] == "### cms-reconciler plan for `lab`: already broken; 27 steps (reform)"
    assert lines[4] == LAB_BROKEN
    assert lines[5] == LAB_OUTAGE


def test_a_serving_cluster_has_no_such_line() -> None:
    markdown = only(reform_plan())
    assert "Already" not in markdown
    assert markdown.split("\n")[2] == "### cms-reconciler plan for `lab`: 18 steps (reform)"


def test_one_outage_line_says_which_figure_is_modelled_and_which_is_the_bound() -> None:
    markdown = only(lab_seed_plan(rehearsed(lab_seed_cluster())))
    said = [line for line in markdown.split("\n") if line.startswith("- ")]
    outage = [line for line in said if "outage" in line.lower()]
    assert outage == [
        "- **Outage:** cluster down from step 4 to step 27 (no master from step 6 until cms1 "
        "initializes at step 25): expected about 5 min (modelled); at most 43 min if every wait "
        "runs to its timeout. 3 nodes restart (cms1, cms2 and cms3)."
    ]
    assert (
        "- ✅ **Rehearsal:** rehearsed on a twin: converges in 27 steps, device work about "
        "6 min." in markdown
    )
