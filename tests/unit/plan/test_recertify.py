"""Issue 23, item 6: "converged" is judged from the files on disk, and says so; ``--recertify``.

``database cluster status`` names the files ``database cluster certs`` loaded, never their
content: a plan's "No changes" (and status's "healthy", tests/unit/live) carries that caveat in
its JSON and once in text, and ``plan --recertify`` plans a re-load of every node's
certificates with the rotation's own re-form (tests/plans/35-recertify-converged.yaml). The
end-to-end test against the simulator is tests/e2e/test_recertify.py.
"""

from __future__ import annotations

import io
import json
from pathlib import Path

import pytest
from rich.console import Console
from typer.testing import CliRunner

from reconciler.cli import app
from reconciler.errors import Refused
from reconciler.live.caveats import LOADED_CERTIFICATES
from reconciler.plan.models import Action, Plan, Strategy
from reconciler.plan.render import render_text
from reconciler.plan.render.json import load_plan_json, render_json
from reconciler.plan.render.markdown import render_markdown_comments
from reconciler.reconcile import ReconcileOptions, Terminal, plan_or_apply
from tests.unit.plan.test_render_plans import (
    lab_seed_plan,
    plan_of,
    renamed,
    scenario_cluster,
)

CAVEAT_KIND = "loaded_certificates_unverified"


def text_of(plan: Plan) -> str:
    buffer = io.StringIO()
    render_text(plan, Console(file=buffer, width=200, color_system=None))
    return buffer.getvalue()


def recertified(stem: str = "35-recertify-converged") -> Plan:
    return plan_of(scenario_cluster(stem)).model_copy(update={"recertify": True})


# --- the caveat --------------------------------------------------------------------------
@pytest.mark.reliability(
    section="truthful",
    case='plan: a converged cluster\'s "No changes" says, in its JSON and once in text, that '
    "it is judged from the files on disk, not from what `database cluster certs` loaded",
)
def test_no_changes_carries_the_caveat_in_json_and_once_in_text() -> None:
    converged = scenario_cluster("01-converged")
    assert converged.steps == []
    assert converged.caveats == [LOADED_CERTIFICATES]
    plan = plan_of(renamed(converged, "blue"), renamed(converged, "green"))
    data = json.loads(render_json(plan))
    for cluster in data["clusters"]:
        (caveat,) = cluster["caveats"]
        assert caveat["kind"] == CAVEAT_KIND
        assert "`database cluster certs`" in caveat["detail"]
        assert "reconcile plan --recertify" in caveat["detail"]
    assert load_plan_json(render_json(plan)) == plan
    text = text_of(plan)
    assert text.count("No changes.") == 2
    assert text.count("Note: certificates are judged from the files on each node") == 1
    assert text.rstrip().endswith("`reconcile plan --recertify` plans re-loading them.")


def test_a_plan_with_changes_or_blocked_has_no_caveat() -> None:
    assert scenario_cluster("03-same-ca-rotation").caveats == []
    blocked = scenario_cluster("15-unreachable-node")
    assert blocked.blocked
    assert blocked.caveats == []
    assert "Note:" not in text_of(plan_of(blocked))
    assert "Note:" not in text_of(lab_seed_plan())


def test_the_markdown_comment_of_a_converged_cluster_says_it_once() -> None:
    (comment,) = render_markdown_comments(plan_of(scenario_cluster("01-converged")))
    head = comment.split("<details>")[0]
    assert head.count("- **Note:** ") == 1
    assert "`database cluster certs`" in head  # a code span, not escaped backquotes
    assert "`reconcile plan --recertify`" in head
    (changes,) = render_markdown_comments(lab_seed_plan())
    assert "**Note:**" not in changes


# --- --recertify --------------------------------------------------------------------------
def test_recertify_is_the_rotations_reform_on_a_cluster_whose_files_match() -> None:
    cluster = recertified().clusters[0]
    assert cluster.strategy is Strategy.REFORM
    assert [step.action for step in cluster.steps if step.action is Action.UPLOAD] == []
    reloaded = [f.node for f in cluster.findings if f.what == "loaded_certificates"]
    assert reloaded == ["10.0.0.1", "10.0.0.2", "10.0.0.3"]
    authority = cluster.data_authority
    assert authority is not None
    assert authority.source == "10.0.0.1"
    assert not authority.master_change
    assert cluster.caveats == []


def test_the_plan_file_records_recertify() -> None:
    plan = recertified()
    data = json.loads(render_json(plan))
    assert data["recertify"] is True
    assert load_plan_json(render_json(plan)) == plan
    assert json.loads(render_json(lab_seed_plan()))["recertify"] is False
    older = json.loads(render_json(lab_seed_plan()))
    del older["recertify"]  # a plan file from before the option loads as made without it
    assert load_plan_json(json.dumps(older)).recertify is False


def test_text_and_markdown_say_recertify_and_what_merging_would_not_do() -> None:
    plan = recertified()
    text = text_of(plan)
    assert "Recertify: every node re-loads its certificates, even where its files already " in (
        text
    )
    assert "10.0.0.1 cms1 loaded_certificates: not shown by the device" in text
    (comment,) = render_markdown_comments(plan)
    assert "- **Recertify:** every node re-loads its certificates" in comment
    # The apply workflow plans the merged commit without --recertify: never promise these steps.
    assert "made without `--recertify`, that plan re-loads no certificates" in comment
    assert "the steps below, if the nodes are still as they were read" not in comment


@pytest.mark.reliability(
    section="truthful",
    case="apply --recertify with a plan file made without it is refused before any node is "
    "contacted (a file made with it needs no flag)",
)
def test_recertify_with_a_plan_file_made_without_it_is_refused(tmp_path: Path) -> None:
    saved = tmp_path / "plan.json"
    saved.write_text(render_json(lab_seed_plan()))
    options = ReconcileOptions(
        repo=tmp_path / "no-repository-here",  # refused before the repository is read
        clusters=(),
        apply=True,
        plan_file=saved,
        recertify=True,
        auto_approve=True,
    )
    terminal = Terminal(out=Console(file=io.StringIO()), err=Console(file=io.StringIO()), ask=None)
    with pytest.raises(Refused, match=r"--recertify does not match the plan file .*plan\.json"):
        plan_or_apply(options, {}, terminal)


@pytest.mark.parametrize("command", ["plan", "apply"])
def test_plan_and_apply_offer_recertify(command: str) -> None:
    result = CliRunner().invoke(app, [command, "--help"])
    assert result.exit_code == 0
    assert "--recertify" in result.output
