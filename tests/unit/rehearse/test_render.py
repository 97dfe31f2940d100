"""How a rehearsal is said: JSON, the verdict line, text and markdown."""

from __future__ import annotations

import io

from rich.console import Console

from reconciler.plan.models import Plan, Rehearsal, RehearsedNode
from reconciler.plan.render.json import load_plan_json, render_json
from reconciler.plan.render.markdown import render_markdown
from reconciler.plan.render.rehearsal import about, verdict
from reconciler.plan.render.text import render_text
from reconciler.rehearse.clock import TwinClock, VirtualTime
from tests.support.planning import NOW
from tests.unit.rehearse.scenarios import named

CONVERGES = Rehearsal(
    converges=True,
    steps_run=27,
    device_seconds=412.0,
    outage_seconds=300.0,
    final=[
        RehearsedNode(
            name="cms1", address="127.0.85.73", status="Enabled", role="master", in_sync=None
        ),
        RehearsedNode(
            name="cms2", address="127.0.85.74", status="Enabled", role="replica", in_sync=True
        ),
    ],
    assumptions=["the device's operations are modelled"],
)
FAILS = Rehearsal(
    converges=False,
    steps_run=23,
    problem="step 23 (join) on cms2 (10.0.0.2) failed: cms2: ended (Failed)\n  command: x",
)


def _plan(rehearsal: Rehearsal | None) -> Plan:
    cluster = named("02-seed-expired").plan.model_copy(update={"rehearsal": rehearsal})
    return Plan.model_validate(
        {
            "git": {"commit": "abc1234", "dirty": False},
            "created_at": "2026-11-27T07:40:00+00:00",
            "clusters": [cluster.model_dump()],
        }
    )


def test_the_verdict_line() -> None:
    # The modelled outage is the plan's outage line's (issue 23: one line, said as modelled).
    assert (
        verdict(CONVERGES) == "rehearsed on a twin: converges in 27 steps, device work about 7 min"
    )
    assert verdict(FAILS) == (
        "rehearsed on a twin: does NOT converge (23 steps run): step 23 (join) on cms2 "
        "(10.0.0.2) failed: cms2: ended (Failed)"
    )
    stays_up = CONVERGES.model_copy(update={"outage_seconds": 0.0, "steps_run": 8})
    assert "outage" not in verdict(stays_up)
    nothing = Rehearsal(converges=True, steps_run=0)
    assert verdict(nothing) == "rehearsed on a twin: converges with nothing to run"
    assert about(59) == "under a minute"
    assert about(7300) == "about 2 h 2 min"


def test_the_rehearsal_round_trips_through_a_plan_file_and_is_absent_unasked() -> None:
    plan = _plan(CONVERGES)
    text = render_json(plan)
    assert '"device_seconds": 412.0' in text
    assert load_plan_json(text) == plan
    assert '"rehearsal"' not in render_json(_plan(None))
    assert not plan.rehearsal_failed
    assert _plan(FAILS).rehearsal_failed


def test_text_shows_the_verdict_the_final_table_and_the_problem() -> None:
    out = io.StringIO()
    render_text(_plan(FAILS), Console(file=out, width=200))
    text = out.getvalue()
    assert "Rehearsed on a twin: does NOT converge (23 steps run): step 23" in text
    assert "  command: x" in text
    out = io.StringIO()
    render_text(_plan(CONVERGES), Console(file=out, width=200))
    text = out.getvalue()
    assert "Rehearsed on a twin: converges in 27 steps" in text
    assert "cms2  127.0.85.74  Enabled  replica  in sync" in text
    assert "assumed: the device's operations are modelled" in text


def test_markdown_says_the_verdict_and_folds_the_final_table() -> None:
    comment = render_markdown(_plan(CONVERGES))
    assert "- ✅ **Rehearsal:** rehearsed on a twin: converges in 27 steps" in comment
    assert "| cms1 | 127.0.85.73 | Enabled | master |  |" in comment
    head = comment.index("**Rehearsal:**")
    assert head < comment.index("<summary>Predicted final state (rehearsal)</summary>")
    failed = render_markdown(_plan(FAILS))
    assert "- ❌ **Rehearsal:** rehearsed on a twin: does NOT converge" in failed
    assert "**Rehearsal:**" not in render_markdown(_plan(None))


def test_virtual_time_always_moves() -> None:
    time = VirtualTime(TwinClock(NOW))
    time.sleep(300.0)
    before = time.now()
    time.sleep(1e-17)  # a few ulps: must still move, or a waiter for the rest would spin
    assert time.now() > before
    assert time.device.now() > NOW
