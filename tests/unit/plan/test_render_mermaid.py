"""The Mermaid flowchart of a plan's phases: well formed, labels safe, only where it helps."""

from __future__ import annotations

import re

from hypothesis import given
from hypothesis import strategies as st

from reconciler.plan.render.mermaid import MAX_PHASES, mermaid_block, mermaid_label, phases
from tests.unit.plan.test_render_plans import (
    blocked_cluster,
    converged_cluster,
    huge_cluster,
    reform_cluster,
    scenario_cluster,
)

SAFE_LABEL = re.compile(r"(?:[A-Za-z0-9 .,:_/()+-]|#\d+;|<br/>)*")
NODES_LINE = re.compile(r'  nodes\(\["(?P<label>[^"]*)"\]\):::nodes')
EDGE_LINE = re.compile(r'  (?P<source>\w+) --> (?P<target>p\d+)\["(?P<label>[^"]*)"\](:::\w+)?')
CLASS_LINE = re.compile(r"  classDef \w+ [\w:#,]+")


def mermaid_blocks(markdown: str) -> list[str]:
    """The contents of every ```mermaid block."""
    return re.findall(r"^```mermaid\n(.*?)^```$", markdown, flags=re.MULTILINE | re.DOTALL)


def assert_well_formed(block: str) -> list[str]:
    """Check the structure this renderer writes (a chain from the nodes box through the
    phases, then class definitions) and return the labels in order."""
    lines = block.rstrip("\n").split("\n")
    assert re.fullmatch(r"flowchart (LR|TD)", lines[0]), lines[0]
    first = NODES_LINE.fullmatch(lines[1])
    assert first is not None, lines[1]
    labels = [first.group("label")]
    previous = "nodes"
    rest = lines[2:]
    while rest and EDGE_LINE.fullmatch(rest[0]):
        edge = EDGE_LINE.fullmatch(rest.pop(0))
        assert edge is not None
        assert edge.group("source") == previous
        assert edge.group("target") == f"p{len(labels)}"
        previous = edge.group("target")
        labels.append(edge.group("label"))
    assert rest, "no class definitions"
    assert all(CLASS_LINE.fullmatch(line) for line in rest), rest
    for label in labels:
        assert SAFE_LABEL.fullmatch(label), label
    return labels


def test_a_rolling_plan_draws_one_node_at_a_time() -> None:
    block = mermaid_block(scenario_cluster("12-half-replica-old-certs"))
    assert block is not None
    assert block.startswith("```mermaid\nflowchart LR\n")
    assert assert_well_formed(block[len("```mermaid\n") : -len("```\n")]) == [
        "cluster lab<br/>cms1 10.0.0.1 (master)<br/>cms2 10.0.0.2<br/>cms3 10.0.0.3",
        "step 1<br/>backup cms2",
        "step 2<br/>remove cms2",
        "steps 3-7<br/>certificates cms2",
        "step 8<br/>join cms2",
    ]


def test_many_phases_run_top_to_bottom() -> None:
    rolling = scenario_cluster("12-half-replica-old-certs")
    again = [
        step.model_copy(update={"node": "10.0.0.3", "node_name": "cms3"})
        for step in rolling.steps[1:]
    ]
    steps = [
        step.model_copy(update={"id": number})
        for number, step in enumerate([*rolling.steps, *again], 1)
    ]
    block = mermaid_block(rolling.model_copy(update={"steps": steps}))
    assert block is not None
    assert block.startswith("```mermaid\nflowchart TD\n")
    assert len(assert_well_formed(block[len("```mermaid\n") : -len("```\n")])) == 1 + 7


def test_nothing_is_drawn_without_steps_or_with_too_many_phases() -> None:
    assert mermaid_block(converged_cluster()) is None
    assert mermaid_block(blocked_cluster()) is None
    assert len(phases(huge_cluster())) == 1  # 3000 uploads are one phase
    many = reform_cluster()
    steps = [
        step.model_copy(update={"id": number})
        for number, step in enumerate(many.steps * (MAX_PHASES // 4), 1)
    ]
    assert len(phases(many.model_copy(update={"steps": steps}))) > MAX_PHASES
    assert mermaid_block(many.model_copy(update={"steps": steps})) is None


def test_node_names_cannot_break_out_of_a_label() -> None:
    cluster = reform_cluster()
    hostile = '"] --> x["%%'
    steps = [step.model_copy(update={"node_name": hostile + "```"}) for step in cluster.steps]
    block = mermaid_block(cluster.model_copy(update={"steps": steps, "name": "a\nb"}))
    assert block is not None
    inner = block[len("```mermaid\n") : -len("```\n")]
    assert "```" not in inner
    labels = assert_well_formed(inner)
    assert "#34;#93; --#62; x#91;#34;#37;#37;#96;#96;#96;" in labels[1]


@given(text=st.text())
def test_mermaid_labels_are_safe_and_say_the_same(text: str) -> None:
    label = mermaid_label(text)
    assert SAFE_LABEL.fullmatch(label)
    assert re.sub(r"#(\d+);", lambda code: chr(int(code.group(1))), label) == text
